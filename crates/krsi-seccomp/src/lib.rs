//! Seccomp policy language (minijail-compatible), compiler to classic BPF, and simulator.
pub mod cli;
