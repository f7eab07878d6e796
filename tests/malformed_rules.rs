//! Malformed rules, each with the message an editor gets: which entry, which rule, which
//! field, and what is wrong. Each bad rule sits next to a good one that must still apply.

#![cfg(not(target_arch = "wasm32"))]

use edge_rewriter::{RequestContext, RewriteOptions, RuleSet, stream};

/// (what is wrong, entry text, expected rule name, expected field, text the reason contains)
const CASES: &[(&str, &str, &str, &str, &str)] = &[
    ("not JSON", r#"{"id": "x", "#, "", "", "not valid JSON"),
    ("a string", r#""remove everything""#, "", "", "found a string"),
    ("an array of strings", r#"["x"]"#, "#1", "", "expected a rule object, found a string"),
    ("no id", r#"{"selector": "p", "actions": ["remove"]}"#, "#1", "id", "missing field `id`"),
    ("id not a string", r#"{"id": 7, "selector": "p", "actions": ["remove"]}"#, "#1", "id", "invalid type: integer"),
    ("empty id", r#"{"id": " ", "selector": "p", "actions": ["remove"]}"#, "#1", "id", "the id is empty"),
    ("no actions", r#"{"id": "x", "selector": "p"}"#, "x", "actions", "missing field `actions`"),
    ("empty actions", r#"{"id": "x", "selector": "p", "actions": []}"#, "x", "actions", "no actions"),
    (
        "misspelt field",
        r#"{"id": "x", "selectr": "p", "actions": ["remove"]}"#,
        "x",
        "selectr",
        "unknown field `selectr`",
    ),
    (
        "unknown action",
        r#"{"id": "x", "selector": "p", "actions": ["delete"]}"#,
        "x",
        "actions[0]",
        "unknown variant `delete`",
    ),
    (
        "action without its content",
        r#"{"id": "x", "selector": "p", "actions": ["prepend"]}"#,
        "x",
        "actions[0].prepend",
        "`prepend` needs a value",
    ),
    (
        "unit action given a value",
        r#"{"id": "x", "selector": "p", "actions": [{"remove": true}]}"#,
        "x",
        "actions[0].remove",
        "`remove` takes no value",
    ),
    (
        "content neither html nor text",
        r#"{"id": "x", "selector": "p", "actions": [{"append": {"markup": "<b>"}}]}"#,
        "x",
        "actions[0].append",
        "unknown variant `markup`",
    ),
    (
        "enabled not a boolean",
        r#"{"id": "x", "enabled": "no", "selector": "p", "actions": ["remove"]}"#,
        "x",
        "enabled",
        "expected a boolean",
    ),
    (
        "unsupported pseudo-class",
        r#"{"id": "x", "selector": "li:last-child", "actions": ["remove"]}"#,
        "x",
        "selector",
        "the pseudo-class `:last-child` is not supported",
    ),
    (
        "sibling combinator",
        r#"{"id": "x", "selector": "h1 + p", "actions": ["remove"]}"#,
        "x",
        "selector",
        "next-sibling combinator `+`",
    ),
    (":has()", r#"{"id": "x", "selector": "div:has(img)", "actions": ["remove"]}"#, "x", "selector", ":has()"),
    ("broken selector", r#"{"id": "x", "selector": "div[", "actions": ["remove"]}"#, "x", "selector", "not valid CSS"),
    (
        "element action without selector",
        r#"{"id": "x", "actions": [{"append": {"html": "<b>"}}]}"#,
        "x",
        "selector",
        "`append` acts on elements",
    ),
    (
        "document action with selector",
        r#"{"id": "x", "selector": "body", "actions": [{"append_to_document": {"html": "<b>"}}]}"#,
        "x",
        "selector",
        "acts on the whole document",
    ),
    (
        "unknown template variable",
        r#"{"id": "x", "selector": "p", "actions": [{"append": {"html": "Hi {{user}}"}}]}"#,
        "x",
        "actions[0].append.html",
        "unknown template variable `{{user}}`",
    ),
    (
        "unclosed template",
        r#"{"id": "x", "selector": "p", "actions": [{"append": {"text": "{{path"}}]}"#,
        "x",
        "actions[0].append.text",
        "without a closing",
    ),
    (
        "template in attribute value",
        r#"{"id": "x", "selector": "p", "actions": [{"set_attribute": {"name": "title", "value": "{{query}}"}}]}"#,
        "x",
        "actions[0].set_attribute.value",
        "unknown template variable",
    ),
    (
        "bad attribute name",
        r#"{"id": "x", "selector": "p", "actions": [{"set_attribute": {"name": "on click", "value": "1"}}]}"#,
        "x",
        "actions[0].set_attribute.name",
        "not an attribute name",
    ),
    (
        "set_attribute without value",
        r#"{"id": "x", "selector": "p", "actions": [{"set_attribute": {"name": "rel"}}]}"#,
        "x",
        "actions[0].set_attribute",
        "missing field `value`",
    ),
    (
        "empty remove_attribute",
        r#"{"id": "x", "selector": "p", "actions": [{"remove_attribute": ""}]}"#,
        "x",
        "actions[0].remove_attribute",
        "not an attribute name",
    ),
    (
        "invalid regex",
        r#"{"id": "x", "selector": "a", "actions": [{"rewrite_attribute": {"name": "href", "pattern": "http(s", "replacement": "x"}}]}"#,
        "x",
        "actions[0].rewrite_attribute.pattern",
        "invalid regex \"http(s\"",
    ),
    (
        "regex too big",
        r#"{"id": "x", "selector": "a", "actions": [{"rewrite_attribute": {"name": "href", "pattern": "(?:a{1000}){1000}", "replacement": "x"}}]}"#,
        "x",
        "actions[0].rewrite_attribute.pattern",
        "too large",
    ),
    (
        "missing capture group",
        r#"{"id": "x", "selector": "a", "actions": [{"rewrite_attribute": {"name": "href", "pattern": "^http://(.*)$", "replacement": "https://$2"}}]}"#,
        "x",
        "actions[0].rewrite_attribute.replacement",
        "`$2` refers to a capture group",
    ),
    (
        "bad tag name",
        r#"{"id": "x", "selector": "div", "actions": [{"rename_tag": "my tag"}]}"#,
        "x",
        "actions[0].rename_tag",
        "not a tag name",
    ),
    (
        "unknown condition",
        r#"{"id": "x", "selector": "p", "when": {"url": "/"}, "actions": ["remove"]}"#,
        "x",
        "when.url",
        "unknown field `url`",
    ),
    (
        "path matcher without a test",
        r#"{"id": "x", "selector": "p", "when": {"path": {}}, "actions": ["remove"]}"#,
        "x",
        "when.path",
        "give one of",
    ),
    (
        "path matcher with two tests",
        r#"{"id": "x", "selector": "p", "when": {"path": {"prefix": "/a", "glob": "/b*"}}, "actions": ["remove"]}"#,
        "x",
        "when.path",
        "only one",
    ),
    (
        "path regex invalid",
        r#"{"id": "x", "selector": "p", "when": {"path": [{"prefix": "/a"}, {"regex": "["}]}, "actions": ["remove"]}"#,
        "x",
        "when.path[1]",
        "invalid regex",
    ),
    (
        "path as a plain string",
        r#"{"id": "x", "selector": "p", "when": {"path": "/news/"}, "actions": ["remove"]}"#,
        "x",
        "when.path",
        "an object or an array of objects",
    ),
    (
        "header test missing",
        r#"{"id": "x", "selector": "p", "when": {"header": {"name": "x-beta"}}, "actions": ["remove"]}"#,
        "x",
        "when.header",
        "say what to test",
    ),
    (
        "cookie present and equals",
        r#"{"id": "x", "selector": "p", "when": {"cookie": {"name": "a", "present": true, "equals": "b"}}, "actions": ["remove"]}"#,
        "x",
        "when.cookie",
        "not both",
    ),
    (
        "query without name",
        r#"{"id": "x", "selector": "p", "when": {"query": {"equals": "1"}}, "actions": ["remove"]}"#,
        "x",
        "when.query",
        "missing field `name`",
    ),
    (
        "empty status list",
        r#"{"id": "x", "selector": "p", "when": {"status": []}, "actions": ["remove"]}"#,
        "x",
        "when.status",
        "an empty list never matches",
    ),
    (
        "impossible status",
        r#"{"id": "x", "selector": "p", "when": {"status": [200, 999]}, "actions": ["remove"]}"#,
        "x",
        "when.status",
        "999 is not an HTTP status",
    ),
    (
        "status as text",
        r#"{"id": "x", "selector": "p", "when": {"status": ["200"]}, "actions": ["remove"]}"#,
        "x",
        "when.status[0]",
        "invalid type: string",
    ),
    (
        "time not RFC 3339",
        r#"{"id": "x", "selector": "p", "when": {"time": {"start": "27/11/2026"}}, "actions": ["remove"]}"#,
        "x",
        "when.time.start",
        "not an RFC 3339 time",
    ),
    (
        "time window backwards",
        r#"{"id": "x", "selector": "p", "when": {"time": {"start": "2026-12-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"}}, "actions": ["remove"]}"#,
        "x",
        "when.time",
        "must be before",
    ),
    (
        "empty time window",
        r#"{"id": "x", "selector": "p", "when": {"time": {}}, "actions": ["remove"]}"#,
        "x",
        "when.time",
        "give `start`, `end` or both",
    ),
    (
        "rollout over 100",
        r#"{"id": "x", "selector": "p", "when": {"rollout": {"percent": 150}}, "actions": ["remove"]}"#,
        "x",
        "when.rollout.percent",
        "not a percentage",
    ),
    (
        "rollout sticky key unknown",
        r#"{"id": "x", "selector": "p", "when": {"rollout": {"percent": 5, "sticky_by": "session"}}, "actions": ["remove"]}"#,
        "x",
        "when.rollout.sticky_by",
        "unknown variant `session`",
    ),
    (
        "replace_text with find and regex",
        r#"{"id": "x", "actions": [{"replace_text": {"find": "a", "regex": "b", "replace": "c"}}]}"#,
        "x",
        "actions[0].replace_text",
        "not both",
    ),
    (
        "replace_text without a pattern",
        r#"{"id": "x", "actions": [{"replace_text": {"replace": "c"}}]}"#,
        "x",
        "actions[0].replace_text",
        "say what to look for",
    ),
    (
        "replace_text without replace",
        r#"{"id": "x", "actions": [{"replace_text": {"find": "a"}}]}"#,
        "x",
        "actions[0].replace_text",
        "missing field `replace`",
    ),
    (
        "replace_text empty find",
        r#"{"id": "x", "actions": [{"replace_text": {"find": "", "replace": "c"}}]}"#,
        "x",
        "actions[0].replace_text.find",
        "empty",
    ),
    (
        "replace_text bad regex",
        r#"{"id": "x", "actions": [{"replace_text": {"regex": "cat(", "replace": "dog"}}]}"#,
        "x",
        "actions[0].replace_text.regex",
        "invalid regex \"cat(\": regex parse error",
    ),
    (
        "replace_text regex matching nothing",
        r#"{"id": "x", "actions": [{"replace_text": {"regex": "x*", "replace": "y"}}]}"#,
        "x",
        "actions[0].replace_text.regex",
        "matches empty text",
    ),
    (
        "replace_text unknown group",
        r#"{"id": "x", "actions": [{"replace_text": {"regex": "c(a)t", "replace": "$1$2"}}]}"#,
        "x",
        "actions[0].replace_text.replace",
        "`$2` refers to a capture group",
    ),
    (
        "replace_text max 0",
        r#"{"id": "x", "actions": [{"replace_text": {"find": "a", "replace": "b", "max": 0}}]}"#,
        "x",
        "actions[0].replace_text.max",
        "would do nothing",
    ),
    (
        "replace_text empty targets",
        r#"{"id": "x", "actions": [{"replace_text": {"find": "a", "replace": "b", "in": []}}]}"#,
        "x",
        "actions[0].replace_text.in",
        "an empty list",
    ),
    (
        "replace_text unknown target",
        r#"{"id": "x", "actions": [{"replace_text": {"find": "a", "replace": "b", "in": ["attributes"]}}]}"#,
        "x",
        "actions[0].replace_text.in[0]",
        "unknown variant `attributes`",
    ),
    (
        "nested condition error",
        r#"{"id": "x", "selector": "p", "when": {"not": {"any": [{"host": {"equals": "a"}}, {"method": []}]}}, "actions": ["remove"]}"#,
        "x",
        "when.not.any[1].method",
        "an empty list",
    ),
];

#[test]
fn every_malformed_rule_gets_its_message_and_the_good_rule_still_applies() {
    assert!(CASES.len() >= 30, "the table keeps at least 30 cases");
    let good = r#"{"id": "good", "selector": "p", "actions": [{"append": {"text": "!"}}]}"#;
    for (what, text, rule, field, reason) in CASES {
        let entries = [("10-bad".to_owned(), text.to_string()), ("20-good".to_owned(), good.to_owned())];
        let (rules, errors) = RuleSet::from_entries(&entries);
        assert_eq!(errors.len(), 1, "{what}: expected one error, got {errors:?}");
        let error = &errors[0];
        assert_eq!(error.entry, "10-bad", "{what}");
        assert_eq!(error.rule.as_deref().unwrap_or_default(), *rule, "{what}: {error}");
        assert_eq!(error.field.as_deref().unwrap_or_default(), *field, "{what}: {error}");
        assert!(error.reason.contains(reason), "{what}: expected {reason:?} in:\n  {error}");
        // The message, as logged, names everything an editor needs.
        let line = error.to_string();
        assert!(line.contains("\"10-bad\"") && line.contains(&error.reason), "{what}: {line}");

        let plan = rules.plan(&RequestContext::default());
        let out = stream(&plan, &RewriteOptions::default(), &b"<p>ok</p>"[..], Vec::new());
        assert_eq!(out.sink, b"<p>ok!</p>", "{what}: the good rule must still apply");
    }
}
