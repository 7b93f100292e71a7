//! Seccomp runtime: `krsi sandbox`, `krsi seccomp learn`, and the user-notification
//! supervisor. See docs/sandbox.md.
pub mod cli;
pub mod launcher;
pub mod learn;
pub mod names;
pub mod notify;
pub mod rules;
pub mod sys;
