//! Decision tokens: what a tool server checks before it runs an allowed
//! call (API.md "Governed tool calls", `decision_token`).
//!
//! A decision token is a JWS RS256 signed by a KMS key of its own (tag
//! `warden:decision`), never the access-token key, with `typ`
//! `tool-call+jwt`: the access-token check pins `at+jwt` and knows only the
//! access key set, so a decision token is never accepted as an access
//! token, and an access token never passes for a decision. Its key is
//! published only at `<issuer>/tools/jwks.json`.
//!
//! A tool server verifies the signature from that key set, checks `aud`
//! (`tool:<name>`), `exp`, and that the SHA-256 of the JCS form of the
//! arguments it received is `arguments_sha256`, and accepts each `jti`
//! (the call id) once.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::auth::signing::{Jwk, MAX_SIGNING_INPUT, RsaPublicKey, Signer};
use crate::{Error, Result};

/// The `typ` header of decision tokens.
pub const DECISION_TOKEN_TYPE: &str = "tool-call+jwt";

/// How long a decision token lives: a tool call happens at once.
pub const DECISION_TOKEN_TTL_SECS: i64 = 60;

/// The path of the decision key set, under the issuer.
pub const DECISION_JWKS_PATH: &str = "/tools/jwks.json";

/// Who acts: the agent (`agent:<id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionActor {
    /// `agent:<agent_id>`.
    pub sub: String,
}

/// The claims of a decision token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionClaims {
    /// Warden's issuer.
    pub iss: String,
    /// The caller: `key:<key id>`, or a delegated token's user.
    pub sub: String,
    /// The agent that asked.
    pub act: DecisionActor,
    /// `tool:<name>`.
    pub aud: String,
    /// Epoch seconds, at most [`DECISION_TOKEN_TTL_SECS`] after `iat`.
    pub exp: i64,
    /// Epoch seconds.
    pub iat: i64,
    /// The call id: a tool server accepts each once.
    pub jti: String,
    /// The tool.
    pub tool: String,
    /// Lowercase hex SHA-256 of the arguments' JCS form.
    pub arguments_sha256: String,
    /// The workspace.
    pub workspace_id: String,
    /// The approval used, if the call needed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal_id: Option<String>,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// A presented header: exactly these members.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresentedHeader {
    alg: String,
    typ: String,
    kid: String,
}

/// Signs decision tokens with the decision key, and publishes it.
pub struct DecisionTokens {
    signer: Arc<dyn Signer>,
    arn: String,
    key: RsaPublicKey,
    kid: String,
    encoded_header: String,
    issuer: String,
}

impl std::fmt::Debug for DecisionTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionTokens")
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl DecisionTokens {
    /// Decision tokens for `issuer`, signed by `signer`'s key `arn`, whose
    /// public half is read once now (a function that cannot reach its key
    /// does not start).
    pub async fn load(signer: Arc<dyn Signer>, arn: &str, issuer: &str) -> Result<Self> {
        let key = signer.public_key(arn).await?;
        Self::with_key(signer, arn, key, issuer)
    }

    /// Decision tokens signed by the local key `arn` of `signer`
    /// (development's `warden serve` and the tests').
    pub fn local(
        signer: Arc<crate::auth::signing::LocalSigner>,
        arn: &str,
        issuer: &str,
    ) -> Result<Self> {
        let key = signer.public_key_of(arn)?;
        Self::with_key(signer, arn, key, issuer)
    }

    fn with_key(
        signer: Arc<dyn Signer>,
        arn: &str,
        key: RsaPublicKey,
        issuer: &str,
    ) -> Result<Self> {
        let kid = key.thumbprint();
        let header = serde_json::to_vec(&Header {
            alg: crate::auth::jwt::ALGORITHM,
            typ: DECISION_TOKEN_TYPE,
            kid: &kid,
        })
        .map_err(|e| Error::internal_from("encoding a decision token header", e))?;
        Ok(Self {
            signer,
            arn: arn.to_owned(),
            encoded_header: URL_SAFE_NO_PAD.encode(header),
            key,
            kid,
            issuer: issuer.to_owned(),
        })
    }

    /// The issuer tokens name.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Signs `claims`. A throttled or failed KMS call is `503` (nothing
    /// was decided yet: the caller writes nothing).
    pub async fn sign(&self, claims: &DecisionClaims) -> Result<String> {
        let body = serde_json::to_vec(claims)
            .map_err(|e| Error::internal_from("encoding a decision token", e))?;
        let mut token = self.encoded_header.clone();
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(body, &mut token);
        if token.len() > MAX_SIGNING_INPUT {
            return Err(Error::internal(format!(
                "a decision token's signing input of {} bytes is over {MAX_SIGNING_INPUT}",
                token.len()
            )));
        }
        let signature = self.signer.sign(&self.arn, token.as_bytes()).await?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }

    /// The key set a tool server verifies with (RFC 7517).
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.key.jwk()],
        }
    }

    /// Verifies `token` as a tool server would (signature, header, issuer,
    /// `aud` = `tool:<tool>`, expiry at `now`); the arguments' hash and the
    /// single use of `jti` are the tool server's. Any failure is `401`.
    pub fn verify(&self, token: &str, tool: &str, now: i64) -> Result<DecisionClaims> {
        let refused = || Error::token(crate::error::Refusal::Invalid);
        let (input, signature) = token.rsplit_once('.').ok_or_else(refused)?;
        let (header, body) = input.split_once('.').ok_or_else(refused)?;
        let header: PresentedHeader = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|h| serde_json::from_slice(&h).ok())
            .ok_or_else(refused)?;
        if header.alg != crate::auth::jwt::ALGORITHM
            || header.typ != DECISION_TOKEN_TYPE
            || header.kid != self.kid
        {
            return Err(refused());
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| refused())?;
        if !self.key.verifies(input.as_bytes(), &signature) {
            return Err(refused());
        }
        let claims: DecisionClaims = URL_SAFE_NO_PAD
            .decode(body)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(refused)?;
        if claims.iss != self.issuer || claims.aud != format!("tool:{tool}") {
            return Err(refused());
        }
        if claims.exp <= now {
            return Err(Error::token(crate::error::Refusal::Expired));
        }
        Ok(claims)
    }
}

/// `{"keys": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JwkSet {
    /// The decision key.
    pub keys: Vec<Jwk>,
}
