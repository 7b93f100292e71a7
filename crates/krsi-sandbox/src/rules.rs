//! The user-notification rule set: how krsi answers syscalls a policy sends to
//! `user-notify`.
//!
//! One rule per line, first match wins, `#` starts a comment:
//!
//! ```text
//! SYSCALL|*  [if COND {and COND}]  =>  continue | errno VALUE | return VALUE
//! COND  := argN [& VALUE] (== | != | < | <= | > | >=) VALUE
//!        | str(argN) (== | != | prefix) "STRING"
//! VALUE := NUMBER | NAME {"|" NUMBER | NAME}      (decimal, -decimal, 0x.., 0o..)
//! ```
//!
//! A notification that no rule matches fails with EPERM (fail closed).
use std::collections::HashMap;
use std::fmt;

use krsi_seccomp::{syscall_name, syscall_number, Arch};

use crate::names;
use crate::sys::{MemError, Notification, Reply};

/// Longest string `str(argN)` reads (PATH_MAX).
pub const STR_MAX: usize = 4096;

/// A located parse error: `file:line:column: message`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct RuleError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrOp {
    Eq,
    Ne,
    Prefix,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cond {
    /// `argN [& mask] OP value`, compared as unsigned 64-bit.
    Int {
        arg: usize,
        mask: Option<u64>,
        op: CmpOp,
        value: u64,
    },
    /// `str(argN) OP "bytes"`: argN points at a NUL-terminated string in the target.
    Str {
        arg: usize,
        op: StrOp,
        value: Vec<u8>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Line in the rule file, reported with every decision.
    pub line: usize,
    /// `None` is `*` (any syscall).
    pub syscall: Option<(String, u32)>,
    pub conds: Vec<Cond>,
    pub reply: Reply,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSet {
    pub file: String,
    pub arch: Arch,
    pub rules: Vec<Rule>,
    /// Located warnings (TOCTOU-prone rules), same format as errors.
    pub warnings: Vec<String>,
}

/// What the rule set decided for one notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub reply: Reply,
    /// The matching rule's line, or `None` for the fail-closed default.
    pub line: Option<usize>,
}

/// Access to the target's memory while deciding; see [`crate::sys::TargetMem`].
pub trait TargetMemory {
    fn read_cstr(&mut self, addr: u64, max: usize) -> Result<Vec<u8>, MemError>;
}

impl TargetMemory for crate::sys::TargetMem<'_> {
    fn read_cstr(&mut self, addr: u64, max: usize) -> Result<Vec<u8>, MemError> {
        crate::sys::TargetMem::read_cstr(self, addr, max)
    }
}

/// The answer when no rule matches.
pub const DEFAULT_REPLY: Reply = Reply::Errno(libc::EPERM);

impl RuleSet {
    /// Decides `n`. `Err(MemError::Gone)` means the target vanished while its memory
    /// was being read: the notification must be dropped, not answered.
    pub fn decide(
        &self,
        n: &Notification,
        mem: &mut dyn TargetMemory,
    ) -> Result<Decision, MemError> {
        // Each string is read once per notification so all conditions see one value.
        let mut strings: HashMap<usize, Option<Vec<u8>>> = HashMap::new();
        'rules: for rule in &self.rules {
            if n.data.arch != self.arch.audit_arch() {
                break;
            }
            if let Some((_, nr)) = &rule.syscall {
                if n.data.nr as u32 != *nr {
                    continue;
                }
            }
            for cond in &rule.conds {
                let ok = match cond {
                    Cond::Int {
                        arg,
                        mask,
                        op,
                        value,
                    } => {
                        let a = n.data.args[*arg] & mask.unwrap_or(u64::MAX);
                        match op {
                            CmpOp::Eq => a == *value,
                            CmpOp::Ne => a != *value,
                            CmpOp::Lt => a < *value,
                            CmpOp::Le => a <= *value,
                            CmpOp::Gt => a > *value,
                            CmpOp::Ge => a >= *value,
                        }
                    }
                    Cond::Str { arg, op, value } => {
                        if !strings.contains_key(arg) {
                            let s = match mem.read_cstr(n.data.args[*arg], STR_MAX) {
                                Ok(s) => Some(s),
                                Err(MemError::Unreadable) => None,
                                Err(MemError::Gone) => return Err(MemError::Gone),
                            };
                            strings.insert(*arg, s);
                        }
                        // An unreadable string matches no string condition.
                        match &strings[arg] {
                            None => false,
                            Some(s) => match op {
                                StrOp::Eq => s == value,
                                StrOp::Ne => s != value,
                                StrOp::Prefix => s.starts_with(value),
                            },
                        }
                    }
                };
                if !ok {
                    continue 'rules;
                }
            }
            return Ok(Decision {
                reply: rule.reply,
                line: Some(rule.line),
            });
        }
        Ok(Decision {
            reply: DEFAULT_REPLY,
            line: None,
        })
    }

    /// The syscall name of a notification on this rule set's architecture.
    pub fn syscall_label(&self, nr: i32) -> String {
        syscall_name(self.arch, nr as u32)
            .map(str::to_string)
            .unwrap_or_else(|| format!("syscall_{nr}"))
    }
}

// ---------------------------------------------------------------- lexer

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Num(u64),
    Str(Vec<u8>),
    Punct(&'static str),
}

struct Lexer<'a> {
    file: &'a str,
    line: usize,
    chars: Vec<char>,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn err(&self, col: usize, msg: impl Into<String>) -> RuleError {
        RuleError {
            file: self.file.to_string(),
            line: self.line,
            column: col,
            message: msg.into(),
        }
    }

    /// All tokens of the line with their 1-based columns; stops at `#`.
    fn tokens(mut self) -> Result<Vec<(usize, Tok)>, RuleError> {
        let mut out = Vec::new();
        while self.pos < self.chars.len() {
            let c = self.chars[self.pos];
            let col = self.pos + 1;
            if c.is_whitespace() {
                self.pos += 1;
            } else if c == '#' {
                break;
            } else if c.is_ascii_alphabetic() || c == '_' {
                let start = self.pos;
                while self.pos < self.chars.len()
                    && (self.chars[self.pos].is_ascii_alphanumeric() || self.chars[self.pos] == '_')
                {
                    self.pos += 1;
                }
                out.push((
                    col,
                    Tok::Ident(self.chars[start..self.pos].iter().collect()),
                ));
            } else if c.is_ascii_digit() || (c == '-' && self.peek_digit(1)) {
                out.push((col, Tok::Num(self.number()?)));
            } else if c == '"' {
                out.push((col, Tok::Str(self.string()?)));
            } else {
                let two: String = self.chars[self.pos..(self.pos + 2).min(self.chars.len())]
                    .iter()
                    .collect();
                let p = ["=>", "==", "!=", "<=", ">="]
                    .into_iter()
                    .find(|p| *p == two)
                    .or_else(|| {
                        ["<", ">", "&", "|", "(", ")", "*"]
                            .into_iter()
                            .find(|p| p.starts_with(c))
                    })
                    .ok_or_else(|| self.err(col, format!("unexpected character {c:?}")))?;
                self.pos += p.len();
                out.push((col, Tok::Punct(p)));
            }
        }
        Ok(out)
    }

    fn peek_digit(&self, off: usize) -> bool {
        self.chars
            .get(self.pos + off)
            .is_some_and(|c| c.is_ascii_digit())
    }

    fn number(&mut self) -> Result<u64, RuleError> {
        let col = self.pos + 1;
        let neg = self.chars[self.pos] == '-';
        if neg {
            self.pos += 1;
        }
        let start = self.pos;
        while self.pos < self.chars.len() && self.chars[self.pos].is_ascii_alphanumeric() {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        let (digits, radix) = if let Some(h) = text.strip_prefix("0x").or(text.strip_prefix("0X")) {
            (h, 16)
        } else if let Some(o) = text.strip_prefix("0o") {
            (o, 8)
        } else {
            (text.as_str(), 10)
        };
        let v = u64::from_str_radix(digits, radix)
            .map_err(|_| self.err(col, format!("bad number {text:?}")))?;
        if neg {
            if v > i64::MAX as u64 + 1 {
                return Err(self.err(col, format!("number -{text} is out of range")));
            }
            Ok((v as i64).wrapping_neg() as u64)
        } else {
            Ok(v)
        }
    }

    fn string(&mut self) -> Result<Vec<u8>, RuleError> {
        let col = self.pos + 1;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.chars.get(self.pos) else {
                return Err(self.err(col, "unterminated string"));
            };
            self.pos += 1;
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let ecol = self.pos;
                    let e = *self
                        .chars
                        .get(self.pos)
                        .ok_or_else(|| self.err(col, "unterminated string"))?;
                    self.pos += 1;
                    match e {
                        '"' => out.push(b'"'),
                        '\\' => out.push(b'\\'),
                        'n' => out.push(b'\n'),
                        't' => out.push(b'\t'),
                        'x' => {
                            let hex: String = self
                                .chars
                                .get(self.pos..self.pos + 2)
                                .map(|s| s.iter().collect())
                                .unwrap_or_default();
                            let b = u8::from_str_radix(&hex, 16)
                                .map_err(|_| self.err(ecol, "\\x needs two hex digits"))?;
                            if b == 0 {
                                return Err(self.err(ecol, "a string cannot contain NUL"));
                            }
                            out.push(b);
                            self.pos += 2;
                        }
                        _ => return Err(self.err(ecol, format!("unknown escape \\{e}"))),
                    }
                }
                // The kernel-side string ends at the first NUL, so one inside could
                // never match (and would not survive printing).
                '\0' => return Err(self.err(self.pos, "a string cannot contain NUL")),
                c => {
                    let mut b = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                }
            }
        }
    }
}

// ---------------------------------------------------------------- parser

struct LineParser<'a> {
    file: &'a str,
    arch: Arch,
    line: usize,
    toks: Vec<(usize, Tok)>,
    pos: usize,
    /// Column just past the last character, for "expected ... at end of line".
    end_col: usize,
}

impl LineParser<'_> {
    fn err(&self, col: usize, msg: impl Into<String>) -> RuleError {
        RuleError {
            file: self.file.to_string(),
            line: self.line,
            column: col,
            message: msg.into(),
        }
    }

    fn col(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end_col, |t| t.0)
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.1)
    }

    fn next(&mut self, what: &str) -> Result<(usize, Tok), RuleError> {
        let t = self
            .toks
            .get(self.pos)
            .cloned()
            .ok_or_else(|| self.err(self.end_col, format!("expected {what} at end of line")))?;
        self.pos += 1;
        Ok(t)
    }

    fn expect_punct(&mut self, p: &str) -> Result<(), RuleError> {
        let (col, t) = self.next(&format!("'{p}'"))?;
        if t != Tok::Punct(leak_punct(p)) {
            return Err(self.err(col, format!("expected '{p}', found {}", describe(&t))));
        }
        Ok(())
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Tok::Punct(q)) if *q == p)
    }

    fn is_ident(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(i)) if i == w)
    }

    /// VALUE := atom {"|" atom}
    fn value(&mut self) -> Result<u64, RuleError> {
        let mut v = self.atom()?;
        while self.is_punct("|") {
            self.pos += 1;
            v |= self.atom()?;
        }
        Ok(v)
    }

    fn atom(&mut self) -> Result<u64, RuleError> {
        let (col, t) = self.next("a number or constant")?;
        match t {
            Tok::Num(n) => Ok(n),
            Tok::Ident(name) => names::constant(self.arch, &name)
                .ok_or_else(|| self.err(col, format!("unknown constant '{name}'"))),
            t => Err(self.err(
                col,
                format!("expected a number or constant, found {}", describe(&t)),
            )),
        }
    }

    /// `argN` → N
    fn arg(&mut self) -> Result<usize, RuleError> {
        let (col, t) = self.next("argN")?;
        if let Tok::Ident(name) = &t {
            if let Some(d) = name.strip_prefix("arg") {
                if let Ok(i) = d.parse::<usize>() {
                    if i < 6 && d.len() == 1 {
                        return Ok(i);
                    }
                    return Err(self.err(col, format!("'{name}': arguments are arg0..arg5")));
                }
            }
        }
        Err(self.err(col, format!("expected argN, found {}", describe(&t))))
    }

    fn cond(&mut self) -> Result<Cond, RuleError> {
        if self.is_ident("str") {
            self.pos += 1;
            self.expect_punct("(")?;
            let arg = self.arg()?;
            self.expect_punct(")")?;
            let (col, t) = self.next("'==', '!=' or 'prefix'")?;
            let op = match &t {
                Tok::Punct("==") => StrOp::Eq,
                Tok::Punct("!=") => StrOp::Ne,
                Tok::Ident(w) if w == "prefix" => StrOp::Prefix,
                t => {
                    return Err(self.err(
                        col,
                        format!("expected '==', '!=' or 'prefix', found {}", describe(t)),
                    ))
                }
            };
            let (col, t) = self.next("a string")?;
            let Tok::Str(value) = t else {
                return Err(self.err(col, format!("expected a string, found {}", describe(&t))));
            };
            if value.len() > STR_MAX {
                return Err(self.err(col, format!("string longer than {STR_MAX} bytes")));
            }
            return Ok(Cond::Str { arg, op, value });
        }
        let arg = self.arg()?;
        let mask = if self.is_punct("&") {
            self.pos += 1;
            Some(self.value()?)
        } else {
            None
        };
        let (col, t) = self.next("a comparison")?;
        let op = match t {
            Tok::Punct("==") => CmpOp::Eq,
            Tok::Punct("!=") => CmpOp::Ne,
            Tok::Punct("<") => CmpOp::Lt,
            Tok::Punct("<=") => CmpOp::Le,
            Tok::Punct(">") => CmpOp::Gt,
            Tok::Punct(">=") => CmpOp::Ge,
            t => {
                return Err(self.err(
                    col,
                    format!(
                        "expected a comparison (== != < <= > >=), found {}",
                        describe(&t)
                    ),
                ))
            }
        };
        let value = self.value()?;
        Ok(Cond::Int {
            arg,
            mask,
            op,
            value,
        })
    }

    fn reply(&mut self) -> Result<Reply, RuleError> {
        let (col, t) = self.next("an action")?;
        let word = match &t {
            Tok::Ident(w) => w.as_str(),
            t => {
                return Err(self.err(
                    col,
                    format!(
                        "expected an action (continue, errno, return), found {}",
                        describe(t)
                    ),
                ))
            }
        };
        match word {
            "continue" => Ok(Reply::Continue),
            "errno" => {
                let vcol = self.col();
                let v = self.value()?;
                if !(1..=4095).contains(&v) {
                    return Err(self.err(vcol, format!("errno {v} is outside 1..=4095")));
                }
                Ok(Reply::Errno(v as i32))
            }
            "return" => Ok(Reply::Return(self.value()? as i64)),
            w => Err(self.err(
                col,
                format!("unknown action '{w}' (expected continue, errno or return)"),
            )),
        }
    }
}

fn leak_punct(p: &str) -> &'static str {
    [
        "=>", "==", "!=", "<=", ">=", "<", ">", "&", "|", "(", ")", "*",
    ]
    .into_iter()
    .find(|q| *q == p)
    .unwrap_or("?")
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(i) => format!("'{i}'"),
        Tok::Num(n) => format!("number {n}"),
        Tok::Str(_) => "a string".into(),
        Tok::Punct(p) => format!("'{p}'"),
    }
}

/// Parses a rule file's text; `file` names it in errors.
pub fn parse(file: &str, text: &str, arch: Arch) -> Result<RuleSet, RuleError> {
    let mut rules = Vec::new();
    let mut warnings = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let chars: Vec<char> = line.chars().collect();
        let end_col = chars.len() + 1;
        let toks = Lexer {
            file,
            line: lineno,
            chars,
            pos: 0,
        }
        .tokens()?;
        if toks.is_empty() {
            continue;
        }
        let mut p = LineParser {
            file,
            arch,
            line: lineno,
            toks,
            pos: 0,
            end_col,
        };
        let (col, t) = p.next("a syscall name")?;
        let syscall = match t {
            Tok::Punct("*") => None,
            Tok::Ident(name) => {
                let nr = syscall_number(arch, &name)
                    .ok_or_else(|| p.err(col, format!("unknown syscall '{name}' on {arch}")))?;
                Some((name, nr))
            }
            t => {
                return Err(p.err(
                    col,
                    format!("expected a syscall name or '*', found {}", describe(&t)),
                ))
            }
        };
        let mut conds = Vec::new();
        let mut str_col = None;
        if p.is_ident("if") {
            p.pos += 1;
            loop {
                let c_col = p.col();
                let c = p.cond()?;
                if matches!(c, Cond::Str { .. }) && str_col.is_none() {
                    str_col = Some(c_col);
                }
                conds.push(c);
                if p.is_ident("and") {
                    p.pos += 1;
                } else {
                    break;
                }
            }
        }
        if !p.is_punct("=>") {
            let col = p.col();
            let found = p.peek().map_or("end of line".to_string(), describe);
            return Err(p.err(col, format!("expected 'if', 'and' or '=>', found {found}")));
        }
        p.pos += 1;
        let action_col = p.col();
        let reply = p.reply()?;
        if p.pos < p.toks.len() {
            let (col, t) = p.toks[p.pos].clone();
            return Err(p.err(col, format!("unexpected {} after the action", describe(&t))));
        }
        if let Reply::Return(v) = reply {
            if (-4095..=-1).contains(&v) {
                warnings.push(format!(
                    "{file}:{lineno}:{action_col}: warning: 'return {v}' reaches the program as \
                     a raw return value, which libc turns into errno {}; write 'errno {}' if an \
                     error is meant",
                    -v, -v
                ));
            }
        }
        if let (Some(c), Reply::Continue) = (str_col, reply) {
            warnings.push(format!(
                "{file}:{lineno}:{c}: warning: 'continue' after a str() check is racy: the \
                 kernel re-reads the string after krsi answers, so another thread can swap it \
                 (TOCTOU); use str() checks to deny or emulate, not to allow"
            ));
        }
        rules.push(Rule {
            line: lineno,
            syscall,
            conds,
            reply,
        });
    }
    Ok(RuleSet {
        file: file.to_string(),
        arch,
        rules,
        warnings,
    })
}

/// Reads and parses a rule file for the native architecture.
pub fn parse_file(path: &std::path::Path) -> Result<RuleSet, RuleError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| RuleError {
        file: name.clone(),
        line: 0,
        column: 0,
        message: format!("cannot read rule file: {e}"),
    })?;
    parse(&name, &text, Arch::native())
}

// ---------------------------------------------------------------- canonical form

fn fmt_str(f: &mut fmt::Formatter<'_>, s: &[u8]) -> fmt::Result {
    f.write_str("\"")?;
    for &b in s {
        match b {
            b'"' => f.write_str("\\\"")?,
            b'\\' => f.write_str("\\\\")?,
            b'\n' => f.write_str("\\n")?,
            b'\t' => f.write_str("\\t")?,
            0x20..=0x7e => write!(f, "{}", b as char)?,
            _ => write!(f, "\\x{b:02x}")?,
        }
    }
    f.write_str("\"")
}

impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cond::Int {
                arg,
                mask,
                op,
                value,
            } => {
                write!(f, "arg{arg}")?;
                if let Some(m) = mask {
                    write!(f, " & {m:#x}")?;
                }
                let op = match op {
                    CmpOp::Eq => "==",
                    CmpOp::Ne => "!=",
                    CmpOp::Lt => "<",
                    CmpOp::Le => "<=",
                    CmpOp::Gt => ">",
                    CmpOp::Ge => ">=",
                };
                write!(f, " {op} {value:#x}")
            }
            Cond::Str { arg, op, value } => {
                let op = match op {
                    StrOp::Eq => "==",
                    StrOp::Ne => "!=",
                    StrOp::Prefix => "prefix",
                };
                write!(f, "str(arg{arg}) {op} ")?;
                fmt_str(f, value)
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.syscall {
            Some((name, _)) => f.write_str(name)?,
            None => f.write_str("*")?,
        }
        for (i, c) in self.conds.iter().enumerate() {
            write!(f, " {} {c}", if i == 0 { "if" } else { "and" })?;
        }
        match self.reply {
            Reply::Continue => f.write_str(" => continue"),
            Reply::Errno(e) => write!(f, " => errno {e}"),
            Reply::Return(v) => write!(f, " => return {v}"),
        }
    }
}

impl fmt::Display for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.rules {
            writeln!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Fuzz body (also run by `cargo test` with a deterministic input loop): parsing
/// arbitrary bytes must not panic, and a parsed set must print to text that parses
/// back to the same rules.
pub fn fuzz_rules(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(set) = parse("fuzz", text, Arch::X86_64) else {
        return;
    };
    let printed = set.to_string();
    let again = parse("fuzz", &printed, Arch::X86_64)
        .unwrap_or_else(|e| panic!("canonical form does not parse: {e}\n{printed}"));
    let strip = |s: &RuleSet| {
        s.rules
            .iter()
            .map(|r| (r.syscall.clone(), r.conds.clone(), r.reply))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&set), strip(&again), "round trip changed:\n{printed}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use krsi_seccomp::SeccompData;

    fn p(text: &str) -> Result<RuleSet, RuleError> {
        parse("t.rules", text, Arch::X86_64)
    }

    fn err(text: &str) -> String {
        p(text).unwrap_err().to_string()
    }

    struct Mem(HashMap<u64, Vec<u8>>, usize);
    impl TargetMemory for Mem {
        fn read_cstr(&mut self, addr: u64, _max: usize) -> Result<Vec<u8>, MemError> {
            self.1 += 1;
            if addr == 0xdead {
                return Err(MemError::Gone);
            }
            self.0.get(&addr).cloned().ok_or(MemError::Unreadable)
        }
    }

    fn notif(name: &str, args: [u64; 6]) -> Notification {
        Notification {
            id: 1,
            pid: 1,
            data: SeccompData {
                nr: syscall_number(Arch::X86_64, name).unwrap() as i32,
                arch: Arch::X86_64.audit_arch(),
                instruction_pointer: 0,
                args,
            },
        }
    }

    const SAMPLE: &str = r#"
# sample
getppid => return 4242
openat if str(arg1) == "/etc/shadow" => errno EACCES
openat if str(arg1) prefix "/tmp/" and arg2 & O_ACCMODE == O_RDONLY => continue
mkdir if arg1 > 0o777 => errno 22   # odd modes
kill if arg1 == SIGKILL | 0 => return -1
* => errno ENOSYS
"#;

    #[test]
    fn parses_sample() {
        let s = p(SAMPLE).unwrap();
        assert_eq!(s.rules.len(), 6);
        assert_eq!(s.rules[0].line, 3);
        assert_eq!(s.rules[0].reply, Reply::Return(4242));
        assert_eq!(s.rules[1].reply, Reply::Errno(libc::EACCES));
        assert_eq!(
            s.rules[2].conds[1],
            Cond::Int {
                arg: 2,
                mask: Some(3),
                op: CmpOp::Eq,
                value: 0
            }
        );
        assert_eq!(s.rules[4].reply, Reply::Return(-1));
        assert_eq!(s.rules[5].syscall, None);
        // The racy continue is flagged with its location.
        assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
        assert!(
            s.warnings[0].starts_with("t.rules:5:11: warning: 'continue'"),
            "{:?}",
            s.warnings
        );
        assert!(
            s.warnings[1].starts_with("t.rules:7:32: warning: 'return -1' reaches"),
            "{:?}",
            s.warnings
        );
    }

    #[test]
    fn decides_first_match() {
        let s = p(SAMPLE).unwrap();
        let mut mem = Mem(HashMap::new(), 0);
        mem.0.insert(0x1000, b"/etc/shadow".to_vec());
        mem.0.insert(0x2000, b"/tmp/x".to_vec());
        let d = s.decide(&notif("getppid", [0; 6]), &mut mem).unwrap();
        assert_eq!(
            d,
            Decision {
                reply: Reply::Return(4242),
                line: Some(3)
            }
        );
        let d = s
            .decide(&notif("openat", [0, 0x1000, 0, 0, 0, 0]), &mut mem)
            .unwrap();
        assert_eq!(d.reply, Reply::Errno(libc::EACCES));
        let d = s
            .decide(&notif("openat", [0, 0x2000, 0, 0, 0, 0]), &mut mem)
            .unwrap();
        assert_eq!(
            d,
            Decision {
                reply: Reply::Continue,
                line: Some(5)
            }
        );
        // Write access to /tmp falls through to the catch-all.
        let d = s
            .decide(&notif("openat", [0, 0x2000, 1, 0, 0, 0]), &mut mem)
            .unwrap();
        assert_eq!(
            d,
            Decision {
                reply: Reply::Errno(libc::ENOSYS),
                line: Some(8)
            }
        );
        // Unreadable strings match no str() condition.
        let d = s
            .decide(&notif("openat", [0, 0x3000, 0, 0, 0, 0]), &mut mem)
            .unwrap();
        assert_eq!(d.line, Some(8));
        let d = s
            .decide(&notif("mkdir", [0, 0o1777, 0, 0, 0, 0]), &mut mem)
            .unwrap();
        assert_eq!(d.reply, Reply::Errno(22));
        let d = s
            .decide(&notif("kill", [5, 9, 0, 0, 0, 0]), &mut mem)
            .unwrap();
        assert_eq!(d.reply, Reply::Return(-1));
    }

    #[test]
    fn gone_target_aborts_and_strings_read_once() {
        let s = p("openat if str(arg1) != \"/a\" and str(arg1) != \"/b\" => continue\n").unwrap();
        let mut mem = Mem(HashMap::new(), 0);
        mem.0.insert(0x1000, b"/c".to_vec());
        let d = s
            .decide(&notif("openat", [0, 0x1000, 0, 0, 0, 0]), &mut mem)
            .unwrap();
        assert_eq!(d.reply, Reply::Continue);
        assert_eq!(mem.1, 1, "the string must be read once per notification");
        assert_eq!(
            s.decide(&notif("openat", [0, 0xdead, 0, 0, 0, 0]), &mut mem),
            Err(MemError::Gone)
        );
    }

    #[test]
    fn default_is_eperm_and_foreign_arch_never_matches() {
        let s = p("* => continue\n").unwrap();
        let mut mem = Mem(HashMap::new(), 0);
        let mut n = notif("getpid", [0; 6]);
        n.data.arch = 0x4000_0003; // i386
        let d = s.decide(&n, &mut mem).unwrap();
        assert_eq!(
            d,
            Decision {
                reply: Reply::Errno(libc::EPERM),
                line: None
            }
        );
    }

    #[test]
    fn bad_input_is_located() {
        assert_eq!(
            err("frobnicate => continue"),
            "t.rules:1:1: unknown syscall 'frobnicate' on x86_64"
        );
        assert_eq!(
            err("getpid"),
            "t.rules:1:7: expected 'if', 'and' or '=>', found end of line"
        );
        assert_eq!(
            err("getpid =>"),
            "t.rules:1:10: expected an action at end of line"
        );
        assert_eq!(
            err("getpid => allow"),
            "t.rules:1:11: unknown action 'allow' (expected continue, errno or return)"
        );
        assert_eq!(
            err("\n  mkdir if arg6 == 1 => continue"),
            "t.rules:2:12: 'arg6': arguments are arg0..arg5"
        );
        assert_eq!(
            err("mkdir if arg0 = 1 => continue"),
            "t.rules:1:15: unexpected character '='"
        );
        assert_eq!(
            err("mkdir if str(arg0) < \"x\" => continue"),
            "t.rules:1:20: expected '==', '!=' or 'prefix', found '<'"
        );
        assert_eq!(
            err("mkdir if str(arg0) == \"x => continue"),
            "t.rules:1:23: unterminated string"
        );
        assert_eq!(
            err("mkdir if str(arg0) == \"\\q\" => continue"),
            "t.rules:1:24: unknown escape \\q"
        );
        assert_eq!(
            err("mkdir if str(arg0) == \"\\x00\" => continue"),
            "t.rules:1:24: a string cannot contain NUL"
        );
        assert_eq!(
            err("mkdir => errno 0"),
            "t.rules:1:16: errno 0 is outside 1..=4095"
        );
        assert_eq!(
            err("mkdir => errno ENOPE"),
            "t.rules:1:16: unknown constant 'ENOPE'"
        );
        assert_eq!(
            err("mkdir => errno 0xzz"),
            "t.rules:1:16: bad number \"0xzz\""
        );
        assert_eq!(
            err("mkdir => continue now"),
            "t.rules:1:19: unexpected 'now' after the action"
        );
        assert_eq!(
            err("mkdir if arg0 == -99999999999999999999 => continue"),
            "t.rules:1:18: bad number \"99999999999999999999\""
        );
        assert_eq!(
            err("=> continue"),
            "t.rules:1:1: expected a syscall name or '*', found '=>'"
        );
        assert_eq!(
            err("mkdir if 1 == 1 => continue"),
            "t.rules:1:10: expected argN, found number 1"
        );
        assert_eq!(err("mkdir @"), "t.rules:1:7: unexpected character '@'");
    }

    #[test]
    fn fuzz_regressions() {
        // cargo-fuzz found: a raw NUL inside a string literal was accepted, and its
        // canonical form (with \x00) was then rejected.
        assert_eq!(
            err("openat if str(arg1) prefix \"/tmV\0g\" => errno 1"),
            "t.rules:1:33: a string cannot contain NUL"
        );
        fuzz_rules(b"getppid => return 4242\nopenat if str(arg1) prefix \"/tmV\0\0\0g1) prefix \" => errno 1\n");
    }

    #[test]
    fn canonical_form_round_trips() {
        let s = p(SAMPLE).unwrap();
        let text = s.to_string();
        assert!(
            text.contains("openat if str(arg1) == \"/etc/shadow\" => errno 13"),
            "{text}"
        );
        let again = p(&text).unwrap();
        assert_eq!(again.to_string(), text);
        fuzz_rules(SAMPLE.as_bytes());
    }

    /// Deterministic stand-in for the cargo-fuzz target: mutate the sample corpus.
    #[test]
    fn fuzz_loop() {
        let corpus: Vec<&[u8]> = vec![
            SAMPLE.as_bytes(),
            b"mkdir if str(arg0) == \"a\\x41\\\"\" => errno EPERM\n",
            b"* if arg0 & 0xff | 0x100 >= -5 and arg5 < 3 => return 0x10\n",
        ];
        let alphabet: &[u8] =
            b" \n#\"\\x0123456789aefrgstx()*&|=<>!-_=>ifandcontinuereturnerrnoprefixstr";
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for i in 0..20_000 {
            let mut input = corpus[i % corpus.len()].to_vec();
            for _ in 0..(rnd() % 6 + 1) {
                let at = (rnd() as usize) % (input.len() + 1);
                match rnd() % 4 {
                    0 if !input.is_empty() => {
                        input.remove(at.min(input.len() - 1));
                    }
                    1 => input.insert(at, alphabet[(rnd() as usize) % alphabet.len()]),
                    2 => input.insert(at, rnd() as u8),
                    _ => {
                        let n = (rnd() % 8) as usize;
                        let from = (rnd() as usize) % (input.len() + 1);
                        let piece: Vec<u8> = input[from..(from + n).min(input.len())].to_vec();
                        input.splice(at..at, piece);
                    }
                }
            }
            fuzz_rules(&input);
        }
    }
}
