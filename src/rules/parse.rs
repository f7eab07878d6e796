//! From the text of one store entry (or file) to rules, one verdict per rule.
//!
//! An entry holds one rule object, an array of them, or a pack: several rule files' rules,
//! each with the file's name (`{"pack": [{"file": "10-banner.json", "rules": [...]}, ...]}`),
//! which `rewrite store` and `rewrite publish` write so that a request reads many files in
//! few lookups while every message still names the file a rule was written in
//! ([`crate::store`] packs them). Each rule is read on its own, so a typo in one rule never
//! takes its neighbours down with it.

use serde_json::Value;

use super::error::reason_error;
use super::mistakes::{self, Mistake};
use super::{FieldError, Rule, RuleError, RuleWarning, lint, shape};
use crate::rules::budget::{MAX_RULE_JSON_DEPTH, json_depth};

/// The longest rule id.
pub const MAX_ID_CHARS: usize = 64;

reason_error! {
    /// Why a rule id cannot be used.
    pub(crate) struct IdError;
}

/// The one field of a packed entry: `{"pack": [...]}`.
pub const PACK_FIELD: &str = "pack";

/// One file's rules in a packed entry, as written there.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackedFile {
    /// The file's name, e.g. `10-banner.json` (`draft/10-banner.json` for a draft's).
    pub file: String,
    /// Its rules, in order (all of them, or a run of them when a file is split over packs).
    pub rules: Vec<Value>,
}

/// A rule as written in an entry, before any check: the file it was written in (a packed
/// entry's), its position there, and the rule.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenRule {
    /// The rule file, when the entry packs files.
    pub file: Option<String>,
    /// Its position in the file or entry, from 0.
    pub position: usize,
    /// The rule as written.
    pub rule: Value,
}

/// The rules written in an entry's `text`, in order, or why there are none to read (not
/// JSON, or neither a rule, an array of rules nor a pack).
pub fn written_rules(text: &str) -> Result<Vec<WrittenRule>, String> {
    let value: Value = serde_json::from_str(text).map_err(|err| {
        // `"\d"` is the usual way in: a regex escape written with one backslash.
        let hint = if err.to_string().contains("invalid escape") {
            "; in JSON a backslash starts an escape, so a regex's \\d is written \"\\\\d\" (and its \\b \
             \"\\\\b\": \"\\b\" is read as a backspace)"
        } else {
            ""
        };
        format!("not valid JSON ({err}); an entry holds one rule object or an array of rule objects{hint}")
    })?;
    let unpacked = |rules: Vec<Value>, file: Option<String>| {
        rules.into_iter().enumerate().map(move |(position, rule)| WrittenRule { file: file.clone(), position, rule })
    };
    match value {
        Value::Array(items) => Ok(unpacked(items, None).collect()),
        Value::Object(fields) if fields.len() == 1 && fields.contains_key(PACK_FIELD) => {
            let files: Vec<PackedFile> = serde_json::from_value(fields[PACK_FIELD].clone()).map_err(|err| {
                format!("a packed entry is {{\"{PACK_FIELD}\": [{{\"file\": \"…\", \"rules\": […]}}, …]}}: {err}")
            })?;
            // A file split over two packs goes on counting its rules where the first left off.
            Ok(files.into_iter().flat_map(|packed| unpacked(packed.rules, Some(packed.file))).collect())
        }
        object @ Value::Object(_) => Ok(unpacked(vec![object], None).collect()),
        other => Err(format!("expected a rule object or an array of rule objects, found {}", shape::kind(&other))),
    }
}

/// A rule together with the entry it was read from, for error messages and reports.
#[derive(Debug, Clone, PartialEq)]
pub struct SourcedRule {
    /// The store entry (or file) name.
    pub entry: String,
    /// The rule file it was written in, when the entry packs files.
    pub file: Option<String>,
    /// The rule as written.
    pub rule: Rule,
    /// What looks wrong in it although it is valid.
    pub warnings: Vec<RuleWarning>,
}

/// Reads every rule in `text`, the content of the entry named `entry`.
///
/// Returns the rules that parsed and an error for each one that did not.
pub fn parse_entry(entry: &str, text: &str) -> (Vec<SourcedRule>, Vec<RuleError>) {
    let written = match written_rules(text) {
        Ok(written) => written,
        Err(reason) => return (Vec::new(), vec![RuleError::new(entry, reason)]),
    };
    let mut rules = Vec::with_capacity(written.len());
    let mut errors = Vec::new();
    for WrittenRule { file, position, rule: item } in written {
        // Linted as written, where each field has its path; only rules that parse.
        let linted = item.clone();
        match parse_rule(entry, position, item) {
            Ok(rule) => {
                let warnings = lint::warnings(entry, &rule.id, &linted)
                    .into_iter()
                    .map(|warning| warning.with_file(file.as_deref()))
                    .collect();
                rules.push(SourcedRule { entry: entry.to_owned(), file, rule, warnings });
            }
            Err(err) => errors.extend(err.into_iter().map(|error| error.with_file(file.as_deref()))),
        }
    }
    (rules, errors)
}

fn parse_rule(entry: &str, position: usize, item: Value) -> Result<Rule, Vec<RuleError>> {
    let name = rule_name(&item, position);
    if !item.is_object() {
        let reason = format!("expected a rule object, found {}", shape::kind(&item));
        return Err(vec![RuleError::new(entry, reason).with_rule(name)]);
    }
    // Reading a rule recurses once per level of nesting; a limit far below what the guest's
    // stack takes is checked first, without recursion.
    let depth = json_depth(&item);
    if depth > MAX_RULE_JSON_DEPTH {
        let reason = format!(
            "over the JSON depth budget: the rule nests {depth} levels deep, a rule may nest {MAX_RULE_JSON_DEPTH}; \
             flatten `all`/`any`/`not` (a list of matchers already means any of them)"
        );
        // The field to blame: the top-level one that nests deepest (usually `when`).
        let error = RuleError::new(entry, reason).with_rule(name);
        return Err(vec![match item
            .as_object()
            .and_then(|fields| fields.iter().max_by_key(|(_, value)| json_depth(value)))
        {
            Some((field, _)) => error.with_field(field.clone()),
            None => error,
        }]);
    }
    let rule = mistakes::read(&item).map_err(|mistakes| {
        let error = |mistake: Mistake| {
            let error = RuleError::new(entry, mistake.reason).with_rule(&name);
            match mistake.field {
                Some(field) => error.with_field(field),
                None => error,
            }
        };
        mistakes.into_iter().map(error).collect::<Vec<_>>()
    })?;
    if rule.id.trim().is_empty() {
        return Err(vec![FieldError::new("id", "the id is empty; give the rule a name").in_rule(entry, name)]);
    }
    check_id(&rule.id).map_err(|err| vec![FieldError::new("id", err).in_rule(entry, &name)])?;
    Ok(rule)
}

/// The name errors use for a rule: its id when it is a valid one, else its position.
pub(crate) fn rule_name(item: &Value, position: usize) -> String {
    match item.get("id").and_then(Value::as_str) {
        Some(id) if check_id(id).is_ok() => id.to_owned(),
        _ => format!("#{}", position + 1),
    }
}

/// Ids name rules in logs, in a debug response header and in the edge cache's keys: letters,
/// digits, `-`, `_`, `.` and `:`, starting with a letter or digit.
pub fn check_id(id: &str) -> Result<(), IdError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    let count = id.chars().count();
    let starts_well = id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if count > MAX_ID_CHARS {
        return Err(IdError::new(format!("the id is {count} characters long; an id has at most {MAX_ID_CHARS}")));
    }
    match id.chars().find(|c| !allowed(*c)) {
        Some(bad) => Err(IdError::new(format!(
            "the id {id:?} has {}; ids use letters, digits, `-`, `_`, `.` and `:`, e.g. \"sale-banner\"",
            describe_char(bad)
        ))),
        None if !starts_well => {
            Err(IdError::new(format!("the id {id:?} must start with a letter or digit, e.g. \"sale-banner\"")))
        }
        None => Ok(()),
    }
}

fn describe_char(c: char) -> String {
    if c.is_control() {
        format!("a control character (U+{:04X})", c as u32)
    } else if c.is_whitespace() {
        "a space".to_owned()
    } else {
        format!("the character {c:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Action, Content};

    #[test]
    fn one_object_is_one_rule() {
        let (rules, errors) =
            parse_entry("banner", r#"{"id":"b","selector":"body","actions":[{"prepend":{"html":"<p>x</p>"}}]}"#);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].entry, "banner");
        assert_eq!(rules[0].rule.id, "b");
        assert!(rules[0].rule.enabled);
        assert_eq!(rules[0].rule.actions, vec![Action::Prepend(Content::Html("<p>x</p>".into()))]);
    }

    #[test]
    fn a_bad_rule_does_not_take_its_neighbours_down() {
        let (rules, errors) = parse_entry(
            "mixed",
            r#"[{"id":"good","selector":"p","actions":["remove"]},
                {"id":"typo","selectr":"p","actions":["remove"]}]"#,
        );
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].rule.id, "good");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].rule.as_deref(), Some("typo"));
        assert!(errors[0].reason.contains("unknown field `selectr`"), "{}", errors[0]);
    }

    #[test]
    fn errors_name_the_field_even_when_it_is_missing() {
        let (_, errors) = parse_entry("e", r#"{"selector":"p","actions":["remove"]}"#);
        assert_eq!(errors[0].field.as_deref(), Some("id"));
        let (_, errors) =
            parse_entry("e", r#"{"id":"x","selector":"p","experiment":{"id":"e","variants":[{"name":"a"}]}}"#);
        assert_eq!(errors[0].field.as_deref(), Some("experiment.variants[0]"));
        assert!(errors[0].reason.contains("missing field `weight`"), "{}", errors[0]);
        let (_, errors) = parse_entry("e", r#"{"id":"x","selector":"p","actions":[{"prepend":{"htm":"a"}}]}"#);
        assert_eq!(errors[0].field.as_deref(), Some("actions[0].prepend"));
        assert!(errors[0].reason.contains("`htm` is not one of: html, text, include"), "{}", errors[0]);
    }

    #[test]
    fn unreadable_entries_are_one_error_naming_the_entry() {
        let (rules, errors) = parse_entry("broken", "{not json");
        assert!(rules.is_empty());
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].entry, "broken");
        assert!(errors[0].reason.starts_with("not valid JSON"), "{}", errors[0]);

        let (_, errors) = parse_entry("scalar", "42");
        assert!(errors[0].reason.contains("found a number"), "{}", errors[0]);
    }

    #[test]
    fn invalid_json_escapes_say_how_to_write_a_regex_escape() {
        let (_, errors) = parse_entry("e", r#"{"id":"x","actions":[{"replace_text":{"regex":"\d+","replace":"n"}}]}"#);
        assert!(errors[0].reason.contains("invalid escape"), "{}", errors[0]);
        assert!(errors[0].reason.contains(r#"a regex's \d is written "\\d""#), "{}", errors[0]);
    }

    #[test]
    fn valid_rules_carry_their_warnings() {
        let (rules, errors) =
            parse_entry("e", r#"{"id":"x","selector":"body","actions":[{"prepend":{"html":"<div>open"}}]}"#);
        assert!(errors.is_empty());
        assert_eq!(rules[0].warnings.len(), 1);
        assert_eq!(
            rules[0].warnings[0].to_string(),
            "entry \"e\", rule \"x\", field `actions[0].prepend.html`: the HTML opens <div> and never closes it: \
             the rest of the page would end up inside; add </div>"
        );
    }

    #[test]
    fn rules_without_an_id_are_named_by_position() {
        let (_, errors) = parse_entry("e", r#"[{"id":"a","selector":"p","actions":[]}, {"selector":"p"}]"#);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].rule.as_deref(), Some("#2"));
        assert_eq!(errors[0].field.as_deref(), Some("id"));
    }
}
