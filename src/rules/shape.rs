//! What to write instead: serde's complaint about a rule (`invalid type: string "DE",
//! expected a sequence`) turned into the editor's words and the shape that fits
//! (`a list, not a string: write ["DE"]`), from what was written there.

use serde_json::Value;

/// The reason an editor reads for serde's `reason` about the value `written` at `field`
/// (a path such as `when.geo.country`); `written` is `None` when the field is missing.
pub(crate) fn explain(field: &str, reason: &str, written: Option<&Value>) -> String {
    let name = field.rsplit('.').next().unwrap_or(field);
    let name = name.split('[').next().unwrap_or(name);
    if reason.contains("expected newtype variant") {
        return format!(
            "`{name}` needs a value: write {{\"{name}\": ...}} as docs/RULES.md shows, not \"{name}\" alone"
        );
    }
    if reason.contains("expected unit variant") || reason.ends_with("expected unit") {
        return format!("`{name}` takes no value: write \"{name}\" alone");
    }
    if let Some(variant) = quoted_after(reason, "unknown variant `") {
        return unknown_variant(variant, reason, written);
    }
    let (Some(expected), Some(written)) = (reason.split(", expected ").nth(1), written) else {
        return reason.to_owned();
    };
    if !reason.starts_with("invalid type") && !reason.starts_with("invalid value") {
        return reason.to_owned();
    }
    match shape_for(expected, field, written) {
        Some((wanted, shape)) => format!("{wanted} is expected here, not {}: write {shape}", kind(written)),
        None => format!("{} is expected here, not {}", expected_in_words(expected), kind(written)),
    }
}

/// What `expected` asks for, in words, and the value `written` in that shape, if it can be
/// told: `("a list", r#"["DE"]"#)`.
fn shape_for(expected: &str, field: &str, written: &Value) -> Option<(&'static str, String)> {
    let inline = |value: &Value| serde_json::to_string(value).expect("values serialise");
    let text = written.as_str();
    match expected {
        "a sequence" => (!written.is_array()).then(|| ("a list", format!("[{}]", inline(written)))),
        "a string" => match written {
            Value::Array(items) if items.len() == 1 && items[0].is_string() => Some(("one text", inline(&items[0]))),
            Value::Number(_) | Value::Bool(_) => Some(("a text", inline(&Value::String(written.to_string())))),
            _ => None,
        },
        "a boolean" => text.and_then(|text| text.trim().parse::<bool>().ok()).map(|b| ("true or false", b.to_string())),
        "u16" | "u32" | "u64" | "f64" | "a number" => text
            .map(str::trim)
            .filter(|text| text.parse::<f64>().is_ok_and(f64::is_finite))
            .map(|number| ("a number", number.to_owned())),
        "an object or an array of objects" => text.map(|text| {
            let matcher = match field.rsplit('.').next().unwrap_or(field) {
                "path" => format!("{{\"prefix\": {}}}", inline(&Value::String(text.to_owned()))),
                "header" | "cookie" | "query" => {
                    format!("{{\"name\": {}, \"present\": true}}", inline(&Value::String(text.to_owned())))
                }
                _ => format!("{{\"equals\": {}}}", inline(&Value::String(text.to_owned()))),
            };
            ("an object", matcher)
        }),
        _ => None,
    }
}

/// A string where an enum's object was expected (`"fallback": "Promo unavailable"`), or a
/// name that is not one of the enum's.
fn unknown_variant(variant: &str, reason: &str, written: Option<&Value>) -> String {
    // serde says `expected one of `a`, `b`, `c``, `expected `a` or `b``, or `expected `a``.
    let list = reason.split_once(", expected ").map_or("", |(_, list)| list);
    let list = list.strip_prefix("one of ").unwrap_or(list);
    let known: Vec<&str> = list
        .split(", ")
        .flat_map(|names| names.split(" or "))
        .map(|name| name.trim_matches('`'))
        .filter(|name| !name.is_empty())
        .collect();
    let is_content = known.contains(&"html") && known.contains(&"text");
    if is_content && written.is_some_and(Value::is_string) {
        let quoted = serde_json::to_string(variant).expect("strings serialise");
        let (kind, other) = if variant.contains('<') { ("html", "text") } else { ("text", "html") };
        return format!(
            "content is an object saying how to insert it: write {{\"{kind}\": {quoted}}} (or {{\"{other}\": ...}}{})",
            if known.contains(&"include") { ", or {\"include\": {...}} for a fragment" } else { "" }
        );
    }
    match known.as_slice() {
        [] => format!("`{variant}` is not known here"),
        names => format!("`{variant}` is not one of: {}", names.join(", ")),
    }
}

/// serde's names for what it expected, as editors say them.
fn expected_in_words(expected: &str) -> String {
    match expected {
        "a sequence" => "a list".to_owned(),
        "u16" | "u32" | "u64" => "a whole number".to_owned(),
        "f64" => "a number".to_owned(),
        "a map" => "an object".to_owned(),
        other => other.strip_prefix("struct ").map_or_else(|| other.to_owned(), |_| "an object".to_owned()),
    }
}

/// The text between `prefix` and the next backquote in `reason`.
fn quoted_after<'a>(reason: &'a str, prefix: &str) -> Option<&'a str> {
    reason.split_once(prefix)?.1.split('`').next()
}

/// What kind of JSON value this is, as messages say it: `a string`, `an array`.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn shapes_are_made_from_what_was_written() {
        let cases = [
            (
                "when.geo.country",
                "invalid type: string \"DE\", expected a sequence",
                json!("DE"),
                "a list is expected here, not a string: write [\"DE\"]",
            ),
            (
                "x.timeout_ms",
                "invalid type: string \"300\", expected u64",
                json!("300"),
                "a number is expected here, not a string: write 300",
            ),
            (
                "x.timeout_ms",
                "invalid type: string \"soon\", expected u64",
                json!("soon"),
                "a whole number is expected here, not a string",
            ),
            (
                "f",
                "unknown variant `<b>Sale</b>`, expected one of `html`, `text`",
                json!("<b>Sale</b>"),
                "content is an object saying how to insert it: write {\"html\": \"<b>Sale</b>\"} (or {\"text\": ...})",
            ),
            (
                "actions[0]",
                "unknown variant `delete`, expected one of `before`, `remove`",
                json!("delete"),
                "`delete` is not one of: before, remove",
            ),
        ];
        for (field, reason, written, expected) in cases {
            assert_eq!(explain(field, reason, Some(&written)), expected, "{reason}");
        }
        assert_eq!(explain("id", "missing field `id`", None), "missing field `id`");
    }
}
