//! Why a rule was refused, said so an editor can find and fix it.

use std::fmt;

/// A rule that cannot be used. The rest of the rule set still applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The config store entry (or file) the rule came from.
    pub entry: String,
    /// The rule's id, or `#N` (its position in the entry) when it has no readable id.
    pub rule: String,
    /// Path of the offending field, e.g. `actions[0].prepend`; empty for the whole entry.
    pub field: String,
    /// What is wrong and, where we can tell, how to fix it.
    pub reason: String,
}

impl RuleError {
    pub(crate) fn new(
        entry: impl Into<String>,
        rule: impl Into<String>,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self { entry: entry.into(), rule: rule.into(), field: field.into(), reason: reason.into() }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "entry {:?}", self.entry)?;
        if !self.rule.is_empty() {
            write!(f, ", rule {:?}", self.rule)?;
        }
        if !self.field.is_empty() {
            write!(f, ", field `{}`", self.field)?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for RuleError {}
