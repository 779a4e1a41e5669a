//! The audit ledger's leaves: each event's canonical form and its Merkle
//! leaf hash ([`super::merkle`]).
//!
//! The canonical form is the RFC 8785 (JCS) serialization of the whole
//! event as it is stored, less the storage's own partition attribute: every
//! field (id, time, type, severity, actor, subject, origin, details,
//! `expires_at`) takes part, so a change to any of them changes the leaf.
//! JCS fixes member order, number and string forms, so the bytes do not
//! depend on which writer or which reader serialized the event.

use serde_json::Value;

use crate::agents::jcs;
use crate::audit::AuditEvent;
use crate::audit::merkle::{Hash, leaf_hash};
use crate::{Error, Result};

/// The canonical form of `event`: JCS of its stored JSON.
pub fn canonical(event: &AuditEvent) -> Result<String> {
    canonical_value(to_value(event)?, &event.event_id)
}

/// The canonical form of `event` without its `mac`: what the MAC covers.
pub fn canonical_unsealed(event: &AuditEvent) -> Result<String> {
    let mut value = to_value(event)?;
    if let Some(map) = value.as_object_mut() {
        map.remove("mac");
    }
    canonical_value(value, &event.event_id)
}

fn to_value(event: &AuditEvent) -> Result<Value> {
    serde_json::to_value(event)
        .map_err(|e| Error::internal(format!("serializing audit event: {e}")))
}

/// JCS of `value`. Most events hold only ASCII member names and integers
/// within ±2^53: then serde_json's compact text of the value (its maps
/// sort their keys, and it escapes strings as JCS does) is already the JCS
/// form, and the parse and rewrite (most of the cost) are skipped; any
/// other value goes through [`jcs::canonicalize`]. A test holds the two
/// equal.
fn canonical_value(value: Value, event_id: &str) -> Result<String> {
    let text = serde_json::to_string(&value)
        .map_err(|e| Error::internal(format!("serializing audit event: {e}")))?;
    if is_plain(&value) {
        return Ok(text);
    }
    jcs::canonicalize(&text, "$")
        .map_err(|e| Error::internal(format!("audit event {event_id} has no canonical form: {e}")))
}

/// Whether JCS would write `value` as serde_json does: member names ASCII
/// (their UTF-8 order is their UTF-16 order), numbers integers JCS keeps
/// exact.
fn is_plain(value: &Value) -> bool {
    const EXACT: u64 = 1 << 53;
    match value {
        Value::Number(n) => {
            n.as_u64().is_some_and(|u| u <= EXACT)
                || n.as_i64().is_some_and(|i| i.unsigned_abs() <= EXACT)
        }
        Value::Object(map) => map.iter().all(|(k, v)| k.is_ascii() && is_plain(v)),
        Value::Array(items) => items.iter().all(is_plain),
        Value::Null | Value::Bool(_) | Value::String(_) => true,
    }
}

/// The Merkle leaf of `event`: `SHA-256(0x00 || canonical(event))`.
pub fn leaf(event: &AuditEvent) -> Result<Hash> {
    Ok(leaf_hash(canonical(event)?.as_bytes()))
}

/// The time `event`'s id was made for (a ULID's milliseconds), which its
/// `at_millis` must equal; `i64::MIN` for an id that is not a ULID.
pub fn id_time(event: &AuditEvent) -> i64 {
    ulid::Ulid::from_string(&event.event_id)
        .ok()
        .and_then(|id| i64::try_from(id.timestamp_ms()).ok())
        .unwrap_or(i64::MIN)
}

/// Where `event` is out of place, if it is: the partition it was found in
/// (`found_in`) is not its own, or its id was not made for its time.
pub fn misplacement(event: &AuditEvent, found_in: Option<&str>) -> Option<String> {
    if let Some(bucket) = found_in {
        return Some(format!(
            "it is stored in partition {bucket}, not {}",
            event.bucket()
        ));
    }
    (id_time(event) != event.at_millis).then(|| "its id was not made at its time".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{EventType, Origin, Severity};

    fn event() -> AuditEvent {
        AuditEvent::new(
            EventType::LoginFailed,
            Severity::Warning,
            Origin::Cli {
                operator: "local".into(),
            },
            1_765_000_000_123,
            365,
        )
        .actor("user:01M97PSWY7QDCFXMGZ5RTRGH3Z")
        .subject("alice")
        .detail("reason", "bad_password")
        .detail("consecutive_failures", 3)
    }

    #[test]
    fn the_canonical_form_is_jcs_sorted_and_compact() {
        let event = event();
        let text = canonical(&event).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "members in code point order");
        assert!(!text.contains(": ") && !text.contains(", "), "{text}");
        // Stable: the event read back from its canonical form (as a
        // verifier reads it from the table) gives the same bytes.
        let read_back: AuditEvent = serde_json::from_str(&text).unwrap();
        assert_eq!(read_back, event);
        assert_eq!(canonical(&read_back).unwrap(), text);
    }

    /// The fast path (serde_json's text of a plain value) and JCS agree on
    /// every event they both take, strings of every kind included.
    #[test]
    fn the_fast_canonical_form_is_the_jcs_form() {
        let strings = [
            "plain",
            "quote \" backslash \\ slash /",
            "controls \u{0} \u{8} \t \n \u{b} \u{c} \r \u{1f} \u{7f}",
            "unicode é 中文 😀 \u{2028} \u{2029} \u{feff}",
            "",
        ];
        for (i, text) in strings.iter().enumerate() {
            let e = event()
                .detail("text", *text)
                .detail("nested", serde_json::json!({"b": [1, -2, 9_007_199_254_740_992_i64], "a": {"z": null, "y": true}}))
                .detail("big", 9_007_199_254_740_992_u64)
                .subject(*text);
            let value = serde_json::to_value(&e).unwrap();
            assert!(is_plain(&value), "{i}");
            let fast = canonical(&e).unwrap();
            let jcs = jcs::canonicalize(&serde_json::to_string(&value).unwrap(), "$").unwrap();
            assert_eq!(fast, jcs, "{i}: {text:?}");
        }
        // Fractions, large integers and non-ASCII member names take the
        // JCS path.
        for detail in [
            serde_json::json!(12.5),
            serde_json::json!(1e21),
            serde_json::json!(9_007_199_254_740_993_u64),
            serde_json::json!({"é": 1, "z": 2}),
        ] {
            let e = event().detail("odd", detail.clone());
            assert!(!is_plain(&serde_json::to_value(&e).unwrap()), "{detail}");
            let text = serde_json::to_string(&e).unwrap();
            if let Ok(jcs) = jcs::canonicalize(&text, "$") {
                assert_eq!(canonical(&e).unwrap(), jcs, "{detail}");
            }
        }
    }

    #[test]
    fn a_change_to_any_field_changes_the_leaf() {
        let base = event();
        let leaf_of = |e: &AuditEvent| leaf(e).unwrap();
        let original = leaf_of(&base);
        let mut changed = Vec::new();
        let mut e = base.clone();
        e.event_id.push('0');
        changed.push(e);
        let mut e = base.clone();
        e.at_millis += 1;
        changed.push(e);
        let mut e = base.clone();
        e.event_type = EventType::LoginSuccess;
        changed.push(e);
        let mut e = base.clone();
        e.severity = Severity::Info;
        changed.push(e);
        changed.push(base.clone().actor("user:someone-else"));
        changed.push(base.clone().subject("bob"));
        let mut e = base.clone();
        e.origin = Origin::Cli {
            operator: "arn:aws:iam::1:user/x".into(),
        };
        changed.push(e);
        changed.push(base.clone().detail("consecutive_failures", 4));
        let mut e = base.clone();
        e.expires_at += 1;
        changed.push(e);
        for (i, e) in changed.iter().enumerate() {
            assert_ne!(leaf_of(e), original, "change {i} kept the leaf");
        }
    }
}
