//! The krsi agent.
pub mod cli;
