//! The `warden` command's library: the local API server and the
//! administration commands, kept out of `main.rs` so tests can drive them.
//!
//! # Layout
//!
//! - [`serve`]: every function's handler behind one HTTP listener, on the
//!   same paths as `template.yaml`.
//! - [`seed`]: the seed file loaded by `warden serve --seed`.
//! - [`admin`]: `tables create`, `users add`, `config check`.

pub mod admin;
pub mod seed;
pub mod serve;
