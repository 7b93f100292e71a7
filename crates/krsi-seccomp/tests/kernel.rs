//! Installs compiled filters in forked children and checks that the kernel does
//! what the simulator predicts: errno, SIGSYS kill, allow, and the x32 rule.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use krsi_seccomp::{bpf, compile_str, Arch, CompileOptions, KillMode, Program};

const POLICY: &str = "\
@default return EPERM
exit_group: allow
getpid: allow
getuid: return 77
getppid: kill
getpriority: arg0 == 0 && arg1 == 0; return EACCES
";

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const krsi_seccomp::SockFilter,
}

/// What happened to the child, spelled like the simulator's output.
fn run_in_child(prog: &Program, nr: i64, args: [u64; 6]) -> String {
    let fprog = SockFprog {
        len: prog.filter.len() as u16,
        filter: prog.filter.as_ptr(),
    };
    // SAFETY: the child only makes raw syscalls (no allocation, no locks) and
    // leaves through _exit.
    unsafe {
        let pid = libc::fork();
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                libc::_exit(200);
            }
            if libc::syscall(
                libc::SYS_seccomp,
                1, /* SECCOMP_SET_MODE_FILTER */
                0,
                &fprog as *const SockFprog,
            ) != 0
            {
                libc::_exit(201);
            }
            let r = libc::syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]);
            if r == -1 {
                libc::_exit(100 + *libc::__errno_location());
            }
            libc::_exit(0);
        }
        let mut status = 0;
        assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
        if libc::WIFSIGNALED(status) {
            assert_eq!(
                libc::WTERMSIG(status),
                libc::SIGSYS,
                "killed by an unexpected signal"
            );
            return "kill".into();
        }
        match libc::WEXITSTATUS(status) {
            0 => "allow".into(),
            200 => panic!("prctl(PR_SET_NO_NEW_PRIVS) failed in the child"),
            201 => panic!("seccomp(SECCOMP_SET_MODE_FILTER) refused the filter"),
            c => format!("return {}", c - 100),
        }
    }
}

#[test]
fn kernel_agrees_with_simulator() {
    let mut opts = CompileOptions::new(Arch::X86_64);
    opts.kill = KillMode::Process;
    let prog = compile_str("kernel.policy", POLICY, &opts).unwrap();
    let x32 = 0x4000_0000i64;
    let cases: [(i64, [u64; 6], &str); 9] = [
        (libc::SYS_getpid, [0; 6], "allow"),
        (libc::SYS_getuid, [0; 6], "return 77"),
        (libc::SYS_getppid, [0; 6], "kill"),
        (libc::SYS_getpriority, [0, 0, 0, 0, 0, 0], "allow"),
        (libc::SYS_getpriority, [1, 0, 0, 0, 0, 0], "return 13"),
        // The kernel passes all 64 bits: the high word alone must fail `arg0 == 0`.
        (
            libc::SYS_getpriority,
            [0x1_0000_0000, 0, 0, 0, 0, 0],
            "return 13",
        ),
        (libc::SYS_getegid, [0; 6], "return 1"),
        // getpid through the x32 ABI must not reach the getpid rule.
        (x32 | libc::SYS_getpid, [0; 6], "kill"),
        (-1, [0; 6], "return 1"),
    ];
    for (nr, args, want) in cases {
        let predicted = bpf::describe_ret(prog.eval(nr as u32, args));
        let predicted = if predicted.starts_with("kill") {
            "kill".to_string()
        } else {
            predicted
        };
        assert_eq!(predicted, want, "simulator, nr {nr:#x}");
        assert_eq!(
            run_in_child(&prog, nr, args),
            want,
            "kernel, nr {nr:#x} args {args:x?}"
        );
    }
}

#[test]
fn kernel_accepts_real_profiles() {
    // The kernel verifier accepts what we emit for big profiles (and trampolines).
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
    let opts = CompileOptions::new(Arch::X86_64);
    let mut big = String::from("@default return EPERM\nexit_group: allow\n");
    let names = Arch::X86_64
        .syscalls()
        .iter()
        .filter(|(n, _)| *n != "exit_group" && *n != "getpid");
    for (i, (name, _)) in names.enumerate().skip(20).take(100) {
        big += &format!(
            "{name}: arg0 == {i} || arg1 > 0x1{i:08x} && arg2 != -{i}; return {}\n",
            i % 100 + 1
        );
    }
    let big = compile_str("big.policy", &big, &opts).unwrap();
    assert!(
        big.disasm().contains(": ja "),
        "the big policy should need trampolines"
    );
    let mut progs = vec![big];
    for f in [
        "allowlist-300.policy",
        "daemon.policy",
        "docker-default.json",
    ] {
        progs.push(
            krsi_seccomp::compile_file(std::path::Path::new(&format!("{dir}{f}")), &opts).unwrap(),
        );
    }
    for prog in &progs {
        // getpid is allowed by all three fixtures; the big policy returns EPERM.
        let want = bpf::describe_ret(prog.eval(libc::SYS_getpid as u32, [0; 6]));
        assert_eq!(run_in_child(prog, libc::SYS_getpid, [0; 6]), want);
    }
}
