//! Standard Webhooks (Svix style): headers `webhook-id`, `webhook-timestamp`
//! and `webhook-signature: v1,<base64> [v1,<base64> ...]` (space separated),
//! signed over `{id}.{timestamp}.{body}` with the key that a
//! `whsec_<base64>` secret decodes to. One valid `v1` suffices; entries of
//! other versions (e.g. asymmetric `v1a`), without a comma, or whose base64
//! is not a 32-byte MAC are skipped. A header with no usable `v1` entry is
//! malformed; usable entries of which none matches are a bad signature.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::scheme::{Delivery, Rejection, Scheme, Verified, json_field, verify_any};

/// The Standard Webhooks scheme.
pub struct Standard;

impl Scheme for Standard {
    fn check(&self, d: &Delivery<'_>) -> Result<Verified, Rejection> {
        let id = d.header("webhook-id")?;
        let timestamp = d.header("webhook-timestamp")?;
        let value = d.header("webhook-signature")?;
        if id.is_empty() {
            return Err(Rejection::MissingDeliveryId);
        }
        // Senders rotate by listing several signatures, possibly of other
        // versions or from libraries we do not know: an entry that is not a
        // usable `v1` is skipped, never fatal. Only a list with no usable
        // entry at all is malformed (`verify_any`).
        let signatures: Vec<Vec<u8>> = value
            .split_whitespace()
            .filter_map(|item| {
                let (version, sig) = item.split_once(',')?;
                if version != "v1" {
                    return None;
                }
                BASE64.decode(sig).ok().filter(|bytes| bytes.len() == 32)
            })
            .collect();
        verify_any(
            &signatures,
            d.keys,
            timestamp,
            &format!("{id}.{timestamp}."),
            d.body,
            d.now,
        )?;
        Ok(Verified {
            delivery_id: id.to_owned(),
            event_type: json_field(d.body, "type").unwrap_or_else(|| "unknown".into()),
            challenge: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::SigningKey;
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
        assert!(
            Standard
                .verify(
                    &h,
                    br#"{"test": 2432232314}"#,
                    &[example_key()],
                    1_614_265_330
                )
                .is_ok()
        );
    }

    /// The specification example's valid signature, for `EXAMPLE_BODY`.
    const RIGHT: &str = "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const EXAMPLE_BODY: &[u8] = br#"{"test": 2432232314}"#;

    fn verify_list(list: &str) -> Result<Verified, Rejection> {
        Standard.verify(
            &headers("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", list),
            EXAMPLE_BODY,
            &[example_key()],
            1_614_265_330,
        )
    }

    #[test]
    fn unusable_entries_before_the_right_one_are_skipped() {
        for list in [
            // A v1 whose base64 decodes, but not to a 32-byte MAC ("foobar").
            format!("v1,Zm9vYmFy v1,{RIGHT}"),
            // Another version, even carrying a MAC-sized value.
            format!("v2,{RIGHT} v1,{RIGHT}"),
            format!("v1a,c29tZXRoaW5n v2,Zm9vYmFy v1,{RIGHT}"),
            // Base64 that does not decode.
            format!("v1,!!!notbase64 v1,{RIGHT}"),
            // No comma at all, or an empty value.
            format!("garbage v1, v1,{RIGHT}"),
            // The right one first, garbage after.
            format!("v1,{RIGHT} v1,!!! nocomma"),
        ] {
            assert!(
                verify_list(&list).is_ok(),
                "{list}: {:?}",
                verify_list(&list)
            );
        }
    }

    #[test]
    fn a_list_without_a_usable_entry_is_malformed_and_one_without_a_match_is_bad() {
        for list in [
            "v1,Zm9vYmFy".to_owned(),
            "v1,!!!notbase64 nocomma v1a,c29tZXRoaW5n".to_owned(),
            // A right MAC under another version is not a v1 signature.
            format!("v2,{RIGHT}"),
            format!("V1,{RIGHT}"),
            "v1,".to_owned(),
            ",".to_owned(),
        ] {
            assert_eq!(
                verify_list(&list),
                Err(Rejection::MalformedSignature),
                "{list}"
            );
        }
        for list in [
            "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            // Garbage beside a well-formed wrong one: still a bad signature.
            "v1,Zm9vYmFy v2,x v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            assert_eq!(verify_list(list), Err(Rejection::BadSignature), "{list}");
        }
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
