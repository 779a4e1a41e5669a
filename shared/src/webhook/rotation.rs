//! Rotating a webhook source's secret in the sources document (the JSON
//! array `[{"name", "scheme", "secrets": [...]}]` that `webhook-receive`
//! reads from Secrets Manager), for `warden webhooks set-secret`.
//!
//! A delivery verifies when its signature matches any of the source's
//! secrets, so a rotation keeps exactly two: the new secret first, then the
//! one that was first before it (deliveries the provider signed before it
//! switched still verify). Any older secret goes: a rotated-out secret
//! really stops working once the provider has moved on.

use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;

use super::{SchemeKind, Sources};
use crate::{Error, Result};

/// The sources document after [`set_source_secret`].
#[derive(Debug)]
pub struct SecretChange {
    /// The whole new document, to be put as the secret's new version.
    pub document: SecretString,
    /// The source's scheme.
    pub scheme: SchemeKind,
    /// Whether the source was added (it did not exist).
    pub created: bool,
    /// Whether a previous secret was kept beside the new one.
    pub kept_previous: bool,
    /// How many older secrets were dropped.
    pub dropped: usize,
}

/// Sets `secret` as the current secret of `source` in `document`, keeping
/// the source's current secret as the previous one and dropping any other.
/// A source that does not exist is an error, unless `scheme` is given: then
/// it is added with that scheme. A `scheme` that differs from an existing
/// source's is an error (a scheme change is not a rotation). The new
/// document is validated exactly as `webhook-receive` parses it at start-up
/// ([`Sources::from_json`]): a Standard Webhooks secret must be
/// `whsec_<base64>`, no secret may be empty.
pub fn set_source_secret(
    document: &str,
    source: &str,
    secret: &SecretString,
    scheme: Option<SchemeKind>,
) -> Result<SecretChange> {
    let mut sources: Vec<Value> = serde_json::from_str(document).map_err(|e| {
        // Never serde's own message: it quotes the value it stumbled on.
        Error::Config(format!(
            "the webhook sources secret is not a JSON array of sources: {}",
            crate::http::without_values(&e.to_string())
        ))
    })?;
    let value = secret.expose_secret();
    let position = sources
        .iter()
        .position(|s| s.get("name").and_then(Value::as_str).map(str::trim) == Some(source));
    let change = match position {
        Some(i) => {
            let entry = sources[i].as_object_mut().ok_or_else(|| {
                Error::Config(format!("webhook source {source:?} is not an object"))
            })?;
            let existing: SchemeKind = entry
                .get("scheme")
                .cloned()
                .and_then(|s| serde_json::from_value(s).ok())
                .ok_or_else(|| {
                    Error::Config(format!("webhook source {source:?} has no valid scheme"))
                })?;
            if let Some(asked) = scheme.filter(|s| *s != existing) {
                return Err(Error::BadRequest(format!(
                    "webhook source {source:?} uses the {} scheme, not {}; a scheme change is not a rotation",
                    existing.as_str(),
                    asked.as_str()
                )));
            }
            let old: Vec<String> = match entry.get("secrets") {
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|s| s.as_str().map(str::to_owned))
                    .collect::<Option<_>>()
                    .ok_or_else(|| {
                        Error::Config(format!(
                            "webhook source {source:?}: a secret is not a string"
                        ))
                    })?,
                None => Vec::new(),
                Some(_) => {
                    return Err(Error::Config(format!(
                        "webhook source {source:?}: secrets is not an array"
                    )));
                }
            };
            if old.first().map(String::as_str) == Some(value) {
                return Err(Error::Conflict(format!(
                    "that is already the current secret of webhook source {source:?}"
                )));
            }
            let mut secrets = vec![Value::String(value.to_owned())];
            if let Some(current) = old.first() {
                secrets.push(Value::String(current.clone()));
            }
            entry.insert("secrets".into(), Value::Array(secrets));
            SecretChange {
                document: SecretString::from(String::new()),
                scheme: existing,
                created: false,
                kept_previous: !old.is_empty(),
                dropped: old.len().saturating_sub(1),
            }
        }
        None => {
            let Some(scheme) = scheme else {
                let mut names: Vec<&str> = sources
                    .iter()
                    .filter_map(|s| s.get("name").and_then(Value::as_str))
                    .collect();
                names.sort_unstable();
                return Err(Error::NotFound(format!(
                    "no webhook source {source:?} (configured: {}); pass --scheme to add it",
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                )));
            };
            sources.push(serde_json::json!({
                "name": source,
                "scheme": scheme.as_str(),
                "secrets": [value],
            }));
            SecretChange {
                document: SecretString::from(String::new()),
                scheme,
                created: true,
                kept_previous: false,
                dropped: 0,
            }
        }
    };
    let text = Value::Array(sources).to_string();
    // Exactly what webhook-receive will do with it at its next read.
    Sources::from_json(&text)?;
    Ok(SecretChange {
        document: SecretString::from(text),
        ..change
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets_of(doc: &SecretString, source: &str) -> Vec<String> {
        let v: Vec<Value> = serde_json::from_str(doc.expose_secret()).unwrap();
        let s = v.iter().find(|s| s["name"] == source).unwrap();
        s["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_owned())
            .collect()
    }

    fn set(
        doc: &str,
        source: &str,
        secret: &str,
        scheme: Option<SchemeKind>,
    ) -> Result<SecretChange> {
        set_source_secret(doc, source, &SecretString::from(secret.to_owned()), scheme)
    }

    const DOC: &str = r#"[{"name": "gh", "scheme": "github", "secrets": ["s1", "s0", "older"]},
                         {"name": "pay", "scheme": "stripe", "secrets": ["whsec_x"]}]"#;

    #[test]
    fn a_rotation_keeps_the_new_secret_and_the_current_one_only() {
        let change = set(DOC, "gh", "s2", None).unwrap();
        assert_eq!(secrets_of(&change.document, "gh"), ["s2", "s1"]);
        assert!(change.kept_previous && !change.created);
        assert_eq!(change.dropped, 2);
        let again = set(change.document.expose_secret(), "gh", "s3", None).unwrap();
        assert_eq!(secrets_of(&again.document, "gh"), ["s3", "s2"]);
        // Other sources are untouched.
        assert_eq!(secrets_of(&again.document, "pay"), ["whsec_x"]);
    }

    #[test]
    fn a_document_with_a_field_webhook_receive_does_not_know_is_refused() {
        // webhook-receive refuses it (`SourceConfig` denies unknown
        // fields), so a rotation must not write it back.
        let doc =
            r#"[{"name": "gh", "scheme": "github", "secrets": ["s1"], "note": "whsec_leaked"}]"#;
        let err = set(doc, "gh", "s2", None).unwrap_err().to_string();
        assert!(err.contains("unknown field `note`"), "{err}");
        assert!(!err.contains("whsec_leaked"), "{err}");
    }

    #[test]
    fn a_document_that_is_not_a_list_of_sources_is_refused_without_quoting_it() {
        let err = set(r#""whsec_leaked_value""#, "gh", "s2", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid type: string"), "{err}");
        assert!(!err.contains("whsec_leaked_value"), "{err}");
    }

    #[test]
    fn an_unknown_source_is_refused_unless_a_scheme_adds_it() {
        let err = set(DOC, "slack", "s", None).unwrap_err().to_string();
        assert!(err.contains("gh, pay") && err.contains("--scheme"), "{err}");
        let change = set(DOC, "slack", "s", Some(SchemeKind::Slack)).unwrap();
        assert!(change.created);
        assert_eq!(secrets_of(&change.document, "slack"), ["s"]);
        let err = set(DOC, "gh", "s9", Some(SchemeKind::Stripe))
            .unwrap_err()
            .to_string();
        assert!(err.contains("github"), "{err}");
    }

    #[test]
    fn the_secret_is_validated_as_webhook_receive_parses_it() {
        let doc = r#"[{"name": "std", "scheme": "standard", "secrets": ["whsec_c2VjcmV0"]}]"#;
        let err = set(doc, "std", "not-whsec", None).unwrap_err().to_string();
        assert!(err.contains("whsec_"), "{err}");
        let err = set(doc, "std", "whsec_%%%", None).unwrap_err().to_string();
        assert!(err.contains("base64"), "{err}");
        assert!(set(doc, "std", "whsec_bmV3LXNlY3JldA==", None).is_ok());
        assert!(set(DOC, "gh", "  ", None).is_err(), "an empty secret");
        assert!(set(DOC, "gh", "s1", None).is_err(), "the current one again");
        assert!(set("{}", "gh", "s", None).is_err(), "not an array");
    }
}
