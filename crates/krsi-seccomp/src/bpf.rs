//! Classic BPF as seccomp uses it: instruction layout, return values, an interpreter
//! that counts executed instructions, and a disassembler.
use std::fmt::Write as _;

/// `struct sock_filter` from `<linux/filter.h>`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

impl SockFilter {
    pub const fn stmt(code: u16, k: u32) -> Self {
        SockFilter {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }
    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Self {
        SockFilter { code, jt, jf, k }
    }
}

/// `struct seccomp_data` from `<linux/seccomp.h>`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeccompData {
    pub nr: i32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

impl SeccompData {
    /// Reads the 32-bit word at byte offset `off` the way the kernel's seccomp
    /// loader does (native endian, aligned, inside the struct).
    pub fn word(&self, off: u32) -> Option<u32> {
        if !off.is_multiple_of(4) || off >= 64 {
            return None;
        }
        Some(match off {
            0 => self.nr as u32,
            4 => self.arch,
            8 => self.instruction_pointer as u32,
            12 => (self.instruction_pointer >> 32) as u32,
            _ => {
                let i = ((off - 16) / 8) as usize;
                let v = self.args[i];
                if (off - 16).is_multiple_of(8) {
                    lo_half(v)
                } else {
                    hi_half(v)
                }
            }
        })
    }
}

fn lo_half(v: u64) -> u32 {
    if cfg!(target_endian = "little") {
        v as u32
    } else {
        (v >> 32) as u32
    }
}
fn hi_half(v: u64) -> u32 {
    if cfg!(target_endian = "little") {
        (v >> 32) as u32
    } else {
        v as u32
    }
}

/// Byte offset of the low 32 bits of argument `i` in `seccomp_data` (native endian).
pub fn arg_lo_offset(i: usize) -> u32 {
    16 + 8 * i as u32 + if cfg!(target_endian = "little") { 0 } else { 4 }
}
/// Byte offset of the high 32 bits of argument `i` in `seccomp_data`.
pub fn arg_hi_offset(i: usize) -> u32 {
    16 + 8 * i as u32 + if cfg!(target_endian = "little") { 4 } else { 0 }
}
pub const NR_OFFSET: u32 = 0;
pub const ARCH_OFFSET: u32 = 4;

// Instruction classes and fields (linux/bpf_common.h).
pub const BPF_LD: u16 = 0x00;
pub const BPF_LDX: u16 = 0x01;
pub const BPF_ST: u16 = 0x02;
pub const BPF_STX: u16 = 0x03;
pub const BPF_ALU: u16 = 0x04;
pub const BPF_JMP: u16 = 0x05;
pub const BPF_RET: u16 = 0x06;
pub const BPF_MISC: u16 = 0x07;
pub const BPF_W: u16 = 0x00;
pub const BPF_ABS: u16 = 0x20;
pub const BPF_IMM: u16 = 0x00;
pub const BPF_MEM: u16 = 0x60;
pub const BPF_LEN: u16 = 0x80;
pub const BPF_ADD: u16 = 0x00;
pub const BPF_SUB: u16 = 0x10;
pub const BPF_MUL: u16 = 0x20;
pub const BPF_DIV: u16 = 0x30;
pub const BPF_OR: u16 = 0x40;
pub const BPF_AND: u16 = 0x50;
pub const BPF_LSH: u16 = 0x60;
pub const BPF_RSH: u16 = 0x70;
pub const BPF_NEG: u16 = 0x80;
pub const BPF_MOD: u16 = 0x90;
pub const BPF_XOR: u16 = 0xa0;
pub const BPF_JA: u16 = 0x00;
pub const BPF_JEQ: u16 = 0x10;
pub const BPF_JGT: u16 = 0x20;
pub const BPF_JGE: u16 = 0x30;
pub const BPF_JSET: u16 = 0x40;
pub const BPF_K: u16 = 0x00;
pub const BPF_X: u16 = 0x08;
pub const BPF_A: u16 = 0x10;
pub const BPF_TAX: u16 = 0x00;
pub const BPF_TXA: u16 = 0x80;
/// BPF_MAXINSNS: the kernel rejects longer filters.
pub const BPF_MAXINSNS: usize = 4096;
const BPF_MEMWORDS: usize = 16;

// seccomp return values (linux/seccomp.h).
pub const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const SECCOMP_RET_KILL_THREAD: u32 = 0x0000_0000;
pub const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
pub const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
pub const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;
pub const SECCOMP_RET_LOG: u32 = 0x7ffc_0000;
pub const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
pub const SECCOMP_RET_ACTION_FULL: u32 = 0xffff_0000;
pub const SECCOMP_RET_DATA: u32 = 0x0000_ffff;

/// Why the interpreter stopped without a return value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimError {
    /// Ran off the end of the program or jumped past it.
    OutOfBounds(usize),
    /// An instruction the seccomp verifier would reject.
    BadInstruction(usize, u16),
    /// A load outside `seccomp_data` or misaligned.
    BadLoad(usize, u32),
}

/// The result of running a filter: the raw return value and how many
/// instructions were executed to get it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub ret: u32,
    pub executed: usize,
}

/// Runs `filter` on `data` like the kernel does, reporting verifier-style errors
/// instead of panicking on malformed programs.
pub fn run(filter: &[SockFilter], data: &SeccompData) -> Result<Outcome, SimError> {
    let mut a: u32 = 0;
    let mut x: u32 = 0;
    let mut mem = [0u32; BPF_MEMWORDS];
    let mut pc = 0usize;
    let mut executed = 0usize;
    loop {
        let ins = *filter.get(pc).ok_or(SimError::OutOfBounds(pc))?;
        executed += 1;
        let bad = || SimError::BadInstruction(pc, ins.code);
        match ins.code & 0x07 {
            BPF_LD | BPF_LDX => {
                let v = match ins.code & 0xe0 {
                    BPF_ABS if ins.code & 0x18 == BPF_W && ins.code & 0x07 == BPF_LD => {
                        data.word(ins.k).ok_or(SimError::BadLoad(pc, ins.k))?
                    }
                    BPF_IMM => ins.k,
                    BPF_MEM => *mem.get(ins.k as usize).ok_or_else(bad)?,
                    // seccomp_data is 64 bytes long.
                    BPF_LEN => 64,
                    _ => return Err(bad()),
                };
                if ins.code & 0x07 == BPF_LD {
                    a = v;
                } else {
                    x = v;
                }
                pc += 1;
            }
            BPF_ST | BPF_STX => {
                let slot = mem.get_mut(ins.k as usize).ok_or_else(bad)?;
                *slot = if ins.code & 0x07 == BPF_ST { a } else { x };
                pc += 1;
            }
            BPF_ALU => {
                let operand = if ins.code & BPF_X != 0 { x } else { ins.k };
                a = match ins.code & 0xf0 {
                    BPF_ADD => a.wrapping_add(operand),
                    BPF_SUB => a.wrapping_sub(operand),
                    BPF_MUL => a.wrapping_mul(operand),
                    BPF_DIV => a.checked_div(operand).ok_or_else(bad)?,
                    BPF_MOD => a.checked_rem(operand).ok_or_else(bad)?,
                    BPF_OR => a | operand,
                    BPF_AND => a & operand,
                    BPF_XOR => a ^ operand,
                    BPF_LSH => a.checked_shl(operand).unwrap_or(0),
                    BPF_RSH => a.checked_shr(operand).unwrap_or(0),
                    BPF_NEG => a.wrapping_neg(),
                    _ => return Err(bad()),
                };
                pc += 1;
            }
            BPF_JMP => {
                let next = pc + 1;
                if ins.code & 0xf0 == BPF_JA {
                    pc = next + ins.k as usize;
                } else {
                    let operand = if ins.code & BPF_X != 0 { x } else { ins.k };
                    let taken = match ins.code & 0xf0 {
                        BPF_JEQ => a == operand,
                        BPF_JGT => a > operand,
                        BPF_JGE => a >= operand,
                        BPF_JSET => a & operand != 0,
                        _ => return Err(bad()),
                    };
                    pc = next + if taken { ins.jt } else { ins.jf } as usize;
                }
            }
            BPF_RET => {
                let ret = match ins.code & 0x18 {
                    BPF_K => ins.k,
                    BPF_A => a,
                    _ => return Err(bad()),
                };
                return Ok(Outcome { ret, executed });
            }
            BPF_MISC => {
                match ins.code & 0xf8 {
                    BPF_TAX => x = a,
                    BPF_TXA => a = x,
                    _ => return Err(bad()),
                }
                pc += 1;
            }
            _ => return Err(bad()),
        }
    }
}

/// Runs `filter` and returns the raw `SECCOMP_RET_*` value. A malformed program
/// (which the kernel would refuse to load) yields `SECCOMP_RET_KILL_PROCESS`.
pub fn simulate(filter: &[SockFilter], data: &SeccompData) -> u32 {
    run(filter, data).map_or(SECCOMP_RET_KILL_PROCESS, |o| o.ret)
}

/// Describes a raw return value the way a policy would spell it.
pub fn describe_ret(ret: u32) -> String {
    match ret & SECCOMP_RET_ACTION_FULL {
        SECCOMP_RET_ALLOW => "allow".into(),
        SECCOMP_RET_KILL_THREAD => "kill-thread".into(),
        SECCOMP_RET_TRAP => "trap".into(),
        SECCOMP_RET_ERRNO => format!("return {}", ret & SECCOMP_RET_DATA),
        SECCOMP_RET_USER_NOTIF => "user-notify".into(),
        SECCOMP_RET_TRACE => "trace".into(),
        SECCOMP_RET_LOG => "log".into(),
        // The kernel treats every unknown action as kill-process.
        _ => "kill-process".into(),
    }
}

fn ld_name(k: u32) -> String {
    match k {
        0 => "nr".into(),
        4 => "arch".into(),
        8 => "ip_lo".into(),
        12 => "ip_hi".into(),
        16..=63 => {
            let i = (k - 16) / 8;
            if k == arg_lo_offset(i as usize) {
                format!("arg{i}_lo")
            } else {
                format!("arg{i}_hi")
            }
        }
        _ => format!("[{k}]"),
    }
}

/// A readable listing, one instruction per line, with absolute jump targets.
pub fn disasm(filter: &[SockFilter]) -> String {
    let mut out = String::new();
    for (pc, ins) in filter.iter().enumerate() {
        let next = pc + 1;
        let text = match ins.code {
            c if c == BPF_LD | BPF_W | BPF_ABS => format!("ld  {}", ld_name(ins.k)),
            c if c == BPF_LD | BPF_IMM => format!("ld  #{:#x}", ins.k),
            c if c == BPF_LDX | BPF_IMM => format!("ldx #{:#x}", ins.k),
            c if c == BPF_LD | BPF_MEM => format!("ld  M[{}]", ins.k),
            c if c == BPF_ST => format!("st  M[{}]", ins.k),
            c if c == BPF_ALU | BPF_AND | BPF_K => format!("and #{:#x}", ins.k),
            c if c == BPF_ALU | BPF_OR | BPF_K => format!("or  #{:#x}", ins.k),
            c if c == BPF_JMP | BPF_JA => format!("ja  {}", next + ins.k as usize),
            c if c & 0x07 == BPF_JMP => {
                let op = match c & 0xf0 {
                    BPF_JEQ => "jeq",
                    BPF_JGT => "jgt",
                    BPF_JGE => "jge",
                    BPF_JSET => "jset",
                    _ => "j??",
                };
                format!(
                    "{op:<4} #{:#x}, {}, {}",
                    ins.k,
                    next + ins.jt as usize,
                    next + ins.jf as usize
                )
            }
            c if c == BPF_RET | BPF_K => format!("ret {}", describe_ret(ins.k)),
            c if c == BPF_RET | BPF_A => "ret a".into(),
            _ => format!(
                "code={:#06x} jt={} jf={} k={:#x}",
                ins.code, ins.jt, ins.jf, ins.k
            ),
        };
        let _ = writeln!(out, "{pc:4}: {text}");
    }
    out
}

/// The filter as raw bytes (an array of `struct sock_filter`, native endian).
pub fn to_bytes(filter: &[SockFilter]) -> Vec<u8> {
    let mut out = Vec::with_capacity(filter.len() * 8);
    for ins in filter {
        out.extend_from_slice(&ins.code.to_ne_bytes());
        out.push(ins.jt);
        out.push(ins.jf);
        out.extend_from_slice(&ins.k.to_ne_bytes());
    }
    out
}

/// Parses raw bytes written by [`to_bytes`] (or libseccomp's `seccomp_export_bpf`).
pub fn from_bytes(bytes: &[u8]) -> Option<Vec<SockFilter>> {
    if !bytes.len().is_multiple_of(8) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(8)
            .map(|c| SockFilter {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect(),
    )
}
