//! Standard Webhooks (Svix style): headers `webhook-id`, `webhook-timestamp`
//! and `webhook-signature: v1,<base64> [v1,<base64> ...]` (space separated),
//! signed over `{id}.{timestamp}.{body}` with the key that a
//! `whsec_<base64>` secret decodes to. One valid `v1` suffices; other
//! versions (e.g. asymmetric `v1a`) are ignored.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::{header, json_field, verify_any, Rejection, Scheme, SigningKey, Verified};

/// The Standard Webhooks scheme.
#[derive(Debug, Clone, Copy)]
pub struct Standard;

impl Scheme for Standard {
    fn verify(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        keys: &[SigningKey],
        now: i64,
    ) -> Result<Verified, Rejection> {
        let id = header(headers, "webhook-id").ok_or(Rejection::MissingSignature)?;
        let timestamp = header(headers, "webhook-timestamp").ok_or(Rejection::MissingSignature)?;
        let value = header(headers, "webhook-signature").ok_or(Rejection::MissingSignature)?;
        if id.is_empty() {
            return Err(Rejection::MissingDeliveryId);
        }
        let mut signatures = Vec::new();
        for item in value.split_whitespace() {
            let (version, sig) = item.split_once(',').ok_or(Rejection::MalformedSignature)?;
            if version == "v1" {
                let bytes = BASE64
                    .decode(sig)
                    .map_err(|_| Rejection::MalformedSignature)?;
                if bytes.len() != 32 {
                    return Err(Rejection::MalformedSignature);
                }
                signatures.push(bytes);
            }
        }
        verify_any(
            &signatures,
            keys,
            timestamp,
            &format!("{id}.{timestamp}."),
            body,
            now,
        )?;
        Ok(Verified {
            delivery_id: id.to_owned(),
            event_type: json_field(body, "type").unwrap_or_else(|| "unknown".into()),
            challenge: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn headers(id: &str, ts: &str, sig: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert("webhook-id", id.parse().unwrap());
        h.insert("webhook-timestamp", ts.parse().unwrap());
        h.insert("webhook-signature", sig.parse().unwrap());
        h
    }

    fn example_key() -> SigningKey {
        // whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, the specification's example secret.
        SigningKey::new(&BASE64.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap())
    }

    #[test]
    fn the_specifications_example_verifies() {
        let h = headers(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        );
        let body = br#"{"test": 2432232314}"#;
        let v = Standard
            .verify(&h, body, &[example_key()], 1_614_265_330)
            .unwrap();
        assert_eq!(v.delivery_id, "msg_p5jXN8AQM9LWM0D4loKWxJek");
        assert_eq!(
            Standard.verify(
                &h,
                br#"{"test": 2432232315}"#,
                &[example_key()],
                1_614_265_330
            ),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            Standard.verify(&h, body, &[example_key()], 1_614_265_330 + 301),
            Err(Rejection::Stale)
        );
        assert_eq!(
            Standard.verify(&h, body, &[example_key()], 1_614_265_330 - 301),
            Err(Rejection::Stale)
        );
    }

    #[test]
    fn one_valid_signature_among_several_suffices() {
        let h = headers(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            "v1a,c29tZXRoaW5n v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        );
        assert!(Standard
            .verify(
                &h,
                br#"{"test": 2432232314}"#,
                &[example_key()],
                1_614_265_330
            )
            .is_ok());
    }

    proptest! {
        #[test]
        fn the_header_parser_never_panics(id in "\\PC{0,40}", ts in "\\PC{0,20}", sig in "\\PC{0,120}", body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut h = http::HeaderMap::new();
            for (name, value) in [("webhook-id", &id), ("webhook-timestamp", &ts), ("webhook-signature", &sig)] {
                if let Ok(v) = value.parse() { h.insert(name, v); }
            }
            let _ = Standard.verify(&h, &body, &[example_key()], 1_614_265_330);
        }
    }
}
