//! Authentication: password hashing, JWT access tokens, login sessions with
//! rotating refresh tokens, and revocation.
//!
//! - [`api_keys`]: API keys for services and agents: format, HMAC under
//!   the pepper, the check with its scope and hourly limit.
//! - [`password`]: argon2id hashing and verification (legacy bcrypt too).
//! - [`jwt`]: access token issue and verification.
//! - [`verified`]: the bounded cache of tokens already verified (never of
//!   their revocation).
//! - [`bearer`]: the one bearer check: a request's access token (or, for
//!   agent runs, API key) turned into an authenticated caller, with the
//!   revocation read, the roles and the key's scopes.
//! - [`pepper`]: the pepper API-key secrets are HMACed under.
//! - [`tokens`]: refresh tokens.
//! - [`login`]: login, refresh, account back-off, user creation.
//! - [`revocation`]: every rule that decides whether a token or session
//!   still stands, and every operation that revokes.

pub mod api_keys;
pub mod bearer;
pub mod jwt;
pub mod login;
pub mod password;
pub mod pepper;
pub mod revocation;
pub mod tokens;
pub mod verified;
