//! Seccomp runtime: `krsi sandbox`, `krsi seccomp learn`, and the user-notification supervisor.
pub mod cli;
