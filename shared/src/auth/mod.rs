//! Authentication: password hashing, JWT access tokens, login sessions with
//! rotating refresh tokens, and revocation.
//!
//! - [`api_keys`]: API keys for services and agents: format, HMAC under
//!   the pepper, the check with its scope and hourly limit.
//! - [`password`]: argon2id hashing and verification (legacy bcrypt too).
//! - [`password_policy`]: what a new password must be (length, not a
//!   common one), checked wherever one is set, never at login.
//! - [`jwt`]: access token issue and verification (RS256).
//! - [`signing`]: the key set and its schedule, RSA public keys and JWKs,
//!   the signer port (KMS, or a local key in development).
//! - [`verified`]: the bounded cache of tokens already verified (never of
//!   their revocation).
//! - [`bearer`]: the one bearer check: a request's access token (or, for
//!   agent runs, API key) turned into an authenticated caller, with the
//!   revocation read, the roles and the key's scopes.
//! - [`discovery`]: the well-known documents verifiers read (metadata,
//!   the key set, the protected resource).
//! - [`introspection`]: `POST /auth/introspect` (RFC 7662).
//! - [`delegation`]: delegated agent tokens, `POST /auth/token` (RFC 8693
//!   token exchange), and the rule that decides whether one stands.
//! - [`pepper`]: the pepper API-key secrets are HMACed under.
//! - [`tokens`]: refresh tokens.
//! - [`login`]: login, refresh, account back-off, user creation.
//! - [`revocation`]: every rule that decides whether a token or session
//!   still stands, and every operation that revokes.

pub mod api_keys;
pub mod bearer;
pub mod delegation;
pub mod discovery;
pub mod introspection;
pub mod jwt;
pub mod login;
pub mod password;
pub mod password_policy;
pub mod pepper;
pub mod revocation;
pub mod signing;
pub mod tokens;
pub mod verified;
