//! Compiles every `bpf/*.bpf.c` into a libbpf-rs skeleton.
//!
//! clang is Debian's `clang-19` unless `KRSI_CLANG` names another; the
//! kernel types come from the committed `bpf/vmlinux/x86/vmlinux.h`
//! (regenerate with `cargo xtask vmlinux`), and CO-RE relocates them to the
//! running kernel at load time.
use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

const PROGRAMS: &[&str] = &["krsi", "probe"];

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let bpf_dir = manifest
        .join("../../bpf")
        .canonicalize()
        .expect("bpf/ directory");
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let clang = env::var("KRSI_CLANG").unwrap_or_else(|_| "clang-19".to_string());

    for name in PROGRAMS {
        let src = bpf_dir.join(format!("{name}.bpf.c"));
        let skel = out.join(format!("{name}.skel.rs"));
        SkeletonBuilder::new()
            .source(&src)
            .clang(&clang)
            .clang_args([
                "-I".into(),
                bpf_dir.join("include").into_os_string(),
                "-I".into(),
                bpf_dir.join("vmlinux/x86").into_os_string(),
                "-Wall".into(),
                "-Werror".into(),
                "-mcpu=v3".into(),
            ])
            .build_and_generate(&skel)
            .unwrap_or_else(|e| panic!("building {}: {e:#}", src.display()));
    }
    println!("cargo:rerun-if-changed={}", bpf_dir.display());
    println!("cargo:rerun-if-env-changed=KRSI_CLANG");
}
