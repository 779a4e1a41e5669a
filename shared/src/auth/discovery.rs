//! What token verifiers read before they verify anything (API.md
//! "Discovery and keys"): the authorization server metadata (served at
//! both OpenID Connect's and RFC 8414's well-known paths), the key set
//! (RFC 7517) and the protected resource metadata (RFC 9728). Every URL is
//! built from the issuer, an origin with no path, so the well-known paths
//! of all three standards coincide.
//!
//! The metadata lists exactly what Warden has, so that no client is led
//! to a flow it does not offer: no authorization endpoint, no response
//! type, only token exchange at the token endpoint. Warden is not an
//! OpenID Provider (it issues no ID token); `id_token_signing_alg_values_supported`
//! is there only because OpenID discovery requires it.

use serde_json::{Value, json};

use crate::auth::jwt::KeyRing;

/// `GET /.well-known/openid-configuration`.
pub const OPENID_CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";
/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
pub const AUTHORIZATION_SERVER_PATH: &str = "/.well-known/oauth-authorization-server";
/// `GET /.well-known/jwks.json`.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
/// `GET /.well-known/oauth-protected-resource` (RFC 9728).
pub use crate::http::PROTECTED_RESOURCE_PATH;

/// The scopes Warden issues: `warden` (a person's own token) and
/// `tools:call` (what an agent may be delegated).
pub const SCOPES: [&str; 2] = ["warden", "tools:call"];

/// The authorization server metadata for `issuer`, with exactly API.md's
/// members.
pub fn server_metadata(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}{JWKS_PATH}"),
        "token_endpoint": format!("{issuer}/auth/token"),
        "grant_types_supported": ["urn:ietf:params:oauth:grant-type:token-exchange"],
        "token_endpoint_auth_methods_supported": ["none"],
        "introspection_endpoint": format!("{issuer}/auth/introspect"),
        "response_types_supported": [],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": SCOPES,
    })
}

/// The protected resource metadata (RFC 9728) of the API at `issuer`: the
/// resource is the issuer itself, exactly.
pub fn resource_metadata(issuer: &str) -> Value {
    json!({
        "resource": issuer,
        "authorization_servers": [issuer],
        "scopes_supported": SCOPES,
        "bearer_methods_supported": ["header"],
    })
}

/// The key set document at `now`: every key published and not retired,
/// public halves only.
pub fn key_set(ring: &KeyRing, now: i64) -> Value {
    json!({ "keys": ring.jwks(now) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metadata_has_exactly_the_contracts_members_built_from_the_issuer() {
        let doc = server_metadata("https://auth.example.com");
        let mut members: Vec<&str> = doc
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.as_str())
            .collect();
        members.sort_unstable();
        assert_eq!(
            members,
            [
                "grant_types_supported",
                "id_token_signing_alg_values_supported",
                "introspection_endpoint",
                "issuer",
                "jwks_uri",
                "response_types_supported",
                "scopes_supported",
                "subject_types_supported",
                "token_endpoint",
                "token_endpoint_auth_methods_supported",
            ]
        );
        assert_eq!(
            doc["jwks_uri"],
            "https://auth.example.com/.well-known/jwks.json"
        );
        assert_eq!(doc["response_types_supported"], json!([]));
        let resource = resource_metadata("https://auth.example.com");
        assert_eq!(resource["resource"], "https://auth.example.com");
        assert_eq!(
            resource["authorization_servers"],
            json!(["https://auth.example.com"])
        );
    }
}
