//! Rule files as an editor writes them by hand: two-space indents, a rule's fields in the
//! order docs/RULES.md introduces them (id, description, … selector, when, actions), and
//! anything short enough on one line (`"actions": [{ "remove_attribute": "style" }]`).
//! The same rules always give the same bytes, so saving twice changes nothing and a diff
//! shows only what the editor changed.

use serde_json::Value;

/// How wide a line may get before a value is spread over several.
const WIDTH: usize = 100;
/// A rule's fields in the order editors read them; others follow in name order.
const RULE_FIELDS: [&str; 9] =
    ["id", "description", "enabled", "mode", "selector", "max", "when", "actions", "experiment"];

/// The text of an entry holding `rules`: one rule as an object, several as an array.
pub fn entry_text(rules: &[Value]) -> String {
    let mut out = String::new();
    match rules {
        [rule] => write_value(rule, 0, true, &mut out),
        _ => {
            out.push_str("[\n");
            for (index, rule) in rules.iter().enumerate() {
                out.push_str("  ");
                write_value(rule, 2, true, &mut out);
                out.push_str(if index + 1 < rules.len() { ",\n" } else { "\n" });
            }
            out.push(']');
        }
    }
    out.push('\n');
    out
}

/// The rules an entry's text holds (one object, or an array of them).
pub fn rules_of(text: &str) -> Result<Vec<Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(rules)) => Ok(rules),
        Ok(rule @ Value::Object(_)) => Ok(vec![rule]),
        Ok(_) => Err("an entry holds a rule object or an array of them".to_owned()),
        Err(err) => Err(format!("not valid JSON: {err}")),
    }
}

/// An object's keys in writing order: a rule's as editors read them, others by name.
fn ordered_keys(map: &serde_json::Map<String, Value>, is_rule: bool) -> Vec<&String> {
    let mut keys: Vec<&String> = map.keys().collect();
    if is_rule {
        let rank = |key: &str| RULE_FIELDS.iter().position(|field| *field == key).unwrap_or(RULE_FIELDS.len());
        keys.sort_by(|a, b| (rank(a), a.as_str()).cmp(&(rank(b), b.as_str())));
    }
    keys
}

/// `value` on one line, as people space JSON: `{ "a": 1, "b": [1, 2] }`.
fn inline(value: &Value, is_rule: bool) -> String {
    match value {
        Value::Object(map) if map.is_empty() => "{}".to_owned(),
        Value::Object(map) => {
            let fields: Vec<String> = ordered_keys(map, is_rule)
                .into_iter()
                .map(|key| format!("{}: {}", Value::String(key.clone()), inline(&map[key], false)))
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|item| inline(item, false)).collect();
            format!("[{}]", items.join(", "))
        }
        scalar => scalar.to_string(),
    }
}

/// Writes `value` at `indent`, inline when it fits in what is left of the line (`is_rule`:
/// a rule object, whose fields go in editors' order and which is always spread out).
fn write_value(value: &Value, indent: usize, is_rule: bool, out: &mut String) {
    let line_start = out.rfind('\n').map_or(0, |at| at + 1);
    let column = out[line_start..].chars().count();
    let one_line = inline(value, is_rule);
    if !is_rule && column + one_line.chars().count() <= WIDTH {
        out.push_str(&one_line);
        return;
    }
    let pad = " ".repeat(indent + 2);
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            let keys = ordered_keys(map, is_rule);
            for (index, key) in keys.iter().enumerate() {
                out.push_str(&pad);
                out.push_str(&Value::String((*key).clone()).to_string());
                out.push_str(": ");
                write_value(&map[*key], indent + 2, false, out);
                out.push_str(if index + 1 < keys.len() { ",\n" } else { "\n" });
            }
            out.push_str(&" ".repeat(indent));
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (index, item) in items.iter().enumerate() {
                out.push_str(&pad);
                write_value(item, indent + 2, false, out);
                out.push_str(if index + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&" ".repeat(indent));
            out.push(']');
        }
        _ => out.push_str(&one_line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_written_as_editors_write_them() {
        let rule = serde_json::json!({
            "actions": [{"before": {"html": "<p class=\"promo\">Free delivery</p>"}}],
            "selector": "#main > h1",
            "id": "promo",
            "when": {"path": {"prefix": "/shop/"}},
        });
        assert_eq!(
            entry_text(std::slice::from_ref(&rule)),
            r##"{
  "id": "promo",
  "selector": "#main > h1",
  "when": { "path": { "prefix": "/shop/" } },
  "actions": [{ "before": { "html": "<p class=\"promo\">Free delivery</p>" } }]
}
"##
        );
        let two = entry_text(&[rule.clone(), serde_json::json!({"id": "x", "actions": ["remove_comments"]})]);
        assert!(two.starts_with("[\n  {\n    \"id\": \"promo\",\n"), "{two}");
        assert!(two.ends_with("  {\n    \"id\": \"x\",\n    \"actions\": [\"remove_comments\"]\n  }\n]\n"), "{two}");
        assert_eq!(rules_of(&two).unwrap(), vec![rule, serde_json::json!({"id": "x", "actions": ["remove_comments"]})]);
    }

    #[test]
    fn long_values_are_spread_over_lines() {
        let html = "x".repeat(120);
        let rule = serde_json::json!({"id": "long", "actions": [{"append": {"html": html}}]});
        let text = entry_text(std::slice::from_ref(&rule));
        assert!(text.contains("  \"actions\": [\n    {\n      \"append\": {\n        \"html\": \"xxx"), "{text}");
        assert_eq!(rules_of(&text).unwrap(), vec![rule]);
    }
}
