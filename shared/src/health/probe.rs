//! The scheduled probe.
