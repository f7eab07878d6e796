//! What a publish or a rollback changes, rule by rule: rules added, removed and changed
//! (with each changed field, the change itself quoted), compared as written, so a rule
//! packed into another entry or reformatted JSON is no change at all.

use serde_json::Value;

use crate::versions;

/// A rule as written, and where: its file when the entry packs files, else the entry.
struct SourcedRule {
    id: String,
    source: String,
    rule: Value,
}

/// The rules in `entries` (name, text), in order, as the engine reads entries (packed or
/// not). Entry names lose their version prefix.
fn rules(entries: &[(String, String)]) -> (Vec<SourcedRule>, Vec<String>) {
    let mut rules = Vec::new();
    let mut unreadable = Vec::new();
    for (name, text) in entries {
        let entry = versions::entry_name(name).to_owned();
        let Ok(written) = edge_rewriter::language::written_rules(text) else {
            unreadable.push(entry);
            continue;
        };
        for written in written {
            let source = match &written.file {
                Some(file) => file.clone(),
                None => entry.clone(),
            };
            let id = written
                .rule
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("{source}#{}", written.position + 1), str::to_owned);
            rules.push(SourcedRule { id, source, rule: written.rule });
        }
    }
    (rules, unreadable)
}

/// How two rule sets differ.
#[derive(Debug, Default)]
pub struct RulesDiff {
    /// `+ id (entry)`, `- id (entry)`, `~ id (entry)` and the changed fields, in order.
    pub lines: Vec<String>,
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub unchanged: usize,
    /// Whether the rules that stay apply in another order.
    pub reordered: bool,
}

impl RulesDiff {
    /// Whether the two sets are the same, rule for rule and in the same order.
    pub fn is_empty(&self) -> bool {
        self.added + self.removed + self.changed == 0 && !self.reordered
    }

    /// `rules: 1 added, 1 changed, 0 removed, 10 unchanged` and the lines below it.
    pub fn render(&self) -> String {
        let mut text = format!(
            "rules: {} added, {} changed, {} removed, {} unchanged{}\n",
            self.added,
            self.changed,
            self.removed,
            self.unchanged,
            if self.reordered { "; the order changes" } else { "" }
        );
        for line in &self.lines {
            text.push_str(&format!("  {line}\n"));
        }
        text
    }
}

/// How the rules in `after` differ from those in `before` (entries as name and text).
pub fn diff(before: &[(String, String)], after: &[(String, String)]) -> RulesDiff {
    let (old, old_unreadable) = rules(before);
    let (new, new_unreadable) = rules(after);
    let mut diff = RulesDiff::default();
    for entry in old_unreadable {
        diff.lines.push(format!("! entry {entry} in the store is not valid JSON: its rules are not compared"));
    }
    for entry in new_unreadable {
        diff.lines.push(format!("! entry {entry} is not valid JSON"));
    }
    for rule in &new {
        match old.iter().find(|old| old.id == rule.id) {
            None => {
                diff.added += 1;
                diff.lines.push(format!("+ {} ({})", rule.id, rule.source));
            }
            Some(old) if old.rule == rule.rule => {
                diff.unchanged += 1;
                if old.source != rule.source {
                    diff.lines.push(format!("> {} moves from {} to {}", rule.id, old.source, rule.source));
                }
            }
            Some(old) => {
                diff.changed += 1;
                diff.lines.push(format!("~ {} ({})", rule.id, rule.source));
                let mut changes = Vec::new();
                fields(&old.rule, &rule.rule, &mut String::new(), &mut changes);
                diff.lines.extend(changes.into_iter().map(|change| format!("    {change}")));
            }
        }
    }
    for rule in &old {
        if !new.iter().any(|new| new.id == rule.id) {
            diff.removed += 1;
            diff.lines.push(format!("- {} ({})", rule.id, rule.source));
        }
    }
    let kept = |rules: &[SourcedRule], other: &[SourcedRule]| -> Vec<String> {
        rules.iter().filter(|rule| other.iter().any(|o| o.id == rule.id)).map(|rule| rule.id.clone()).collect()
    };
    diff.reordered = kept(&old, &new) != kept(&new, &old);
    diff
}

/// Each field that differs between `old` and `new`, as `path: old → new`.
fn fields(old: &Value, new: &Value, path: &mut String, changes: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => fields(x, y, path, changes),
                    (Some(x), None) => changes.push(format!("{path}: {} → (removed)", short(x))),
                    (None, Some(y)) => changes.push(format!("{path}: (added) → {}", short(y))),
                    (None, None) => {}
                }
                path.truncate(len);
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                fields(x, y, path, changes);
                path.truncate(len);
            }
        }
        (Value::String(a), Value::String(b)) if a != b => {
            let (before, after) = around_the_change(a, b);
            changes.push(format!("{path}: {before} → {after}"));
        }
        _ if old != new => changes.push(format!("{path}: {} → {}", short(old), short(new))),
        _ => {}
    }
}

/// Characters of context kept around a change in a long string.
const CONTEXT: usize = 24;

/// Two strings cut to where they differ, with a little context: `"…sale: 20% off…"`.
fn around_the_change(a: &str, b: &str) -> (String, String) {
    let a_chars: Vec<char> = a.chars().collect();
    let b_chars: Vec<char> = b.chars().collect();
    let prefix = a_chars.iter().zip(&b_chars).take_while(|(x, y)| x == y).count();
    let suffix = a_chars[prefix..].iter().rev().zip(b_chars[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let start = prefix.saturating_sub(CONTEXT);
    let quote = |chars: &[char]| {
        let end = (chars.len() - suffix + CONTEXT).min(chars.len());
        let text: String = chars[start..end].iter().collect();
        let open = if start > 0 { "…" } else { "" };
        let close = if end < chars.len() { "…" } else { "" };
        format!("\"{open}{}{close}\"", text.replace('"', "\\\""))
    };
    (quote(&a_chars), quote(&b_chars))
}

/// A value as compact JSON, cut short.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 2 * CONTEXT + 20 {
        return text;
    }
    format!("{}…", text.chars().take(2 * CONTEXT + 20).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(name, text)| (name.to_string(), text.to_string())).collect()
    }

    #[test]
    fn rules_are_compared_by_id_and_as_written() {
        let banner = r#"{"id":"banner","selector":"body","actions":[{"prepend":{"html":"<div>Winter sale: 20% off everything until Sunday</div>"}}]}"#;
        let before = entries(&[
            ("v3.10-banner", banner),
            (
                "v3.20-old",
                r#"[{"id":"old","selector":"p","actions":["remove"]},{"id":"same","selector":"i","actions":["unwrap"]}]"#,
            ),
        ]);
        let after = entries(&[
            ("10-banner", &banner.replace("20% off everything until Sunday", "30% off everything until Monday")),
            ("20-old", r#"[ {"id": "same", "actions": ["unwrap"], "selector": "i"} ]"#),
            ("30-new", r#"{"id":"new","selector":"h1","actions":["remove"]}"#),
        ]);
        let diff = diff(&before, &after);
        assert_eq!((diff.added, diff.changed, diff.removed, diff.unchanged), (1, 1, 1, 1));
        assert!(!diff.reordered);
        let text = diff.render();
        assert!(text.starts_with("rules: 1 added, 1 changed, 1 removed, 1 unchanged\n"), "{text}");
        assert!(text.contains("  ~ banner (10-banner)\n"), "{text}");
        assert!(
            text.contains(r#"actions[0].prepend.html: "<div>Winter sale: 20% off everything until Sunday</div>" → "<div>Winter sale: 30% off everything until Monday</div>""#),
            "{text}"
        );
        let long = format!("{}Winter sale: 20% off{}", "a".repeat(100), "z".repeat(100));
        let (old, new) = around_the_change(&long, &long.replace("20%", "30%"));
        assert_eq!(old, format!("\"…{}Winter sale: 20% off{}…\"", "a".repeat(11), "z".repeat(18)));
        assert_eq!(new, format!("\"…{}Winter sale: 30% off{}…\"", "a".repeat(11), "z".repeat(18)));
        assert!(text.contains("  + new (30-new)\n") && text.contains("  - old (20-old)\n"), "{text}");
        assert!(super::diff(&after, &after).is_empty());
    }

    #[test]
    fn a_new_order_is_a_change() {
        let a = r#"{"id":"a","selector":"p","actions":["remove"]}"#;
        let b = r#"{"id":"b","selector":"p","actions":["remove"]}"#;
        let diff = diff(&entries(&[("1", a), ("2", b)]), &entries(&[("1", b), ("2", a)]));
        assert!(diff.reordered && !diff.is_empty());
        assert!(diff.render().contains("the order changes"));
    }
}
