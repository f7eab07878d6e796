//! Why a rule was refused, said so an editor can find and fix it.

use std::fmt;

/// Declares an error that is one sentence: why one part of a rule (an id, a selector, an
/// action, a template) cannot be used, in words that name it and the fix. Each part keeps its
/// own type, so a signature says what it checks; this is the one shape they share.
macro_rules! reason_error {
    ($(#[$meta:meta])* $vis:vis struct $name:ident;) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error("{reason}")]
        $vis struct $name {
            reason: String,
        }

        impl $name {
            /// The error, saying `reason`.
            pub(crate) fn new(reason: impl Into<String>) -> Self {
                Self { reason: reason.into() }
            }
        }
    };
}
pub(crate) use reason_error;

/// A rule that cannot be used. The rest of the rule set still applies.
///
/// Displayed as `entry "e", file "f.json", rule "r", field `f`: reason`, leaving out the
/// parts it lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RuleError {
    /// The config store entry (or file) the rule came from.
    pub entry: String,
    /// The rule file it was written in, when the entry packs several files' rules
    /// (`rewrite store` and `rewrite publish` pack them): what the editor opens.
    pub file: Option<String>,
    /// The rule's id, or `#N` (its position in the entry) when it has no readable id;
    /// `None` when the whole entry is at fault.
    pub rule: Option<String>,
    /// Path of the offending field, e.g. `actions[0].prepend`; `None` for the whole rule or
    /// entry.
    pub field: Option<String>,
    /// What is wrong and, where we can tell, how to fix it.
    pub reason: String,
}

impl RuleError {
    /// An error about the entry `entry` as a whole.
    pub(crate) fn new(entry: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { entry: entry.into(), file: None, rule: None, field: None, reason: reason.into() }
    }

    /// The same error, about a rule written in the file `file` (of a packed entry).
    pub(crate) fn with_file(self, file: Option<&str>) -> Self {
        Self { file: file.map(str::to_owned), ..self }
    }

    /// The same error, about the rule named `rule` (its id, or `#N`).
    pub(crate) fn with_rule(self, rule: impl Into<String>) -> Self {
        Self { rule: Some(rule.into()), ..self }
    }

    /// The same error, about the rule's field `field`.
    pub(crate) fn with_field(self, field: impl Into<String>) -> Self {
        Self { field: Some(field.into()), ..self }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_place(f, &self.entry, self.file.as_deref(), self.rule.as_deref(), self.field.as_deref())?;
        write!(f, ": {}", self.reason)
    }
}

/// `entry "e", file "f.json", rule "r", field `f``, leaving out the parts not given.
fn write_place(
    f: &mut fmt::Formatter<'_>,
    entry: &str,
    file: Option<&str>,
    rule: Option<&str>,
    field: Option<&str>,
) -> fmt::Result {
    write!(f, "entry {entry:?}")?;
    if let Some(file) = file {
        write!(f, ", file {file:?}")?;
    }
    if let Some(rule) = rule {
        write!(f, ", rule {rule:?}")?;
    }
    if let Some(field) = field {
        write!(f, ", field `{field}`")?;
    }
    Ok(())
}

/// A rule that is valid and applies, but likely does not do what its editor meant (see
/// [`crate::rules`]' lints): the field, and what to write instead.
///
/// Displayed like a [`RuleError`]: `entry "e", rule "r", field `f`: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleWarning {
    /// The config store entry (or file) the rule came from.
    pub entry: String,
    /// The rule file it was written in, when the entry packs several files' rules.
    pub file: Option<String>,
    /// The rule's id.
    pub rule: String,
    /// Path of the field, e.g. `actions[0].replace_text.regex`.
    pub field: String,
    /// What looks wrong, and the fix.
    pub reason: String,
}

impl RuleWarning {
    pub(crate) fn new(
        entry: impl Into<String>,
        rule: impl Into<String>,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self { entry: entry.into(), file: None, rule: rule.into(), field: field.into(), reason: reason.into() }
    }

    /// The same warning, about a rule written in the file `file` (of a packed entry).
    pub(crate) fn with_file(self, file: Option<&str>) -> Self {
        Self { file: file.map(str::to_owned), ..self }
    }
}

impl fmt::Display for RuleWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_place(f, &self.entry, self.file.as_deref(), Some(&self.rule), Some(&self.field))?;
        write!(f, ": {}", self.reason)
    }
}

/// What is wrong with one field of a rule, found while compiling it; it becomes a
/// [`RuleError`] once the entry and rule are known ([`FieldError::in_rule`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {reason}")]
pub(crate) struct FieldError {
    /// Path of the field, relative to the rule: `when.path[1]`, `actions[0].prepend.html`.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FieldError {
    /// `field` is wrong because of `reason` (a message, or an error whose message it is).
    pub(crate) fn new(field: impl Into<String>, reason: impl fmt::Display) -> Self {
        Self { field: field.into(), reason: reason.to_string() }
    }

    /// The error, in the rule `rule` of the entry `entry`.
    pub(crate) fn in_rule(self, entry: impl Into<String>, rule: impl Into<String>) -> RuleError {
        RuleError::new(entry, self.reason).with_rule(rule).with_field(self.field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_leave_out_what_the_error_lacks() {
        let entry = RuleError::new("10-bad", "not valid JSON");
        assert_eq!(entry.to_string(), "entry \"10-bad\": not valid JSON");
        let rule = entry.clone().with_rule("#2");
        assert_eq!(rule.to_string(), "entry \"10-bad\", rule \"#2\": not valid JSON");
        let packed = rule.clone().with_file(Some("20-b.json"));
        assert_eq!(packed.to_string(), "entry \"10-bad\", file \"20-b.json\", rule \"#2\": not valid JSON");
        let field = FieldError::new("when.path", "give one of `equals`, `prefix`, `glob` or `regex`");
        assert_eq!(field.to_string(), "field `when.path`: give one of `equals`, `prefix`, `glob` or `regex`");
        assert_eq!(
            field.in_rule("10-bad", "sale").to_string(),
            "entry \"10-bad\", rule \"sale\", field `when.path`: give one of `equals`, `prefix`, `glob` or `regex`"
        );
    }
}
