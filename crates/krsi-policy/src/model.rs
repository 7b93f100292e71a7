use std::fmt;

/// A value with the place in the policy file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub line: usize,
    pub column: usize,
}

/// LSM hooks, spelled as the kernel spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hook {
    BprmCheckSecurity,
}

impl Hook {
    pub const ALL: &'static [Hook] = &[Hook::BprmCheckSecurity];

    pub fn name(self) -> &'static str {
        match self {
            Hook::BprmCheckSecurity => "bprm_check_security",
        }
    }

    /// Kernel names and the friendly event names analysts may use instead.
    pub fn from_name(name: &str) -> Option<Hook> {
        match name {
            "bprm_check_security" | "exec" => Some(Hook::BprmCheckSecurity),
            _ => None,
        }
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Audit,
    Deny,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Audit => "audit",
            Action::Deny => "deny",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub name: Spanned<String>,
    pub hook: Spanned<Hook>,
    pub action: Spanned<Action>,
    /// Executable paths the rule applies to; `None` means every exec.
    pub paths: Option<Vec<Spanned<String>>>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Where the policy came from, as diagnostics name it.
    pub source: String,
    pub rules: Vec<Rule>,
}
