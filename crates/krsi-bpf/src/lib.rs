//! krsi's BPF programs (sources in the repository's `bpf/`) as libbpf-rs skeletons.
#![allow(clippy::all)]

/// Exec signals and denies: `lsm/bprm_check_security`, `lsm/bprm_committed_creds`,
/// and the `tp_btf/sched_process_exec` fallback.
pub mod exec {
    include!(concat!(env!("OUT_DIR"), "/exec.skel.rs"));
}

/// `krsi doctor`'s live enforcement probe on `lsm/file_open`.
pub mod probe {
    include!(concat!(env!("OUT_DIR"), "/probe.skel.rs"));
}

pub use libbpf_rs;

pub mod sys;
