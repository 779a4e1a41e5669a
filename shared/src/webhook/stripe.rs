//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]` over
//! `{t}.{body}`. During a secret roll Stripe sends one `v1` per secret; one
//! valid signature suffices. Other schemes (`v0`, unknown ones), entries
//! without `=` and `v1` values that are not 32-byte hex are skipped; a
//! header without `t` or without any usable `v1` is malformed. The delivery
//! id is the event's `id`, the type its `type`.

use super::scheme::{Delivery, Rejection, Scheme, Verified, hex32, json_field, verify_any};

/// The Stripe scheme.
pub struct Stripe;

impl Scheme for Stripe {
    fn check(&self, d: &Delivery<'_>) -> Result<Verified, Rejection> {
        let value = d.header("stripe-signature")?;
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for item in value.split(',') {
            // Like Stripe's own libraries, take the `t` and the `v1` entries
            // and skip everything else: other schemes, entries without `=`,
            // and a `v1` that is not a 32-byte hex MAC (one usable `v1` is
            // enough; none at all is malformed, in `verify_any`).
            let Some((key, val)) = item.trim().split_once('=') else {
                continue;
            };
            match key {
                "t" if timestamp.is_none() => timestamp = Some(val),
                // Two timestamps: which one was signed is ambiguous.
                "t" => return Err(Rejection::MalformedSignature),
                "v1" => signatures.extend(hex32(val)),
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(Rejection::MalformedSignature)?;
        verify_any(
            &signatures,
            d.keys,
            timestamp,
            &format!("{timestamp}."),
            d.body,
            d.now,
        )?;
        let delivery_id = json_field(d.body, "id").ok_or(Rejection::MissingDeliveryId)?;
        Ok(Verified {
            delivery_id,
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

    const BODY: &str = r#"{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"payment_intent.succeeded"}"#;

    fn headers(value: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert("stripe-signature", value.parse().unwrap());
        h
    }

    /// Signs the way Stripe's libraries do (`stripe.webhooks.generateTestHeaderString`):
    /// HMAC-SHA256 of `{t}.{payload}`, hex.
    fn sign(secret: &[u8], t: i64, body: &str) -> String {
        hex::encode(SigningKey::new(secret).sign(&[format!("{t}.").as_bytes(), body.as_bytes()]))
    }

    #[test]
    fn a_stripe_signed_event_verifies_with_any_of_several_v1_signatures() {
        let key = SigningKey::new(b"whsec_test_secret");
        let good = sign(b"whsec_test_secret", 1_700_000_000, BODY);
        let other = sign(b"whsec_old_secret", 1_700_000_000, BODY);
        let h = headers(&format!(
            "t=1700000000,v1={other},v1={good},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"
        ));
        let v = Stripe
            .verify(
                &h,
                BODY.as_bytes(),
                std::slice::from_ref(&key),
                1_700_000_100,
            )
            .unwrap();
        assert_eq!(v.delivery_id, "evt_1NG8Du2eZvKYlo2CUI79vXWy");
        assert_eq!(v.event_type, "payment_intent.succeeded");
        let stale = Stripe.verify(
            &h,
            BODY.as_bytes(),
            std::slice::from_ref(&key),
            1_700_000_301,
        );
        assert_eq!(stale, Err(Rejection::Stale));
        let only_other = headers(&format!("t=1700000000,v1={other}"));
        assert_eq!(
            Stripe.verify(&only_other, BODY.as_bytes(), &[key], 1_700_000_000),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let key = SigningKey::new(b"k");
        let good = sign(b"k", 1_700_000_000, BODY);
        for value in [
            "garbage".to_owned(),
            format!("v1={good}"),
            "t=1700000000".to_owned(),
            format!("t=1700000000,t=1700000000,v1={good}"),
            format!("t=17x,v1={good}"),
            "t=1700000000,v1=abc".to_owned(),
        ] {
            let r = Stripe.verify(
                &headers(&value),
                BODY.as_bytes(),
                std::slice::from_ref(&key),
                1_700_000_000,
            );
            assert!(
                matches!(r, Err(Rejection::MalformedSignature)),
                "{value}: {r:?}"
            );
        }
    }

    #[test]
    fn unusable_entries_are_skipped_and_any_v1_may_match() {
        let key = SigningKey::new(b"k");
        let good = sign(b"k", 1_700_000_000, BODY);
        let wrong = sign(b"not-k", 1_700_000_000, BODY);
        let nonhex = "z".repeat(64);
        for value in [
            format!("t=1700000000,v1={wrong},v1={good}"),
            // A v1 that is not hex, or not 32 bytes of it, is skipped.
            format!("t=1700000000,v1={nonhex},v1={good}"),
            format!("t=1700000000,v1=zz,v1=,v1={good}"),
            // Other and unknown schemes, and entries without '=', are skipped.
            format!("t=1700000000,v0={good},v2={wrong},foo=bar,garbage,v1={good}"),
            format!("v1={good},foo=bar,t=1700000000"),
        ] {
            let r = Stripe.verify(
                &headers(&value),
                BODY.as_bytes(),
                std::slice::from_ref(&key),
                1_700_000_000,
            );
            assert!(r.is_ok(), "{value}: {r:?}");
        }
        for (value, expected) in [
            // The right MAC, but under v0: not a v1 signature.
            (
                format!("t=1700000000,v0={good}"),
                Rejection::MalformedSignature,
            ),
            (
                format!("t=1700000000,v1={nonhex},v2={good},foo=bar"),
                Rejection::MalformedSignature,
            ),
            (
                format!("t=1700000000,v1={nonhex},v1={wrong}"),
                Rejection::BadSignature,
            ),
            // No timestamp, however good the signature.
            (format!("foo=bar,v1={good}"), Rejection::MalformedSignature),
        ] {
            assert_eq!(
                Stripe.verify(
                    &headers(&value),
                    BODY.as_bytes(),
                    std::slice::from_ref(&key),
                    1_700_000_000,
                ),
                Err(expected),
                "{value}"
            );
        }
    }

    proptest! {
        #[test]
        fn the_header_parser_never_panics(value in "\\PC{0,200}", body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut h = http::HeaderMap::new();
            if let Ok(v) = value.parse() { h.insert("stripe-signature", v); }
            let _ = Stripe.verify(&h, &body, &[SigningKey::new(b"k")], 1_700_000_000);
        }

        #[test]
        fn structured_headers_never_panic(t in "[0-9x-]{0,14}", sigs in proptest::collection::vec("[0-9a-fA-F=,]{0,70}", 0..4)) {
            let value = format!("t={t},{}", sigs.iter().map(|s| format!("v1={s}")).collect::<Vec<_>>().join(","));
            let mut h = http::HeaderMap::new();
            if let Ok(v) = value.parse() { h.insert("stripe-signature", v); }
            let _ = Stripe.verify(&h, b"{}", &[SigningKey::new(b"k")], 1_700_000_000);
        }
    }
}
