//! Agent runs under governance.
//!
//! - [`catalogue`]: the business actions, their complexity and input, behind
//!   one trait; the actions themselves are the `warden-business` crate's.
//! - [`governance`]: the pure rules: the maturity x complexity table, the
//!   order of the checks at submission, the re-check at run time.
//! - [`registry`]: workspaces, agents, maturity, the kill switch.
//! - [`run`]: run requests (idempotent), reading jobs back.
//! - [`proposals`]: approval, rejection, expiry.
//! - [`worker`]: one queue message, one job, run at most once.
//! - [`tool_calls`]: the decision on a tool call of any agent (API.md
//!   "Governed tool calls"), with [`jcs`] (the arguments' canonical form)
//!   and [`decision`] (the decision token a tool server checks).
//!
//! The job status enum and its forward-only transitions are leaf types, in
//! [`crate::domain::agents`].

pub mod catalogue;
pub mod decision;
pub mod governance;
pub mod jcs;
pub mod proposals;
pub mod registry;
pub mod run;
pub mod sweeper;
pub mod tool_calls;
pub mod worker;
