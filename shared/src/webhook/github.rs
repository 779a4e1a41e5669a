//! GitHub: `X-Hub-Signature-256: sha256=<hex HMAC of the body>`, delivery id
//! in `X-GitHub-Delivery`, event type in `X-GitHub-Event`. GitHub signs no
//! timestamp, so replays are refused by the delivery id alone.

use super::scheme::{Delivery, Rejection, Scheme, Verified, header, hex32};

/// The GitHub scheme.
pub struct GitHub;

impl Scheme for GitHub {
    fn check(&self, d: &Delivery<'_>) -> Result<Verified, Rejection> {
        let signature = d.header("x-hub-signature-256")?;
        let hex = signature
            .strip_prefix("sha256=")
            .ok_or(Rejection::MalformedSignature)?;
        let expected = hex32(hex).ok_or(Rejection::MalformedSignature)?;
        if !d.keys.iter().any(|k| k.verify(&[d.body], &expected)) {
            return Err(Rejection::BadSignature);
        }
        let delivery_id = header(d.headers, "x-github-delivery")
            .filter(|id| !id.is_empty())
            .ok_or(Rejection::MissingDeliveryId)?;
        Ok(Verified {
            delivery_id: delivery_id.to_owned(),
            event_type: header(d.headers, "x-github-event")
                .unwrap_or("unknown")
                .to_owned(),
            challenge: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::SigningKey;
    use proptest::prelude::*;

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn githubs_published_example_verifies() {
        // From GitHub's "Validating webhook deliveries" documentation.
        let key = SigningKey::new(b"It's a Secret to Everybody");
        let h = headers(&[
            (
                "x-hub-signature-256",
                "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            ),
            ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
            ("x-github-event", "push"),
        ]);
        let v = GitHub
            .verify(&h, b"Hello, World!", std::slice::from_ref(&key), 0)
            .unwrap();
        assert_eq!(v.delivery_id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
        assert_eq!(v.event_type, "push");
        assert_eq!(
            GitHub.verify(&h, b"Hello, World?", &[key], 0),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn a_signature_of_another_form_is_malformed() {
        let key = SigningKey::new(b"It's a Secret to Everybody");
        let hex = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        // GitHub sends one SHA-256 signature: the right MAC under any other
        // prefix (the legacy `X-Hub-Signature: sha1=` form included) is
        // refused, not tried.
        for sig in [
            format!("sha1={hex}"),
            format!("sha512={hex}"),
            format!("SHA256={hex}"),
            format!("v0={hex}"),
            hex.to_owned(),
            format!("sha256={hex},sha256={hex}"),
            format!("sha256={}", &hex[..62]),
            format!("sha256={}", "z".repeat(64)),
            "sha256=".to_owned(),
            "=".to_owned(),
        ] {
            let h = headers(&[
                ("x-hub-signature-256", sig.as_str()),
                ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
            ]);
            assert_eq!(
                GitHub.verify(&h, b"Hello, World!", std::slice::from_ref(&key), 0),
                Err(Rejection::MalformedSignature),
                "{sig}"
            );
        }
    }

    proptest! {
        #[test]
        fn the_header_parser_never_panics(sig in "\\PC{0,100}", id in "[ -~]{0,80}", body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut h = http::HeaderMap::new();
            if let Ok(v) = sig.parse() { h.insert("x-hub-signature-256", v); }
            if let Ok(v) = id.parse() { h.insert("x-github-delivery", v); }
            let _ = GitHub.verify(&h, &body, &[SigningKey::new(b"k")], 0);
            let prefixed = format!("sha256={sig}");
            if let Ok(v) = prefixed.parse() { h.insert("x-hub-signature-256", v); }
            let _ = GitHub.verify(&h, &body, &[SigningKey::new(b"k")], 0);
        }
    }
}
