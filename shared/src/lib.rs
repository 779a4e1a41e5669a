//! Warden's shared domain: everything the Lambda functions have in common.
//!
//! Each function crate under `functions/` is a thin adapter from an API
//! Gateway event to one of the operations here; the `warden` CLI mounts the
//! same handlers behind one local HTTP listener.
//!
//! # Layout
//!
//! - [`config`]: typed configuration from the environment, start-up
//!   validation (an insecure deployment refuses to start), signing keys.
//! - [`aws`]: the AWS SDK configuration every client is built from, with
//!   the timeouts and retry limits that keep a hung dependency a `503`.
//! - [`secrets`]: the secrets port (Secrets Manager, or the environment in
//!   development).
//! - [`error`]: the one error type and its problem+json rendering.
//! - [`http`]: request context (client IP, user agent, request id), JSON
//!   bodies with size limits, responses, CORS.
//! - [`auth`]: password hashing, JWT issue and verification, login sessions.
//! - [`metrics`]: CloudWatch embedded metrics for the counts that matter.
//! - [`audit`]: audit events, written in the same transaction as the
//!   decision they record.
//! - [`ratelimit`]: the GCRA limiter over the store.
//! - [`webhook`]: signature schemes (Slack, GitHub, Stripe, Standard
//!   Webhooks) and the intake: verify, dedupe, enqueue once.
//! - [`queue`]: the queue port (SQS, or in process).
//! - [`store`]: the storage ports and their two adapters, DynamoDB and the
//!   embedded memory store.
//! - [`clock`]: the time source, replaceable in tests.
//! - [`state`]: [`state::AppState`], built once per cold start.
//! - `testing` (feature `testing`): emulator-backed stores and fault
//!   injection for the test suites.

pub mod audit;
pub mod auth;
pub mod aws;
pub mod clock;
pub mod config;
pub mod error;
pub mod http;
pub mod metrics;
pub mod queue;
pub mod ratelimit;
pub mod secrets;
pub mod state;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod webhook;

pub use error::{Error, Result};
