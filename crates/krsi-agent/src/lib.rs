//! The krsi agent: loads the BPF programs, applies a policy atomically,
//! streams events as JSON lines and reloads the policy on SIGHUP.
pub mod abi;
pub mod cli;
pub mod event;
pub mod loader;
mod modscan;
mod run;
pub mod seal;
pub mod slots;
pub mod status;
mod watch;
