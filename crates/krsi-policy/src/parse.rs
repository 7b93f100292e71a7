//! YAML → [`Policy`], with every error anchored at its line and column.
use std::path::Path;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use crate::diag::{Diagnostic, PolicyError, Severity};
use crate::model::{Action, Hook, Policy, Rule, Spanned};

const RULE_KEYS: &[&str] = &["name", "hook", "action", "match", "message"];
const MATCH_KEYS: &[&str] = &["path"];
const TOP_KEYS: &[&str] = &["rules"];
/// Rule names appear in events and counters; keep them greppable.
const NAME_MAX: usize = 128;

/// Reads and parses a policy file.
pub fn parse_file(path: &Path) -> Result<Policy, PolicyError> {
    let source = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse_str(&source, &text),
        Err(e) => Err(PolicyError {
            diagnostics: vec![Diagnostic {
                file: source,
                line: 1,
                column: 1,
                severity: Severity::Error,
                message: format!("cannot read policy: {e}"),
            }],
        }),
    }
}

/// Parses policy text; `source` names it in diagnostics.
pub fn parse_str(source: &str, text: &str) -> Result<Policy, PolicyError> {
    let mut p = Parser {
        source,
        diags: Vec::new(),
    };
    let policy = p.policy(text);
    if p.diags.is_empty() {
        Ok(policy)
    } else {
        Err(PolicyError {
            diagnostics: p.diags,
        })
    }
}

struct Parser<'s> {
    source: &'s str,
    diags: Vec<Diagnostic>,
}

fn kind(node: &MarkedYaml) -> &'static str {
    match &node.data {
        YamlData::Mapping(_) => "a mapping",
        YamlData::Sequence(_) => "a list",
        YamlData::Value(Scalar::Null) => "null",
        YamlData::Value(Scalar::Boolean(_)) => "a boolean",
        YamlData::Value(Scalar::Integer(_)) | YamlData::Value(Scalar::FloatingPoint(_)) => {
            "a number"
        }
        YamlData::Value(Scalar::String(_)) | YamlData::Representation(..) => "a string",
        YamlData::Tagged(..) => "a tagged value",
        YamlData::Alias(_) => "an alias",
        YamlData::BadValue => "an invalid value",
    }
}

impl Parser<'_> {
    fn error_at(&mut self, line: usize, column: usize, message: String) {
        self.diags.push(Diagnostic {
            file: self.source.to_string(),
            line,
            column,
            severity: Severity::Error,
            message,
        });
    }

    fn error(&mut self, node: &MarkedYaml, message: String) {
        let (line, col) = pos(node);
        self.error_at(line, col, message);
    }

    fn policy(&mut self, text: &str) -> Policy {
        let mut policy = Policy {
            source: self.source.to_string(),
            rules: Vec::new(),
        };
        let docs = match MarkedYaml::load_from_str(text) {
            Ok(docs) => docs,
            Err(e) => {
                let m = e.marker();
                self.error_at(m.line(), m.col() + 1, format!("invalid YAML: {}", e.info()));
                return policy;
            }
        };
        if docs.len() > 1 {
            self.error(&docs[1], "a policy file holds one YAML document".into());
            return policy;
        }
        let Some(root) = docs.first() else {
            self.error_at(1, 1, "empty policy: expected a mapping with `rules`".into());
            return policy;
        };
        let Some(entries) = self.mapping(root, "the policy", TOP_KEYS) else {
            return policy;
        };
        let Some(rules) = entries.iter().find(|(k, _)| *k == "rules").map(|(_, v)| *v) else {
            self.error(root, "missing `rules`".into());
            return policy;
        };
        let YamlData::Sequence(items) = &rules.data else {
            self.error(
                rules,
                format!("`rules` must be a list, found {}", kind(rules)),
            );
            return policy;
        };
        let mut seen: Vec<Spanned<String>> = Vec::new();
        for item in items {
            if let Some(rule) = self.rule(item) {
                if let Some(first) = seen.iter().find(|s| s.value == rule.name.value) {
                    let msg = format!(
                        "duplicate rule name `{}` (first defined at line {}:{})",
                        rule.name.value, first.line, first.column
                    );
                    self.error_at(rule.name.line, rule.name.column, msg);
                } else {
                    seen.push(rule.name.clone());
                }
                policy.rules.push(rule);
            }
        }
        policy
    }

    /// A mapping's entries with string keys; unknown keys are reported.
    fn mapping<'n>(
        &mut self,
        node: &'n MarkedYaml<'n>,
        what: &str,
        allowed: &[&str],
    ) -> Option<Vec<(&'n str, &'n MarkedYaml<'n>)>> {
        let YamlData::Mapping(map) = &node.data else {
            self.error(
                node,
                format!("{what} must be a mapping, found {}", kind(node)),
            );
            return None;
        };
        let mut out = Vec::new();
        for (k, v) in map.iter() {
            let Some(key) = str_of(k) else {
                self.error(k, format!("keys must be strings, found {}", kind(k)));
                continue;
            };
            if !allowed.contains(&key) {
                self.error(
                    k,
                    format!(
                        "unknown field `{key}` in {what} (expected one of: {})",
                        allowed.join(", ")
                    ),
                );
                continue;
            }
            out.push((key, v));
        }
        Some(out)
    }

    fn string(&mut self, node: &MarkedYaml, what: &str) -> Option<Spanned<String>> {
        match str_of(node) {
            Some(s) => {
                let (line, column) = pos(node);
                Some(Spanned {
                    value: s.to_string(),
                    line,
                    column,
                })
            }
            None => {
                self.error(
                    node,
                    format!("{what} must be a string, found {}", kind(node)),
                );
                None
            }
        }
    }

    fn rule(&mut self, node: &MarkedYaml) -> Option<Rule> {
        let entries = self.mapping(node, "a rule", RULE_KEYS)?;
        let get = |key: &str| entries.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let errors_before = self.diags.len();

        let name = match get("name") {
            Some(n) => self.string(n, "`name`").and_then(|s| self.rule_name(n, s)),
            None => {
                self.error(node, "a rule needs a `name`".into());
                None
            }
        };
        let hook = match get("hook") {
            Some(h) => self
                .string(h, "`hook`")
                .and_then(|s| match Hook::from_name(&s.value) {
                    Some(hook) => Some(Spanned {
                        value: hook,
                        line: s.line,
                        column: s.column,
                    }),
                    None => {
                        let known: Vec<&str> = Hook::ALL.iter().map(|h| h.name()).collect();
                        self.error(
                            h,
                            format!(
                                "unknown hook `{}` (supported: {}, or the alias `exec`)",
                                s.value,
                                known.join(", ")
                            ),
                        );
                        None
                    }
                }),
            None => {
                self.error(node, "a rule needs a `hook`".into());
                None
            }
        };
        let action = match get("action") {
            Some(a) => self.string(a, "`action`").and_then(|s| {
                let action = match s.value.as_str() {
                    "audit" => Action::Audit,
                    "deny" => Action::Deny,
                    other => {
                        self.error(
                            a,
                            format!("unknown action `{other}` (expected audit or deny)"),
                        );
                        return None;
                    }
                };
                Some(Spanned {
                    value: action,
                    line: s.line,
                    column: s.column,
                })
            }),
            None => {
                self.error(node, "a rule needs an `action`".into());
                None
            }
        };
        let message = get("message")
            .and_then(|m| self.string(m, "`message`"))
            .map(|s| s.value);
        let paths = get("match").and_then(|m| self.exec_match(m));

        if let (Some(action), None) = (&action, &paths) {
            if action.value == Action::Deny && get("match").is_none() {
                self.error_at(
                    action.line,
                    action.column,
                    "a deny rule needs a `match` (denying every exec would stop the host)".into(),
                );
            }
        }
        if self.diags.len() > errors_before {
            return None;
        }
        Some(Rule {
            name: name?,
            hook: hook?,
            action: action?,
            paths,
            message,
        })
    }

    fn rule_name(&mut self, node: &MarkedYaml, s: Spanned<String>) -> Option<Spanned<String>> {
        let ok = !s.value.is_empty()
            && s.value.len() <= NAME_MAX
            && s.value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c));
        if ok {
            Some(s)
        } else {
            self.error(
                node,
                format!(
                    "rule name `{}` must be 1-{NAME_MAX} characters of letters, digits and - _ . : /",
                    s.value
                ),
            );
            None
        }
    }

    fn exec_match(&mut self, node: &MarkedYaml) -> Option<Vec<Spanned<String>>> {
        let entries = self.mapping(node, "`match`", MATCH_KEYS)?;
        let Some((_, paths)) = entries.iter().find(|(k, _)| *k == "path") else {
            self.error(node, "`match` needs `path`".into());
            return None;
        };
        let items: Vec<&MarkedYaml> = match &paths.data {
            YamlData::Sequence(items) => items.iter().collect(),
            _ => vec![*paths],
        };
        if items.is_empty() {
            self.error(paths, "`path` must list at least one path".into());
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let s = self.string(item, "a path")?;
            if !s.value.starts_with('/') {
                self.error(item, format!("path `{}` must be absolute", s.value));
                continue;
            }
            if s.value.contains('\0') {
                self.error(item, "path must not contain NUL".into());
                continue;
            }
            out.push(s);
        }
        Some(out)
    }
}

fn str_of<'a>(node: &'a MarkedYaml) -> Option<&'a str> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Some(s),
        YamlData::Representation(s, _, _) => Some(s),
        _ => None,
    }
}

fn pos(node: &MarkedYaml) -> (usize, usize) {
    (node.span.start.line(), node.span.start.col() + 1)
}
