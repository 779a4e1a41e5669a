//! Warden's shared domain: everything the Lambda functions have in common.
//!
//! Each function crate under `functions/` is a thin adapter from an API
//! Gateway event to one of the operations here; the `warden` CLI mounts the
//! same handlers behind one local HTTP listener.
//!
//! # Layout
//!
//! - [`domain`]: the leaf types everything else uses (roles, usernames,
//!   records; [`domain::agents`]: agent and workspace ids, maturity, job
//!   and proposal statuses with their forward-only transitions, API-key
//!   records); it imports no other module.
//! - [`config`]: typed configuration from the environment, start-up
//!   validation (an insecure deployment refuses to start), signing keys.
//! - [`aws`]: the AWS SDK configuration every client is built from, with
//!   the timeouts and retry limits that keep a hung dependency a `503`.
//! - [`secrets`]: the secrets port (Secrets Manager, or the environment in
//!   development); [`secrets::rotation`] the operator's writes of new
//!   versions and the rule that keeps a JWT key rotation from cutting off
//!   live tokens.
//! - [`error`]: the one error type and its problem+json rendering.
//! - [`http`]: request context (client IP, user agent, request id), JSON
//!   bodies with size limits, responses, CORS.
//! - [`auth`]: password hashing, JWT issue and verification ([`auth::jwt`],
//!   with the cache of verified tokens in [`auth::verified`]), login
//!   sessions; [`auth::revocation`] holds every rule that decides whether a
//!   token or session still stands; [`auth::api_keys`] the API keys of
//!   services and agents.
//! - [`agents`]: agent runs under governance: the action catalogue
//!   ([`agents::catalogue`]) of the business actions, which are the
//!   `warden-business` crate's (`business/`: pure functions of their input,
//!   one folder per agent type, with their exact arithmetic),
//!   [`agents::governance`] (every rule that decides whether and how an
//!   agent runs), the registry, run requests, proposals, and the job worker.
//! - [`health`]: the security health report: every check (configuration,
//!   tables, queues, secrets, webhook sources) under its own timeout, the
//!   scheduled probe's samples and the uptime computed from them.
//! - [`logging`]: the functions' log subscriber (Lambda's log format and
//!   level controls).
//! - [`metrics`]: CloudWatch embedded metrics for the counts that matter.
//! - [`audit`]: audit events and their origin (an HTTP request, the CLI, a
//!   queue message, the schedule), written in the same transaction as the
//!   decision they record.
//! - [`ratelimit`]: the GCRA limiter over the store.
//! - [`webhook`]: signature schemes (Slack, GitHub, Stripe, Standard
//!   Webhooks) and the intake: verify, dedupe, enqueue once;
//!   [`webhook::rotation`] a source's secret rotated in the sources document.
//! - [`queue`]: the queue port (SQS, or in process): webhook events, agent
//!   jobs, outbound effects.
//! - [`store`]: the storage ports by domain (auth, webhooks, agents, API
//!   keys, health samples, audit, rate limits) and their two adapters, DynamoDB and the embedded memory store,
//!   with one all-or-nothing transaction across domains; [`store::keys`]
//!   builds every storage key.
//! - [`clock`]: the time source, replaceable in tests.
//! - [`state`]: per-function state built once per cold start
//!   ([`state::AuthState`], [`state::WebhookState`], [`state::Accounts`],
//!   [`state::Registry`], [`state::AgentState`], [`state::WorkerState`],
//!   [`state::HealthState`], [`state::SecurityHealthState`]).
//! - `testing` (feature `testing`): emulator-backed stores, API Gateway
//!   request building and the both-stores test macro for the test suites.

pub mod agents;
pub mod audit;
pub mod auth;
pub mod aws;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod health;
pub mod http;
pub mod logging;
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
