//! The policy language, construct by construct, checked through the simulator.
use std::path::PathBuf;

use krsi_seccomp::bpf::{self, SeccompData};
use krsi_seccomp::{
    compile_file, compile_str, syscall_number, Action, Arch, CompileOptions, KillMode, Program,
};

fn opts() -> CompileOptions {
    CompileOptions::new(Arch::X86_64)
}

fn compile(text: &str) -> Program {
    compile_str("t.policy", text, &opts()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The action, in the policy's own words, for `name(args...)`.
fn sim(p: &Program, name: &str, args: &[u64]) -> String {
    let nr = syscall_number(p.arch, name).unwrap();
    let mut a = [0u64; 6];
    a[..args.len()].copy_from_slice(args);
    bpf::describe_ret(p.eval(nr, a))
}

fn err(text: &str) -> String {
    compile_str("t.policy", text, &opts())
        .unwrap_err()
        .to_string()
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("krsi-seccomp-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn every_action() {
    let p = compile(
        "read: allow\nwrite: 1\nopenat: kill\nclose: kill-process\nfstat: kill-thread\n\
         lseek: trap\nmmap: trace\nmprotect: log\nmunmap: user-notify\nbrk: return EPERM\nioctl: return 25\n",
    );
    let want = [
        ("read", "allow"),
        ("write", "allow"),
        ("openat", "kill-thread"),
        ("close", "kill-process"),
        ("fstat", "kill-thread"),
        ("lseek", "trap"),
        ("mmap", "trace"),
        ("mprotect", "log"),
        ("munmap", "user-notify"),
        ("brk", "return 1"),
        ("ioctl", "return 25"),
        ("getpid", "kill-thread"),
    ];
    for (sc, action) in want {
        assert_eq!(sim(&p, sc, &[]), action, "{sc}");
    }
}

#[test]
fn kill_mode_process() {
    let mut o = opts();
    o.kill = KillMode::Process;
    let p = compile_str("t", "openat: kill\n", &o).unwrap();
    assert_eq!(sim(&p, "openat", &[]), "kill-process");
    assert_eq!(
        sim(&p, "read", &[]),
        "kill-process",
        "default follows the kill mode"
    );
}

#[test]
fn comments_and_continuations() {
    let p =
        compile("# header\nread: allow # trailing\nwrite: arg0 == 1 || \\\n  arg0 == 2\n\n   \n");
    assert_eq!(sim(&p, "read", &[]), "allow");
    assert_eq!(sim(&p, "write", &[2]), "allow");
    assert_eq!(sim(&p, "write", &[3]), "kill-thread");
}

#[test]
fn operators() {
    let p = compile(
        "read: arg0 == 5\nwrite: arg0 != 5\nopenat: arg2 < 10\nclose: arg0 <= 10\nfstat: arg0 > 10\n\
         lseek: arg0 >= 10\nmmap: arg2 & PROT_EXEC\nmprotect: arg2 in PROT_READ|PROT_WRITE\n",
    );
    let k = "kill-thread";
    for (sc, v, want) in [
        ("read", 5, "allow"),
        ("read", 0x1_0000_0005, k),
        ("write", 5, k),
        ("write", 0x1_0000_0005, "allow"),
        ("openat", 9, "allow"),
        ("openat", 10, k),
        ("openat", 0x1_0000_0000, k),
        ("close", 10, "allow"),
        ("close", 11, k),
        ("fstat", 11, "allow"),
        ("fstat", 10, k),
        ("fstat", 0x1_0000_0000, "allow"),
        ("lseek", 10, "allow"),
        ("lseek", 9, k),
        ("mmap", 7, "allow"),
        ("mmap", 3, k),
        ("mmap", 0x4_0000_0004, "allow"),
        ("mprotect", 3, "allow"),
        ("mprotect", 0, "allow"),
        ("mprotect", 4, k),
        ("mprotect", 0x1_0000_0001, k),
    ] {
        let args = [v, 0, v];
        assert_eq!(sim(&p, sc, &args), want, "{sc}({v:#x})");
    }
}

#[test]
fn sixty_four_bit_ordering_across_halves() {
    // Constants whose halves differ in both directions.
    let p = compile(
        "read: arg0 < 0x100000005\nwrite: arg0 > 0x100000005\nclose: arg0 <= 0xffffffff00000000\n\
         fstat: arg0 >= -2\n",
    );
    let k = "kill-thread";
    for (sc, v, want) in [
        ("read", 0x1_0000_0004, "allow"),
        ("read", 0x1_0000_0005, k),
        ("read", 0xffff_ffff, "allow"),
        ("read", 0x2_0000_0000, k),
        ("read", 0x0_0000_0006, "allow"),
        ("write", 0x1_0000_0006, "allow"),
        ("write", 0x1_0000_0005, k),
        ("write", 0x0_ffff_ffff, k),
        ("write", 0x2_0000_0000, "allow"),
        ("close", 0xffff_ffff_0000_0000, "allow"),
        ("close", 0xffff_ffff_0000_0001, k),
        ("close", 0xffff_fffe_ffff_ffff, "allow"),
        ("fstat", u64::MAX - 1, "allow"),
        ("fstat", u64::MAX, "allow"),
        ("fstat", 0xffff_ffff_ffff_fffd, k),
        ("fstat", 0xffff_fffe, k),
    ] {
        assert_eq!(sim(&p, sc, &[v]), want, "{sc}({v:#x})");
    }
}

#[test]
fn values() {
    let p = compile(
        "read: arg0 == 010\nwrite: arg0 == 0x10\nclose: arg0 == -1\nfstat: arg0 == ~0\n\
         lseek: arg0 == O_WRONLY|O_CLOEXEC\nmmap: arg0 == ~(PROT_READ|PROT_WRITE)\n\
         openat: arg0 == AT_FDCWD\nioctl: arg1 == TCGETS || arg1 == FIONREAD\n\
         mprotect: arg0 == 18446744073709551615\nmunmap: arg0 == -9223372036854775808\n",
    );
    assert_eq!(sim(&p, "read", &[8]), "allow");
    assert_eq!(sim(&p, "read", &[10]), "kill-thread");
    assert_eq!(sim(&p, "write", &[16]), "allow");
    assert_eq!(sim(&p, "close", &[u64::MAX]), "allow");
    assert_eq!(sim(&p, "close", &[0xffff_ffff]), "kill-thread");
    assert_eq!(sim(&p, "fstat", &[u64::MAX]), "allow");
    assert_eq!(sim(&p, "lseek", &[0o2000001]), "allow");
    assert_eq!(sim(&p, "mmap", &[!3u64]), "allow");
    assert_eq!(sim(&p, "openat", &[(-100i64) as u64]), "allow");
    assert_eq!(sim(&p, "ioctl", &[0, 0x5401]), "allow");
    assert_eq!(sim(&p, "ioctl", &[0, 0x541b]), "allow");
    assert_eq!(sim(&p, "ioctl", &[0, 0x5402]), "kill-thread");
    assert_eq!(sim(&p, "mprotect", &[u64::MAX]), "allow");
    assert_eq!(sim(&p, "munmap", &[1 << 63]), "allow");
}

#[test]
fn else_action_and_accumulation() {
    let p = compile(
        "ioctl: arg1 == TCGETS; return ENOTTY\n\
         read: arg0 == 0\nread: arg0 == 1\nread: return EBADF\n\
         write: arg0 == 1\n\
         @default return EPERM\n",
    );
    // `expr; action`: allow when the expression holds, otherwise the action.
    assert_eq!(sim(&p, "ioctl", &[0, 0x5401]), "allow");
    assert_eq!(sim(&p, "ioctl", &[0, 0x5402]), "return 25");
    // Filters for one syscall accumulate across lines, first match wins.
    assert_eq!(sim(&p, "read", &[1]), "allow");
    assert_eq!(sim(&p, "read", &[2]), "return 9");
    // Only conditional filters: the rest falls through to the default.
    assert_eq!(sim(&p, "write", &[2]), "return 1");
    assert_eq!(sim(&p, "getpid", &[]), "return 1");
}

#[test]
fn groups_and_multi_filters() {
    let p = compile(
        "{read, write, kill}: allow\n\
         ioctl: {arg1 == TCGETS, arg1 == FIONREAD; return ENOTTY, arg1 & 1 && arg0 == 3; trap, return EIO}\n\
         {openat, open}: arg2 in O_RDONLY|O_CLOEXEC\n",
    );
    for sc in ["read", "write", "kill"] {
        assert_eq!(sim(&p, sc, &[]), "allow");
    }
    assert_eq!(sim(&p, "ioctl", &[0, 0x5401]), "allow");
    assert_eq!(sim(&p, "ioctl", &[0, 0x541b]), "return 25");
    assert_eq!(sim(&p, "ioctl", &[3, 0x1]), "trap");
    assert_eq!(sim(&p, "ioctl", &[4, 0x1]), "return 5");
    assert_eq!(sim(&p, "open", &[0, 0, 0o2000000]), "allow");
    assert_eq!(sim(&p, "openat", &[0, 0, 1]), "kill-thread");
}

#[test]
fn arch_metadata() {
    let text = "{open[arch=x86_64], openat}: allow\narch_prctl[arch=x86_64]: allow\nread[arch=aarch64]: allow\n";
    let x = compile(text);
    assert_eq!(sim(&x, "open", &[]), "allow");
    assert_eq!(sim(&x, "arch_prctl", &[]), "allow");
    assert_eq!(sim(&x, "read", &[]), "kill-thread");
    let a = compile_str("t", text, &CompileOptions::new(Arch::Aarch64)).unwrap();
    assert_eq!(sim(&a, "openat", &[]), "allow");
    assert_eq!(sim(&a, "read", &[]), "allow");
    assert_eq!(
        a.eval(63, [0; 6]),
        bpf::SECCOMP_RET_ALLOW,
        "read is 63 on aarch64"
    );
}

#[test]
fn include_frequency_default() {
    let d = tmpdir("inc");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::write(
        d.join("sub/common.policy"),
        "write: allow\n@include ./leaf.policy\n",
    )
    .unwrap();
    std::fs::write(d.join("sub/leaf.policy"), "close: return EBADF\n").unwrap();
    std::fs::write(d.join("freq.txt"), "# counts\nread: 1000\nwrite: 10\n").unwrap();
    std::fs::write(
        d.join("main.policy"),
        "@include ./sub/common.policy\n@frequency ./freq.txt\n@default trap\nread: allow\n",
    )
    .unwrap();
    let p = compile_file(&d.join("main.policy"), &opts()).unwrap();
    assert_eq!(sim(&p, "write", &[]), "allow");
    assert_eq!(sim(&p, "close", &[]), "return 9");
    assert_eq!(sim(&p, "getpid", &[]), "trap");
    let parsed = krsi_seccomp::parse(
        &d.join("main.policy").display().to_string(),
        &std::fs::read_to_string(d.join("main.policy")).unwrap(),
        &opts(),
    )
    .unwrap();
    assert_eq!(parsed.frequencies.get(&0), Some(&1000));
    assert_eq!(parsed.frequencies.get(&1), Some(&10));

    // Include loops hit the depth limit with a located error.
    std::fs::write(d.join("loop.policy"), "# loops\n@include ./loop.policy\n").unwrap();
    let e = compile_file(&d.join("loop.policy"), &opts())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("loop.policy:2:1: @include nested too deep (limit 10)"),
        "{e}"
    );
    let e = err("@include ./does-not-exist.policy\n");
    assert!(e.starts_with("t.policy:1:10: could not @include"), "{e}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn frequency_moves_hot_syscalls_up() {
    let d = tmpdir("freq");
    let body: String = krsi_seccomp::Arch::X86_64
        .syscalls()
        .iter()
        .filter(|(_, nr)| nr % 2 == 0 && *nr < 300)
        .map(|(n, _)| format!("{n}: allow\n"))
        .collect();
    std::fs::write(d.join("f.txt"), "mincore: 1000000\n").unwrap();
    std::fs::write(d.join("a.policy"), &body).unwrap();
    std::fs::write(d.join("b.policy"), format!("@frequency ./f.txt\n{body}")).unwrap();
    let cost = |file: &str| {
        let p = compile_file(&d.join(file), &opts()).unwrap();
        let data = SeccompData {
            nr: syscall_number(Arch::X86_64, "mincore").unwrap() as i32,
            arch: Arch::X86_64.audit_arch(),
            ..Default::default()
        };
        bpf::run(&p.filter, &data).unwrap().executed
    };
    let (before, after) = (cost("a.policy"), cost("b.policy"));
    assert!(after < before, "mincore cost {before} -> {after}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn denylist_mode() {
    let p = compile("@denylist\nptrace: return EPERM\nioctl: arg1 == TIOCSTI; return EPERM\n");
    assert_eq!(sim(&p, "read", &[]), "allow");
    assert_eq!(sim(&p, "ptrace", &[]), "return 1");
    assert_eq!(sim(&p, "ioctl", &[0, 0x5412]), "return 1");
    assert_eq!(sim(&p, "ioctl", &[0, 0x5401]), "allow");
    assert_eq!(
        err("@denylist\nptrace: kill\n"),
        "t.policy:2:9: invalid denylist policy: every action must be `return ERRNO`, found \"kill\""
    );
    assert_eq!(
        err("read: allow\n@denylist\n"),
        "t.policy:2:1: @denylist must come before any filter or @default statement"
    );
}

#[test]
fn x32_and_tracer_skip() {
    let p = compile("@default return EPERM\nread: allow\n");
    let run = |nr: u32| bpf::describe_ret(p.eval(nr, [0; 6]));
    assert_eq!(run(0), "allow");
    // read's x32 number: 0x40000000 | 0 must not reach the read rule.
    assert_eq!(run(0x4000_0000), "kill-process");
    assert_eq!(run(0x4000_0000 + 512), "kill-process");
    assert_eq!(run(0xffff_fffe), "kill-process");
    assert_eq!(
        run(0xffff_ffff),
        "return 1",
        "-1 (tracer skip) gets the default"
    );
    assert_eq!(run(0x3fff_ffff), "return 1");
    // aarch64 has no x32 ABI: those numbers are simply unknown syscalls.
    let a = compile_str(
        "t",
        "@default return EPERM\nread: allow\n",
        &CompileOptions::new(Arch::Aarch64),
    )
    .unwrap();
    assert_eq!(bpf::describe_ret(a.eval(0x4000_0000, [0; 6])), "return 1");
    // A wrong seccomp_data.arch is refused first.
    let d = SeccompData {
        nr: 0,
        arch: 0x4000_0003,
        ..Default::default()
    };
    assert_eq!(bpf::simulate(&p.filter, &d), bpf::SECCOMP_RET_KILL_PROCESS);
}

#[test]
fn log_only_turns_denials_into_log() {
    let mut o = opts();
    o.log_only = true;
    let p = compile_str("t", "read: allow\nwrite: arg0 == 1; return EPERM\n", &o).unwrap();
    assert_eq!(sim(&p, "read", &[]), "allow");
    assert_eq!(sim(&p, "write", &[1]), "allow");
    assert_eq!(sim(&p, "write", &[2]), "log");
    assert_eq!(sim(&p, "getpid", &[]), "log");
}

#[test]
fn long_programs_use_trampolines_and_stay_correct() {
    // ~120 syscalls with several 64-bit comparisons each: jumps over >255 insns.
    let table = Arch::X86_64.syscalls();
    let mut text = String::from("@default return EPERM\n");
    let mut names = Vec::new();
    for (i, (name, _)) in table.iter().take(120).enumerate() {
        text += &format!(
            "{name}: arg0 == {i} || arg1 > 0x1{i:08x} && arg2 != -{i}; return {}\n",
            i % 100 + 1
        );
        names.push((*name, i as u64));
    }
    let p = compile(&text);
    assert!(p.filter.len() > 1000, "{}", p.filter.len());
    assert!(p.disasm().contains(": ja "), "expected JA trampolines");
    for (name, i) in names {
        let errno = format!("return {}", i % 100 + 1);
        assert_eq!(sim(&p, name, &[i]), "allow", "{name}");
        assert_eq!(
            sim(&p, name, &[i + 1, 0x1_0000_0000 + i + 1, 5]),
            "allow",
            "{name}"
        );
        assert_eq!(
            sim(
                &p,
                name,
                &[i + 1, 0x1_0000_0000 + i + 1, (-(i as i64)) as u64]
            ),
            errno,
            "{name}"
        );
        assert_eq!(
            sim(&p, name, &[i + 1, 0x1_0000_0000 + i, 5]),
            errno,
            "{name}"
        );
    }
}

#[test]
fn too_long_is_refused() {
    let table = Arch::X86_64.syscalls();
    let mut text = String::new();
    for (i, (name, _)) in table.iter().take(300).enumerate() {
        text += &format!("{name}: arg0 == {i} || arg0 == 2 || arg0 == 3 || arg1 == 4 || arg2 == 5 || arg3 == 6\n");
    }
    let e = err(&text);
    assert!(e.starts_with("t.policy:1:1: compiled filter has "), "{e}");
    assert!(e.ends_with("the kernel accepts at most 4096"), "{e}");
}

#[test]
fn raw_output_round_trips() {
    let p = compile("read: allow\n");
    let bytes = p.to_bytes();
    assert_eq!(bytes.len(), p.filter.len() * 8);
    assert_eq!(bpf::from_bytes(&bytes).unwrap(), p.filter);
}

#[test]
fn default_override_and_actions() {
    let mut o = opts();
    o.default_override = Some(Action::Errno(38));
    let p = compile_str("t", "@default trap\nread: arg0 == 1\n", &o).unwrap();
    assert_eq!(sim(&p, "getpid", &[]), "return 38");
    assert_eq!(sim(&p, "read", &[2]), "return 38");
    assert_eq!(p.default_action, Action::Errno(38));
}

#[test]
fn render_round_trip() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
    for f in [
        "daemon.policy",
        "allowlist-300.policy",
        "docker-default.json",
    ] {
        let path = format!("{dir}{f}");
        let policy =
            krsi_seccomp::parse(&path, &std::fs::read_to_string(&path).unwrap(), &opts()).unwrap();
        let text = policy.to_minijail().unwrap();
        let again = krsi_seccomp::parse("rendered.policy", &text, &opts())
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(again.rules, policy.rules, "{f}");
        assert_eq!(again.default_action, policy.default_action, "{f}");
    }
}

#[test]
fn docker_profile_import() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/docker-default.json"
    ));
    let p = compile_file(&path, &opts()).unwrap();
    for (sc, args, want) in [
        ("read", &[][..], "allow"),
        ("socket", &[2], "allow"),
        ("socket", &[40], "return 1"), // AF_VSOCK is excluded
        ("personality", &[8], "allow"),
        ("personality", &[0xffff_ffff], "allow"),
        ("personality", &[9], "return 1"),
        ("clone", &[0x3d0f00], "allow"),       // thread-style flags
        ("clone", &[0x1000_0000], "return 1"), // CLONE_NEWUSER
        ("clone3", &[], "return 38"),          // ENOSYS so libcs fall back to clone
        ("reboot", &[], "return 1"),           // needs CAP_SYS_BOOT
        ("chroot", &[], "allow"),              // CAP_SYS_CHROOT is a default cap
        ("ptrace", &[], "allow"),              // minKernel 4.8 is assumed
        ("arch_prctl", &[], "allow"),          // includes.arches = amd64
        ("kexec_load", &[], "return 1"),
    ] {
        assert_eq!(sim(&p, sc, args), want, "{sc}({args:x?})");
    }
    let a = compile_file(&path, &CompileOptions::new(Arch::Aarch64)).unwrap();
    assert_eq!(sim(&a, "read", &[]), "allow");
    assert_eq!(sim(&a, "clone3", &[]), "return 38");
    assert_eq!(
        a.eval(0x4000_0000, [0; 6]),
        bpf::SECCOMP_RET_ERRNO | 1,
        "no x32 rule on aarch64"
    );
}
