//! krsi's BPF programs (sources in the repository's `bpf/`) as libbpf-rs skeletons.
#![allow(clippy::all)]

/// The agent's programs (bpf/krsi.bpf.c): exec (`lsm/bprm_check_security`,
/// `lsm/bprm_committed_creds`, the `tp_btf/sched_process_exec` fallback) and
/// file opens (`lsm/file_open`), with the maps they share.
pub mod krsi {
    include!(concat!(env!("OUT_DIR"), "/krsi.skel.rs"));
}

/// `krsi doctor`'s live enforcement probe on `lsm/file_open`.
pub mod probe {
    include!(concat!(env!("OUT_DIR"), "/probe.skel.rs"));
}

pub use libbpf_rs;

pub mod sys;
