//! The `warden` command's library: the local API server and the
//! administration commands, kept out of `main.rs` so tests can drive them.
//!
//! # Layout
//!
//! - [`serve`]: every function's handler behind one HTTP listener, on the
//!   same paths as `template.yaml`.
//! - [`seed`]: the seed file loaded by `warden serve --seed`.
//! - [`admin`]: the administration commands (tables, users, agents,
//!   workspaces, tools, API keys, `audit query`, `webhooks set-secret`,
//!   `signing-key rotate|retire|list`, `config check`, `health`), each
//!   change audited with the operator's identity.
//! - [`secret_input`]: passwords and secrets, prompted for without echo at
//!   a terminal, read from standard input otherwise.
//! - [`output`]: `--output table|json`, one way for every command that
//!   lists or shows.
//! - [`stack`]: `--stack NAME`, the deployment read from a CloudFormation
//!   stack's outputs.
//! - [`ledger`]: the audit ledger on this machine (`warden serve`'s
//!   checkpoint key and write-once copies) and `warden audit
//!   verify|prove|public-key`.

pub mod admin;
pub mod ledger;
pub mod output;
pub mod secret_input;
pub mod seed;
pub mod serve;
pub mod stack;
