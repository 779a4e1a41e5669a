//! Agent runs under governance.
//!
//! - [`catalogue`]: the business actions, their complexity and input, behind
//!   one trait; [`business`] holds one module per agent type.

pub mod business;
pub mod catalogue;
