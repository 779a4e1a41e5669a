//! Slack: `X-Slack-Signature: v0=<hex>` over `v0:{X-Slack-Request-Timestamp}:{body}`.
//! The delivery id is the body's `event_id` (Events API), else the
//! timestamp and signature (slash commands and interactions carry no id).
//! `url_verification` is answered with its challenge after verification.

use super::scheme::{Delivery, Rejection, Scheme, Verified, check_timestamp, hex32, json_field};

/// The Slack scheme.
pub struct Slack;

impl Scheme for Slack {
    fn check(&self, d: &Delivery<'_>) -> Result<Verified, Rejection> {
        let signature = d.header("x-slack-signature")?;
        let timestamp = d.header("x-slack-request-timestamp")?;
        let hex = signature
            .strip_prefix("v0=")
            .ok_or(Rejection::MalformedSignature)?;
        let expected = hex32(hex).ok_or(Rejection::MalformedSignature)?;
        check_timestamp(timestamp, d.now)?;
        let prefix = format!("v0:{timestamp}:");
        if !d
            .keys
            .iter()
            .any(|k| k.verify(&[prefix.as_bytes(), d.body], &expected))
        {
            return Err(Rejection::BadSignature);
        }
        let kind = json_field(d.body, "type");
        if kind.as_deref() == Some("url_verification") {
            let challenge = json_field(d.body, "challenge").ok_or(Rejection::MissingDeliveryId)?;
            return Ok(Verified {
                delivery_id: format!("url_verification-{timestamp}"),
                event_type: "url_verification".into(),
                challenge: Some(challenge),
            });
        }
        let event_type = match (kind, inner_event_type(d.body)) {
            (Some(outer), Some(inner)) if outer == "event_callback" => inner,
            (Some(outer), _) => outer,
            (None, _) => "interaction".into(),
        };
        // Without an event id (slash commands, interactions), the id is the
        // timestamp and the signature bytes, re-encoded: hex decoding ignores
        // case, so the hex as sent would let a replay with its case changed
        // pass as a new delivery.
        let delivery_id = json_field(d.body, "event_id")
            .unwrap_or_else(|| format!("{timestamp}-{}", ::hex::encode(&expected)));
        Ok(Verified {
            delivery_id,
            event_type,
            challenge: None,
        })
    }
}

fn inner_event_type(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("event")?.get("type")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::SigningKey;
    use proptest::prelude::*;

    fn headers(signature: &str, timestamp: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert("x-slack-signature", signature.parse().unwrap());
        h.insert("x-slack-request-timestamp", timestamp.parse().unwrap());
        h
    }

    const EXAMPLE_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";

    #[test]
    fn slacks_published_example_verifies() {
        // From Slack's "Verifying requests from Slack" documentation.
        let key = SigningKey::new(b"8f742231b10e8888abcd99yyyzzz85a5");
        let h = headers(
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
            "1531420618",
        );
        let v = Slack
            .verify(
                &h,
                EXAMPLE_BODY.as_bytes(),
                std::slice::from_ref(&key),
                1_531_420_618 + 10,
            )
            .unwrap();
        assert!(v.delivery_id.starts_with("1531420618-"));
        // The same request six minutes later is stale.
        let late = Slack.verify(&h, EXAMPLE_BODY.as_bytes(), &[key], 1_531_420_618 + 301);
        assert_eq!(late, Err(Rejection::Stale));
    }

    #[test]
    fn url_verification_returns_its_challenge_and_events_their_id() {
        let key = SigningKey::new(b"secret");
        let sign = |body: &str| {
            format!(
                "v0={}",
                hex::encode(key.sign(&[b"v0:1000:", body.as_bytes()]))
            )
        };
        let body = r#"{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#;
        let v = Slack
            .verify(
                &headers(&sign(body), "1000"),
                body.as_bytes(),
                std::slice::from_ref(&key),
                1000,
            )
            .unwrap();
        assert_eq!(
            v.challenge.as_deref(),
            Some("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
        );
        let body = r#"{"type":"event_callback","event_id":"Ev123","event":{"type":"app_mention"}}"#;
        let v = Slack
            .verify(&headers(&sign(body), "1000"), body.as_bytes(), &[key], 1000)
            .unwrap();
        assert_eq!(
            (v.delivery_id.as_str(), v.event_type.as_str()),
            ("Ev123", "app_mention")
        );
    }

    #[test]
    fn a_signature_of_another_form_is_malformed() {
        let key = SigningKey::new(b"secret");
        let body = br#"{"type":"event_callback","event_id":"Ev1"}"#;
        let hex = hex::encode(key.sign(&[b"v0:1000:", body]));
        // Slack sends one signature: a right MAC under any prefix but
        // `v0=` is refused, not tried.
        for sig in [
            format!("v1={hex}"),
            format!("V0={hex}"),
            format!("sha256={hex}"),
            hex.clone(),
            format!("v0={hex} v0={hex}"),
            format!("v0={hex},v0={hex}"),
            format!("v0={}", &hex[..62]),
            format!("v0={}", "z".repeat(64)),
            "v0=".to_owned(),
            "=".to_owned(),
        ] {
            assert_eq!(
                Slack.verify(
                    &headers(&sig, "1000"),
                    body,
                    std::slice::from_ref(&key),
                    1000
                ),
                Err(Rejection::MalformedSignature),
                "{sig}"
            );
        }
        assert!(
            Slack
                .verify(&headers(&format!("v0={hex}"), "1000"), body, &[key], 1000)
                .is_ok()
        );
    }

    proptest! {
        #[test]
        fn the_header_parser_never_panics(sig in "\\PC{0,100}", ts in "\\PC{0,20}", body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut h = http::HeaderMap::new();
            if let Ok(v) = sig.parse() { h.insert("x-slack-signature", v); }
            if let Ok(v) = ts.parse() { h.insert("x-slack-request-timestamp", v); }
            let _ = Slack.verify(&h, &body, &[SigningKey::new(b"k")], 1000);
            let prefixed = format!("v0={sig}");
            if let Ok(v) = prefixed.parse() { h.insert("x-slack-signature", v); }
            let _ = Slack.verify(&h, &body, &[SigningKey::new(b"k")], 1000);
        }
    }

    #[test]
    fn a_replay_with_the_signature_in_other_case_has_the_same_delivery_id() {
        let key = SigningKey::new(b"secret");
        let now = 1_700_000_000;
        let body = b"command=%2Fdeploy&text=prod";
        let mac = ::hex::encode(key.sign(&[format!("v0:{now}:").as_bytes(), body]));
        let id = |sig: &str| {
            let mut h = http::HeaderMap::new();
            h.insert(
                "x-slack-request-timestamp",
                now.to_string().parse().unwrap(),
            );
            h.insert("x-slack-signature", format!("v0={sig}").parse().unwrap());
            Slack
                .verify(&h, body, std::slice::from_ref(&key), now)
                .unwrap()
                .delivery_id
        };
        assert_eq!(id(&mac), id(&mac.to_uppercase()));
    }
}
