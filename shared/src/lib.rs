//! Warden's shared domain: everything the Lambda functions have in common.
//!
//! Each function crate under `functions/` is a thin adapter from an API
//! Gateway event to one of the operations here; the `warden` CLI mounts the
//! same handlers behind one local HTTP listener.
//!
//! # Layout
//!
//! Where each rule lives, from the leaves up:
//!
//! - [`domain`]: the leaf types everything else uses (roles, usernames,
//!   records; [`domain::agents`]: agent and workspace ids, maturity, job
//!   and proposal statuses with their forward-only transitions, API-key
//!   records); it imports no other module.
//! - [`config`]: typed configuration from the environment, start-up
//!   validation (an insecure deployment refuses to start), signing keys.
//! - [`guards`]: the timeouts and retries every AWS call runs under, and
//!   each path's worst case against the Lambda timeouts.
//! - [`error`]: the one error type and its problem+json rendering.
//! - [`clock`]: the time source, replaceable in tests.
//! - [`audit`]: audit events and their origin (an HTTP request, the CLI, a
//!   queue message, the schedule). **Every audit event is built by
//!   [`audit::Auditor`]** (each state holds one) and written in the same
//!   transaction as the decision it records; [`audit::query`] reads them
//!   back (the one query of `warden audit query` and `GET /audit`).
//! - [`http`]: request context (client IP, user agent, request id), JSON
//!   bodies with size limits, responses, CORS; the route table
//!   ([`http::Route`], [`http::resolve`]) and the one handler preamble
//!   ([`http::respond`]).
//! - [`auth`]: password hashing, JWT issue and verification ([`auth::jwt`],
//!   with the cache of verified tokens in [`auth::verified`]), login
//!   sessions; [`auth::revocation`] holds every rule that decides whether a
//!   token or session still stands; [`auth::api_keys`] the API keys of
//!   services and agents. **A request's bearer token (or API key) is turned
//!   into a caller in one place: [`auth::bearer::Bearer`]**.
//! - [`agents`]: agent runs under governance: the action catalogue
//!   ([`agents::catalogue`]) of the business actions, which are the
//!   `warden-business` crate's (`business/`: pure functions of their input,
//!   one folder per agent type, with their exact arithmetic),
//!   [`agents::governance`] (every rule that decides whether and how an
//!   agent runs), the registry, run requests, proposals, and the job worker;
//!   and governed tool calls: [`agents::tool_calls`] (the decision on any
//!   tool an agent calls, approvals bound to the exact call and used once),
//!   [`agents::jcs`] (I-JSON arguments in their RFC 8785 form) and
//!   [`agents::decision`] (the decision tokens a tool server verifies).
//! - [`health`]: the security health report: the inventory of what to
//!   check, every check under its own timeout, the reports each endpoint
//!   answers, the scheduled probe's samples and the uptime computed from
//!   them.
//! - [`webhook`]: signature schemes (Slack, GitHub, Stripe, Standard
//!   Webhooks, [`webhook::scheme`]), the configured sources
//!   ([`webhook::sources`]) and the intake: verify, dedupe, enqueue once;
//!   [`webhook::rotation`] a source's secret rotated in the sources document.
//! - [`ratelimit`]: the GCRA limiter over the store.
//! - [`metrics`]: CloudWatch embedded metrics for the counts that matter.
//! - [`logging`]: the functions' log subscriber (Lambda's log format and
//!   level controls).
//! - Ports and their adapters: [`store`] (by domain: auth, webhooks,
//!   agents, API keys, health samples, audit, rate limits; DynamoDB and the
//!   embedded memory store, with one all-or-nothing transaction across
//!   domains; [`store::tools`] the tools registry and tool calls;
//!   [`store::keys`] builds every storage key), [`queue`] (SQS,
//!   or in process), [`secrets`] (Secrets Manager, or the environment in
//!   development; [`secrets::rotation`] the operator's writes of new
//!   versions), and [`aws`] (the SDK configuration every client is built
//!   from, the HTTPS client, the SDK adapter of the health checks' port).
//! - [`state`]: per-function state as plain structs of ports and
//!   components ([`state::AuthState`], [`state::WebhookState`],
//!   [`state::Accounts`], [`state::Registry`], [`state::AgentState`],
//!   [`state::WorkerState`], [`state::HealthState`],
//!   [`state::SecurityHealthState`]); the use cases take these.
//! - [`wiring`]: on top of everything, the Lambda cold starts that fill
//!   each state from AWS, and where each secret comes from. No use case
//!   imports it.
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
pub mod guards;
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
pub mod wiring;

pub use error::{Error, Result};
