//! Rules that are valid but almost surely not what their editor meant: each gets a warning
//! with the fix, and still applies (a warning never takes a rule out).
//!
//! * a regex (or text to find) with a control character in it: JSON reads `"\b"` as a
//!   backspace, so `"\bcolour\b"` silently never matches; the regex needs `"\\b"`;
//! * inserted HTML that opens an element and never closes it (`<div class="banner">Sale`
//!   swallows the rest of the page) or closes one it did not open.
//!
//! Lints look at the rule as written (its JSON), where every field has its path.

mod balance;

use serde_json::Value;

use super::RuleWarning;

/// The warnings for one rule as written, each with the path of its field.
pub(crate) fn lint(rule: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    walk(rule, &mut String::new(), &mut found);
    found
}

/// Each lint's warnings for a rule, in the entry `entry`, named `name`.
pub(crate) fn warnings(entry: &str, name: &str, rule: &Value) -> Vec<RuleWarning> {
    lint(rule).into_iter().map(|(field, reason)| RuleWarning::new(entry, name, field, reason)).collect()
}

fn walk(value: &Value, path: &mut String, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(fields) => {
            for (key, value) in fields {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                if let Value::String(text) = value {
                    if let Some(reason) = lint_string(key, text) {
                        found.push((path.clone(), reason));
                    }
                } else {
                    walk(value, path, found);
                }
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                walk(item, path, found);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// The warning for a string field, by what the field holds.
fn lint_string(key: &str, text: &str) -> Option<String> {
    match key {
        "regex" | "pattern" => control_character(text, "regex"),
        "find" => control_character(text, "text to find"),
        "html" => balance::check(text),
        _ => None,
    }
}

/// A control character JSON escapes produce, other than tab and line breaks (which mean
/// the same to JSON and to a regex).
fn control_character(text: &str, what: &str) -> Option<String> {
    let c = text.chars().find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))?;
    let code = c as u32;
    Some(match c {
        '\u{8}' => format!(
            "the {what} contains a backspace (U+0008): JSON reads \"\\b\" as a backspace, so it never matches a \
             word boundary; write \"\\\\b\" for the regex's \\b"
        ),
        '\u{c}' => format!(
            "the {what} contains a form feed (U+000C): JSON reads \"\\f\" as one; if you meant a regex escape, \
             double the backslash: \"\\\\f\""
        ),
        _ => format!(
            "the {what} contains the control character U+{code:04X}, which pages almost never hold; in JSON a \
             backslash starts an escape: double it (\"\\\\\") for a regex escape"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint_json(json: &str) -> Vec<(String, String)> {
        lint(&serde_json::from_str(json).unwrap())
    }

    #[test]
    fn a_json_backspace_in_a_regex_is_named_with_the_fix() {
        let found = lint_json(r#"{"actions": [{"replace_text": {"regex": "\bcolour\b", "replace": "color"}}]}"#);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "actions[0].replace_text.regex");
        assert!(found[0].1.contains("backspace") && found[0].1.contains("write \"\\\\b\""), "{}", found[0].1);
        let conditions = lint_json(r#"{"when": {"path": [{"prefix": "/"}, {"regex": "^/a\u0001"}]}}"#);
        assert_eq!(conditions[0].0, "when.path[1].regex");
        assert!(conditions[0].1.contains("U+0001"), "{}", conditions[0].1);
        assert!(lint_json(r#"{"find": "a\tb", "regex": "\\bcat\\b\n"}"#).is_empty(), "tabs, newlines, \\\\b");
    }

    #[test]
    fn unbalanced_inserted_html_is_found_where_it_is_written() {
        let found = lint_json(r#"{"actions": [{"prepend": {"html": "<div class=\"banner\">Sale"}}]}"#);
        assert_eq!(found[0].0, "actions[0].prepend.html");
        assert!(found[0].1.contains("<div class=\"banner\">"), "{}", found[0].1);
        assert!(lint_json(r#"{"actions": [{"prepend": {"text": "<div>"}}]}"#).is_empty(), "text is escaped");
    }
}
