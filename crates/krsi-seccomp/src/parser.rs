//! Parser for minijail's seccomp policy language.
//!
//! Grammar and semantics follow minijail's `tools/parser.py`: statements are
//! `syscall: filter`, filters for one syscall accumulate across lines in order, a
//! syscall whose filters are all conditional falls through to the default action,
//! and a second unconditional action for one syscall is an error.
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::policy::{Atom, Filter, Op, Policy, Rule};
use crate::{consts, syscall_number, Action, CompileOptions, Error};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Default,
    Include,
    Frequency,
    Denylist,
    Path,
    Number,
    Colon,
    Semicolon,
    Comma,
    Complement,
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Or,
    And,
    BitOr,
    Op,
    Equal,
    Argument,
    Return,
    Action,
    Identifier,
}

#[derive(Clone, Debug)]
struct Token {
    kind: Kind,
    text: String,
    line: usize,
    col: usize,
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Length of keyword `kw` at the start of `s` if it is a whole word.
fn word_at(s: &[u8], kw: &str) -> Option<usize> {
    let k = kw.as_bytes();
    if s.starts_with(k) && s.get(k.len()).is_none_or(|&c| !is_word(c)) {
        Some(k.len())
    } else {
        None
    }
}

fn number_len(s: &[u8]) -> Option<usize> {
    let neg = usize::from(s.first() == Some(&b'-'));
    let d = &s[neg..];
    if d.len() > 2 && d[0] == b'0' && (d[1] | 0x20) == b'x' && d[2].is_ascii_hexdigit() {
        return Some(neg + 2 + d[2..].iter().take_while(|c| c.is_ascii_hexdigit()).count());
    }
    let n = d.iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 {
        return None;
    }
    if d[0] == b'0' && n > 1 {
        // C-style octal: only the octal digits belong to this token (as in minijail).
        let oct = d[1..]
            .iter()
            .take_while(|c| (b'0'..=b'7').contains(c))
            .count();
        if oct > 0 {
            return Some(neg + 1 + oct);
        }
    }
    Some(neg + n)
}

fn next_token(s: &[u8]) -> Option<(Kind, usize)> {
    let c = s[0];
    let kw = |k: &str| word_at(s, k);
    if c == b'@' {
        if let Some(n) = kw("@default") {
            return Some((Kind::Default, n));
        }
        if let Some(n) = kw("@include") {
            return Some((Kind::Include, n));
        }
        if let Some(n) = kw("@frequency") {
            return Some((Kind::Frequency, n));
        }
        if let Some(n) = kw("@denylist") {
            return Some((Kind::Denylist, n));
        }
        return None;
    }
    if c == b'/' || (c == b'.' && s.get(1) == Some(&b'/')) {
        let n = s.iter().take_while(|c| !c.is_ascii_whitespace()).count();
        if n > usize::from(c == b'.') + 1 {
            return Some((Kind::Path, n));
        }
    }
    if c.is_ascii_digit() || (c == b'-' && s.get(1).is_some_and(u8::is_ascii_digit)) {
        return number_len(s).map(|n| (Kind::Number, n));
    }
    let two = s.get(..2);
    let simple = match c {
        b':' => Some(Kind::Colon),
        b';' => Some(Kind::Semicolon),
        b',' => Some(Kind::Comma),
        b'~' => Some(Kind::Complement),
        b'(' => Some(Kind::LParen),
        b')' => Some(Kind::RParen),
        b'{' => Some(Kind::LBrace),
        b'}' => Some(Kind::RBrace),
        b'[' => Some(Kind::LBracket),
        b']' => Some(Kind::RBracket),
        _ => None,
    };
    if let Some(k) = simple {
        return Some((k, 1));
    }
    match two {
        Some(b"||") => return Some((Kind::Or, 2)),
        Some(b"&&") => return Some((Kind::And, 2)),
        Some(b"==") | Some(b"!=") | Some(b"<=") | Some(b">=") => return Some((Kind::Op, 2)),
        _ => {}
    }
    match c {
        b'|' => return Some((Kind::BitOr, 1)),
        b'&' | b'<' | b'>' => return Some((Kind::Op, 1)),
        b'=' => return Some((Kind::Equal, 1)),
        _ => {}
    }
    if let Some(n) = kw("in") {
        return Some((Kind::Op, n));
    }
    if s.starts_with(b"arg") {
        let digits = s[3..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 && s.get(3 + digits).is_none_or(|&c| !is_word(c)) {
            return Some((Kind::Argument, 3 + digits));
        }
    }
    if let Some(n) = kw("return") {
        return Some((Kind::Return, n));
    }
    for action in [
        "allow",
        "kill-process",
        "kill-thread",
        "kill",
        "trap",
        "trace",
        "log",
        "user-notify",
    ] {
        if let Some(n) = kw(action) {
            return Some((Kind::Action, n));
        }
    }
    if c.is_ascii_alphabetic() || c == b'_' {
        let n = s
            .iter()
            .take_while(|&&c| is_word(c) || c == b'-' || c == b'@')
            .count();
        return Some((Kind::Identifier, n));
    }
    None
}

/// Splits policy text into statements (lists of tokens); `\` at the end of a line
/// continues the statement on the next line.
fn tokenize(file: &str, text: &str) -> Result<Vec<Vec<Token>>, Error> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for (idx, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let rest = &bytes[i..];
            let c = rest[0];
            if c == b'#' {
                break;
            }
            if c.is_ascii_whitespace() {
                i += 1;
                continue;
            }
            if c == b'\\' && i + 1 == bytes.len() {
                break;
            }
            let Some((kind, n)) = next_token(rest) else {
                let bad: String = line[i..]
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .collect();
                return Err(Error::new(
                    file,
                    idx + 1,
                    i + 1,
                    format!("invalid token {bad:?}"),
                ));
            };
            cur.push(Token {
                kind,
                text: line[i..i + n].to_string(),
                line: idx + 1,
                col: i + 1,
            });
            i += n;
        }
        if line.ends_with('\\') {
            continue;
        }
        if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

/// A cursor over one statement's tokens.
struct Cursor<'a> {
    file: &'a str,
    toks: &'a [Token],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.pos)
    }
    fn peek_kind(&self) -> Option<Kind> {
        self.peek().map(|t| t.kind)
    }
    fn next(&mut self) -> Option<&'a Token> {
        let t = self.toks.get(self.pos);
        self.pos += 1;
        t
    }
    fn at(&self, t: &Token, msg: impl Into<String>) -> Error {
        Error::new(self.file, t.line, t.col, msg)
    }
    /// An error just past the last token (for "missing X").
    fn at_end(&self, msg: impl Into<String>) -> Error {
        let last = self.toks.last().expect("statements are never empty");
        Error::new(self.file, last.line, last.col + last.text.len(), msg)
    }
    /// The next token, or a "missing what" error.
    fn expect(&mut self, what: &str) -> Result<&'a Token, Error> {
        match self.next() {
            Some(t) => Ok(t),
            None => Err(self.at_end(format!("missing {what}"))),
        }
    }
}

/// Parses a numeric literal the way C's strtoul(.., 0) reads minijail constants,
/// wrapping negative values to unsigned 64-bit.
fn parse_number(text: &str) -> Result<u64, String> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text),
    };
    let (digits, radix) = if let Some(h) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (h, 16)
    } else if body.len() > 1
        && body.starts_with('0')
        && body.bytes().all(|c| (b'0'..=b'7').contains(&c))
    {
        // Like minijail's tokenizer: a leading 0 means octal only if every digit is.
        (&body[1..], 8)
    } else {
        (body, 10)
    };
    let mut v: u128 = 0;
    for c in digits.chars() {
        let d = c
            .to_digit(radix)
            .ok_or_else(|| format!("invalid number {text:?}"))?;
        v = v
            .checked_mul(u128::from(radix))
            .and_then(|v| v.checked_add(u128::from(d)))
            .filter(|&v| v <= u128::from(u64::MAX) + 1)
            .ok_or_else(|| format!("constant {text} overflows 64 bits"))?;
    }
    if neg {
        if v > 1u128 << 63 {
            return Err(format!("constant {text} underflows signed 64 bits"));
        }
        Ok((v as u64).wrapping_neg())
    } else if v > u128::from(u64::MAX) {
        Err(format!("constant {text} overflows 64 bits"))
    } else {
        Ok(v as u64)
    }
}

struct Parser<'o> {
    opts: &'o CompileOptions,
    default_action: Option<Action>,
    denylist: bool,
    frequencies: BTreeMap<u32, u64>,
    depth: usize,
    rules: Vec<Rule>,
    by_nr: HashMap<u32, usize>,
    /// Where the unconditional action of each rule was set, for the duplicate error.
    unconditional_at: HashMap<u32, (String, usize, usize)>,
}

impl<'o> Parser<'o> {
    fn kill(&self) -> Action {
        self.opts.kill.action()
    }

    fn single_constant(&self, c: &Cursor, t: &Token) -> Result<u64, Error> {
        match t.kind {
            Kind::Identifier => consts::lookup(self.opts.arch, &t.text)
                .ok_or_else(|| c.at(t, format!("unknown constant {:?}", t.text))),
            Kind::Number => parse_number(&t.text).map_err(|m| c.at(t, m)),
            _ => Err(c.at(t, format!("expected a constant, found {:?}", t.text))),
        }
    }

    // constant = [ '~' ] , ( '(' , value , ')' | single-constant )
    fn constant(&self, c: &mut Cursor) -> Result<u64, Error> {
        let mut negate = false;
        if c.peek_kind() == Some(Kind::Complement) {
            let tilde = c.next().expect("peeked");
            negate = true;
            match c.peek() {
                None => return Err(c.at(tilde, "empty complement")),
                Some(t) if t.kind == Kind::Complement => {
                    return Err(c.at(t, "invalid double complement"))
                }
                _ => {}
            }
        }
        let t = c.expect("constant")?;
        let v = if t.kind == Kind::LParen {
            let v = self.value(c)?;
            match c.next() {
                Some(r) if r.kind == Kind::RParen => v,
                _ => return Err(c.at(t, "unclosed parenthesis")),
            }
        } else {
            self.single_constant(c, t)?
        };
        Ok(if negate { !v } else { v })
    }

    // value = constant , { '|' , constant }
    fn value(&self, c: &mut Cursor) -> Result<u64, Error> {
        if c.peek().is_none() {
            return Err(c.at_end("empty constant"));
        }
        let mut v = self.constant(c)?;
        while c.peek_kind() == Some(Kind::BitOr) {
            c.next();
            if c.peek().is_none() {
                return Err(c.at_end("empty constant after '|'"));
            }
            v |= self.constant(c)?;
        }
        Ok(v)
    }

    // atom = argument , op , value
    fn atom(&self, c: &mut Cursor) -> Result<Atom, Error> {
        let arg = c.expect("argument")?;
        if arg.kind != Kind::Argument {
            return Err(c.at(arg, format!("expected argN, found {:?}", arg.text)));
        }
        let index: u64 = arg.text[3..].parse().unwrap_or(u64::MAX);
        if index >= 6 {
            return Err(c.at(
                arg,
                format!(
                    "invalid argument {}: syscalls have arguments arg0..arg5",
                    arg.text
                ),
            ));
        }
        let op = c.expect("operator")?;
        if op.kind != Kind::Op {
            return Err(c.at(op, format!("invalid operator {:?}", op.text)));
        }
        let v = self.value(c)?;
        let op = match op.text.as_str() {
            "==" => Op::Eq(v),
            "!=" => Op::Ne(v),
            "<" => Op::Lt(v),
            "<=" => Op::Le(v),
            ">" => Op::Gt(v),
            ">=" => Op::Ge(v),
            "&" => Op::AnyBits(v),
            "in" => Op::MaskedEq { mask: !v, value: 0 },
            other => unreachable!("tokenizer produced operator {other}"),
        };
        Ok(Atom {
            arg: index as u8,
            op,
        })
    }

    // expression = clause , { '||' , clause } ; clause = atom , { '&&' , atom }
    fn expression(&self, c: &mut Cursor) -> Result<Vec<Vec<Atom>>, Error> {
        let mut dnf = Vec::new();
        loop {
            let mut clause = vec![self.atom(c)?];
            while c.peek_kind() == Some(Kind::And) {
                c.next();
                clause.push(self.atom(c)?);
            }
            dnf.push(clause);
            if c.peek_kind() != Some(Kind::Or) {
                return Ok(dnf);
            }
            c.next();
        }
    }

    fn errno_value(&self, c: &Cursor, t: &Token) -> Result<u16, Error> {
        let v = self.single_constant(c, t)?;
        u16::try_from(v).map_err(|_| {
            c.at(
                t,
                format!(
                    "errno {} does not fit in SECCOMP_RET_DATA (16 bits)",
                    t.text
                ),
            )
        })
    }

    // action = allow | 1 | kill | kill-process | kill-thread | trap | trace | log
    //        | user-notify | return single-constant
    fn action(&self, c: &mut Cursor) -> Result<Action, Error> {
        let t = c.expect("action")?;
        if self.denylist && t.kind != Kind::Return {
            return Err(c.at(
                t,
                format!(
                    "invalid denylist policy: every action must be `return ERRNO`, found {:?}",
                    t.text
                ),
            ));
        }
        match t.kind {
            Kind::Action => Ok(match t.text.as_str() {
                "allow" => Action::Allow,
                "kill" => self.kill(),
                "kill-process" => Action::KillProcess,
                "kill-thread" => Action::KillThread,
                "trap" => Action::Trap,
                "trace" => Action::Trace,
                "log" => Action::Log,
                "user-notify" => Action::UserNotify,
                other => unreachable!("tokenizer produced action {other}"),
            }),
            Kind::Number if parse_number(&t.text) == Ok(1) => Ok(Action::Allow),
            Kind::Return => {
                let e = c.expect("return value")?;
                Ok(Action::Errno(self.errno_value(c, e)?))
            }
            _ => Err(c.at(t, format!("invalid action {:?}", t.text))),
        }
    }

    // single-filter = action | expression , [ ';' , action ]
    fn single_filter(&self, c: &mut Cursor) -> Result<Filter, Error> {
        Ok(self.single_filter_ex(c)?.0)
    }

    /// Also says whether the filter had an explicit `; action`.
    fn single_filter_ex(&self, c: &mut Cursor) -> Result<(Filter, bool), Error> {
        match c.peek_kind() {
            None => Err(c.at_end("missing filter")),
            Some(Kind::Argument) => {
                let expr = self.expression(c)?;
                let explicit = c.peek_kind() == Some(Kind::Semicolon);
                let action = if explicit {
                    c.next();
                    self.action(c)?
                } else {
                    Action::Allow
                };
                Ok((
                    Filter {
                        expr: Some(expr),
                        action,
                    },
                    explicit,
                ))
            }
            Some(_) => Ok((
                Filter {
                    expr: None,
                    action: self.action(c)?,
                },
                false,
            )),
        }
    }

    // filter = '{' , single-filter , { ',' , single-filter } , '}' | single-filter
    //
    // Outside braces, `expr; action` is the classic minijail0(5) form: allow when
    // expr holds, otherwise take action (minijail's C parser). Inside braces each
    // `expr; action` takes action when expr holds, first match wins (minijail's
    // Python multi-filter form). In a @denylist policy `expr; return E` returns E
    // when expr holds and allows otherwise.
    fn filter(&self, c: &mut Cursor) -> Result<Vec<Filter>, Error> {
        if c.peek_kind() != Some(Kind::LBrace) {
            let (f, explicit) = self.single_filter_ex(c)?;
            if f.expr.is_some() && explicit && !self.denylist {
                return Ok(vec![
                    Filter {
                        expr: f.expr,
                        action: Action::Allow,
                    },
                    Filter {
                        expr: None,
                        action: f.action,
                    },
                ]);
            }
            return Ok(vec![f]);
        }
        let open = c.next().expect("peeked");
        let mut filters = vec![self.single_filter(c)?];
        while c.peek_kind() == Some(Kind::Comma) {
            c.next();
            filters.push(self.single_filter(c)?);
        }
        match c.next() {
            Some(t) if t.kind == Kind::RBrace => Ok(filters),
            _ => Err(c.at(open, "unclosed brace")),
        }
    }

    // metadata = '[' , key '=' value { ',' value } , { ';' , ... } , ']'
    fn metadata(&self, c: &mut Cursor) -> Result<HashMap<String, Vec<String>>, Error> {
        let open = c.next().expect("caller peeked '['");
        let mut md: HashMap<String, Vec<String>> = HashMap::new();
        loop {
            let key = c.expect("metadata key")?;
            if key.kind != Kind::Identifier {
                return Err(c.at(key, format!("invalid metadata key {:?}", key.text)));
            }
            let eq = c.expect("'='")?;
            if eq.kind != Kind::Equal {
                return Err(c.at(eq, format!("expected '=', found {:?}", eq.text)));
            }
            let mut values = Vec::new();
            loop {
                let v = c.expect("metadata value")?;
                if v.kind != Kind::Identifier {
                    return Err(c.at(v, format!("invalid metadata value {:?}", v.text)));
                }
                values.push(v.text.clone());
                if c.peek_kind() != Some(Kind::Comma) {
                    break;
                }
                c.next();
            }
            if md.insert(key.text.clone(), values).is_some() {
                return Err(c.at(key, format!("duplicate metadata key {:?}", key.text)));
            }
            if c.peek_kind() != Some(Kind::Semicolon) {
                break;
            }
            c.next();
        }
        match c.next() {
            Some(t) if t.kind == Kind::RBracket => Ok(md),
            _ => Err(c.at(open, "unclosed bracket")),
        }
    }

    /// One syscall name with optional metadata; `None` when the metadata
    /// restricts it to another architecture.
    fn syscall_descriptor(&self, c: &mut Cursor) -> Result<Option<(String, u32)>, Error> {
        let t = c.expect("syscall name")?;
        // `kill` is both an action and a syscall.
        if t.kind != Kind::Identifier && !(t.kind == Kind::Action && t.text == "kill") {
            return Err(c.at(t, format!("invalid syscall name {:?}", t.text)));
        }
        if c.peek_kind() == Some(Kind::LBracket) {
            let md = self.metadata(c)?;
            if let Some(arches) = md.get("arch") {
                let here = self.opts.arch.name();
                if !arches
                    .iter()
                    .any(|a| a == here || a.parse() == Ok(self.opts.arch))
                {
                    return Ok(None);
                }
            }
        }
        if t.text.contains('@') {
            return Err(c.at(
                t,
                format!(
                    "syscall groups ({}) are not supported; list the syscalls",
                    t.text
                ),
            ));
        }
        match syscall_number(self.opts.arch, &t.text) {
            Some(nr) => Ok(Some((t.text.clone(), nr))),
            None => Err(c.at(
                t,
                format!("unknown syscall {:?} on {}", t.text, self.opts.arch),
            )),
        }
    }

    fn filter_statement(&mut self, c: &mut Cursor) -> Result<(), Error> {
        let mut syscalls = Vec::new();
        if c.peek_kind() == Some(Kind::LBrace) {
            let open = c.next().expect("peeked");
            loop {
                syscalls.extend(self.syscall_descriptor(c)?);
                if c.peek_kind() != Some(Kind::Comma) {
                    break;
                }
                c.next();
            }
            match c.next() {
                Some(t) if t.kind == Kind::RBrace => {}
                _ => return Err(c.at(open, "unclosed brace")),
            }
        } else {
            syscalls.extend(self.syscall_descriptor(c)?);
        }
        let colon = c.expect("':'")?;
        if colon.kind != Kind::Colon {
            return Err(c.at(colon, format!("expected ':', found {:?}", colon.text)));
        }
        let filters = self.filter(c)?;
        if let Some(t) = c.peek() {
            return Err(c.at(t, format!("unexpected {:?} after the filter", t.text)));
        }
        for (name, nr) in syscalls {
            if let Some(prev) = self.unconditional_at.get(&nr) {
                return Err(c.at(
                    colon,
                    format!(
                        "syscall {name} (number {nr}) already had an unconditional action applied at {}:{}:{}",
                        prev.0, prev.1, prev.2
                    ),
                ));
            }
            let idx = *self.by_nr.entry(nr).or_insert_with(|| {
                self.rules.push(Rule {
                    name: name.clone(),
                    nr,
                    filters: Vec::new(),
                });
                self.rules.len() - 1
            });
            let rule = &mut self.rules[idx];
            for (i, f) in filters.iter().enumerate() {
                if f.expr.is_none() && i + 1 < filters.len() {
                    return Err(c.at(
                        colon,
                        format!(
                            "syscall {name}: filters after an unconditional action are unreachable"
                        ),
                    ));
                }
                rule.filters.push(f.clone());
            }
            if filters.last().is_some_and(|f| f.expr.is_none()) {
                self.unconditional_at
                    .insert(nr, (c.file.to_string(), colon.line, colon.col));
            }
        }
        Ok(())
    }

    fn resolve_path(&self, file: &str, t: &Token) -> PathBuf {
        let base = Path::new(file).parent().unwrap_or(Path::new(""));
        // components() drops the `.` in `./x` so error messages show clean paths.
        base.join(&t.text).components().collect()
    }

    fn frequency_file(&mut self, c: &mut Cursor) -> Result<(), Error> {
        let t = c.expect("frequency file path")?;
        if t.kind != Kind::Path {
            return Err(c.at(
                t,
                format!(
                    "invalid frequency path {:?} (must start with / or ./)",
                    t.text
                ),
            ));
        }
        let path = self.resolve_path(c.file, t);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            c.at(
                t,
                format!("could not open frequency file {}: {e}", path.display()),
            )
        })?;
        let name = path.display().to_string();
        for stmt in tokenize(&name, &text)? {
            let mut fc = Cursor {
                file: &name,
                toks: &stmt,
                pos: 0,
            };
            let sc = self.syscall_descriptor(&mut fc)?;
            let colon = fc.expect("':'")?;
            if colon.kind != Kind::Colon {
                return Err(fc.at(colon, format!("expected ':', found {:?}", colon.text)));
            }
            let n = fc.expect("number")?;
            if n.kind != Kind::Number || n.text.starts_with('-') {
                return Err(fc.at(n, format!("invalid frequency {:?}", n.text)));
            }
            let v = parse_number(&n.text).map_err(|m| fc.at(n, m))?;
            if let Some(t) = fc.peek() {
                return Err(fc.at(t, format!("unexpected {:?}", t.text)));
            }
            if let Some((_, nr)) = sc {
                let w = self.frequencies.entry(nr).or_insert(0);
                *w = w.saturating_add(v);
            }
        }
        Ok(())
    }

    fn default_statement(&mut self, c: &mut Cursor) -> Result<(), Error> {
        let t = c.expect("default action")?;
        if self.denylist {
            return Err(c.at(
                t,
                "@default cannot be used in a @denylist policy (its default is allow)",
            ));
        }
        let action = match (t.kind, t.text.as_str()) {
            (Kind::Action, "kill") => self.kill(),
            (Kind::Action, "kill-process") => Action::KillProcess,
            (Kind::Action, "kill-thread") => Action::KillThread,
            (Kind::Action, "trap") => Action::Trap,
            (Kind::Action, "user-notify") => Action::UserNotify,
            // Extension over minijail: an errno default is not permissive either.
            (Kind::Return, _) => {
                let e = c.expect("return value")?;
                Action::Errno(self.errno_value(c, e)?)
            }
            (Kind::Action, "allow" | "log" | "trace") | (Kind::Number, _) => {
                return Err(c.at(t, format!("invalid permissive default action {:?}", t.text)))
            }
            _ => return Err(c.at(t, format!("invalid default action {:?}", t.text))),
        };
        self.default_action = Some(action);
        Ok(())
    }

    fn policy_text(&mut self, file: &str, text: &str) -> Result<(), Error> {
        for stmt in tokenize(file, text)? {
            let mut c = Cursor {
                file,
                toks: &stmt,
                pos: 0,
            };
            let first = &stmt[0];
            match first.kind {
                Kind::Include => {
                    c.next();
                    let t = c.expect("include path")?;
                    if t.kind != Kind::Path {
                        return Err(c.at(
                            t,
                            format!(
                                "invalid include path {:?} (must start with / or ./)",
                                t.text
                            ),
                        ));
                    }
                    if let Some(extra) = c.peek() {
                        return Err(c.at(extra, format!("unexpected {:?}", extra.text)));
                    }
                    if self.depth + 1 >= self.opts.include_depth_limit {
                        return Err(c.at(
                            first,
                            format!(
                                "@include nested too deep (limit {})",
                                self.opts.include_depth_limit
                            ),
                        ));
                    }
                    let path = self.resolve_path(file, t);
                    let inc = std::fs::read_to_string(&path).map_err(|e| {
                        c.at(t, format!("could not @include {}: {e}", path.display()))
                    })?;
                    self.depth += 1;
                    let r = self.policy_text(&path.display().to_string(), &inc);
                    self.depth -= 1;
                    r?;
                }
                Kind::Frequency => {
                    c.next();
                    self.frequency_file(&mut c)?;
                }
                Kind::Default => {
                    c.next();
                    self.default_statement(&mut c)?;
                    if let Some(extra) = c.peek() {
                        return Err(c.at(extra, format!("unexpected {:?}", extra.text)));
                    }
                }
                Kind::Denylist => {
                    if !self.rules.is_empty() || self.default_action.is_some() {
                        return Err(c.at(
                            first,
                            "@denylist must come before any filter or @default statement",
                        ));
                    }
                    self.denylist = true;
                }
                _ => self.filter_statement(&mut c)?,
            }
        }
        Ok(())
    }
}

/// Parses minijail policy text into a [`Policy`].
pub fn parse_str(file: &str, text: &str, opts: &CompileOptions) -> Result<Policy, Error> {
    let mut p = Parser {
        opts,
        default_action: None,
        denylist: false,
        frequencies: BTreeMap::new(),
        depth: 0,
        rules: Vec::new(),
        by_nr: HashMap::new(),
        unconditional_at: HashMap::new(),
    };
    p.policy_text(file, text)?;
    let default_action = opts.default_override.unwrap_or(match p.default_action {
        Some(a) => a,
        None if p.denylist => Action::Allow,
        None => p.kill(),
    });
    for rule in &mut p.rules {
        if rule.filters.last().is_none_or(|f| f.expr.is_some()) {
            rule.filters.push(Filter {
                expr: None,
                action: default_action,
            });
        }
    }
    Ok(Policy {
        arch: opts.arch,
        default_action,
        rules: p.rules,
        frequencies: p.frequencies,
        denylist: p.denylist,
    })
}
