//! Threat intelligence for yagura.
pub mod normalize;
