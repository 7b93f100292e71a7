//! Minimal FFI to the system libseccomp (Debian `libseccomp-dev`), used only by
//! tests and the benchmark to compare against krsi's compiler.
#![allow(dead_code)]
use std::os::raw::{c_int, c_uint, c_void};

use krsi_seccomp::policy::{Op, Policy};
use krsi_seccomp::{bpf, Action, SockFilter};

#[repr(C)]
struct ScmpArgCmp {
    arg: c_uint,
    op: c_int,
    datum_a: u64,
    datum_b: u64,
}

#[link(name = "seccomp")]
extern "C" {
    fn seccomp_init(def_action: u32) -> *mut c_void;
    fn seccomp_release(ctx: *mut c_void);
    fn seccomp_attr_set(ctx: *mut c_void, attr: c_int, value: u32) -> c_int;
    fn seccomp_rule_add_exact_array(
        ctx: *mut c_void,
        action: u32,
        syscall: c_int,
        arg_cnt: c_uint,
        arg_array: *const ScmpArgCmp,
    ) -> c_int;
    fn seccomp_export_bpf(ctx: *mut c_void, fd: c_int) -> c_int;
}

const SCMP_FLTATR_ACT_BADARCH: c_int = 2;
const SCMP_FLTATR_CTL_OPTIMIZE: c_int = 8;

fn cmp(op: Op) -> Option<(c_int, u64, u64)> {
    Some(match op {
        Op::Ne(v) => (1, v, 0),
        Op::Lt(v) => (2, v, 0),
        Op::Le(v) => (3, v, 0),
        Op::Eq(v) => (4, v, 0),
        Op::Ge(v) => (5, v, 0),
        Op::Gt(v) => (6, v, 0),
        Op::MaskedEq { mask, value } => (7, mask, value),
        // One bit set is the same as that bit masked-equal to itself.
        Op::AnyBits(m) if m.is_power_of_two() => (7, m, m),
        Op::AnyBits(_) => return None,
    })
}

/// Builds the same policy with libseccomp (`optimize` = SCMP_FLTATR_CTL_OPTIMIZE,
/// 1 = priority-sorted list, 2 = binary tree) and exports its BPF. Fails when the
/// policy uses something libseccomp cannot express.
pub fn compile(policy: &Policy, optimize: u32) -> Result<Vec<SockFilter>, String> {
    let default = policy.default_action.ret();
    // SAFETY: plain libseccomp calls on a context we own and release below.
    unsafe {
        let ctx = seccomp_init(default);
        if ctx.is_null() {
            return Err("seccomp_init failed".into());
        }
        let guard = Ctx(ctx);
        seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, Action::KillProcess.ret());
        if seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, optimize) != 0 {
            return Err("optimize attribute not supported".into());
        }
        for rule in &policy.rules {
            let (last, conds) = rule.filters.split_last().unwrap();
            if conds.is_empty() {
                if last.action != policy.default_action {
                    let rc = seccomp_rule_add_exact_array(
                        ctx,
                        last.action.ret(),
                        rule.nr as c_int,
                        0,
                        std::ptr::null(),
                    );
                    if rc != 0 {
                        return Err(format!("{}: rule_add failed: {rc}", rule.name));
                    }
                }
                continue;
            }
            let action = conds[0].action;
            for f in conds {
                if f.action != action {
                    return Err(format!("{}: mixed conditional actions", rule.name));
                }
                if f.action == policy.default_action {
                    continue;
                }
                for clause in f.expr.as_ref().unwrap() {
                    let mut args = Vec::new();
                    for a in clause {
                        let (op, da, db) = cmp(a.op).ok_or("`&` has no libseccomp equivalent")?;
                        args.push(ScmpArgCmp {
                            arg: a.arg as c_uint,
                            op,
                            datum_a: da,
                            datum_b: db,
                        });
                    }
                    let rc = seccomp_rule_add_exact_array(
                        ctx,
                        action.ret(),
                        rule.nr as c_int,
                        args.len() as c_uint,
                        args.as_ptr(),
                    );
                    if rc != 0 {
                        return Err(format!("{}: rule_add failed: {rc}", rule.name));
                    }
                }
            }
        }
        for rule in &policy.rules {
            // A non-default fallback after conditional rules: libseccomp applies an
            // unconditional rule only where no conditional rule matched.
            let (last, conds) = rule.filters.split_last().unwrap();
            if !conds.is_empty() && last.action != policy.default_action {
                let rc = seccomp_rule_add_exact_array(
                    ctx,
                    last.action.ret(),
                    rule.nr as c_int,
                    0,
                    std::ptr::null(),
                );
                if rc != 0 {
                    return Err(format!("{}: fallback rule_add failed: {rc}", rule.name));
                }
            }
        }
        let fd = libc::memfd_create(c"krsi-libseccomp".as_ptr(), 0);
        if fd < 0 {
            return Err("memfd_create failed".into());
        }
        let rc = seccomp_export_bpf(ctx, fd);
        let mut bytes = Vec::new();
        if rc == 0 {
            libc::lseek(fd, 0, libc::SEEK_SET);
            let mut buf = [0u8; 8192];
            loop {
                let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
                if n <= 0 {
                    break;
                }
                bytes.extend_from_slice(&buf[..n as usize]);
            }
        }
        libc::close(fd);
        drop(guard);
        if rc != 0 {
            return Err(format!("seccomp_export_bpf failed: {rc}"));
        }
        bpf::from_bytes(&bytes).ok_or_else(|| "odd-sized export".into())
    }
}

struct Ctx(*mut c_void);

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: the context came from seccomp_init and is released once.
        unsafe { seccomp_release(self.0) }
    }
}
