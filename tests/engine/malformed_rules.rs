//! Malformed rules, each with the message an editor gets: which entry, which rule, which
//! field, and what is wrong. Each bad rule sits next to a good one that must still apply.
//!
//! One test per case, so a run names every case that fails, not just the first.

#![cfg(not(target_arch = "wasm32"))]

use edge_rewriter::{RequestContext, RewriteOptions, RuleSet, stream};

/// Checks one malformed entry, `10-bad`, next to a good one: it gets exactly one error, for
/// the rule `rule` (`None`: the whole entry) and the field `field` (`None`: the whole rule),
/// whose reason contains `reason`; the good rule still applies.
fn check(what: &str, text: &str, rule: Option<&str>, field: Option<&str>, reason: &str) {
    let good = r#"{"id": "good", "selector": "p", "actions": [{"append": {"text": "!"}}]}"#;
    let entries = [("10-bad".to_owned(), text.to_owned()), ("20-good".to_owned(), good.to_owned())];
    let (rules, errors) = RuleSet::from_entries(&entries);
    assert_eq!(errors.len(), 1, "{what}: expected one error, got {errors:?}");
    let error = &errors[0];
    assert_eq!(error.entry, "10-bad", "{what}");
    assert_eq!(error.rule.as_deref(), rule, "{what}: {error}");
    assert_eq!(error.field.as_deref(), field, "{what}: {error}");
    assert!(error.reason.contains(reason), "{what}: expected {reason:?} in:\n  {error}");
    // The message, as logged, names everything an editor needs.
    let line = error.to_string();
    assert!(line.contains("\"10-bad\"") && line.contains(&error.reason), "{what}: {line}");

    let plan = rules.plan(&RequestContext::default());
    let out = stream(&plan, &RewriteOptions::default(), &b"<p>ok</p>"[..], Vec::new());
    assert_eq!(out.sink, b"<p>ok!</p>", "{what}: the good rule must still apply");
}

/// `name: (what is wrong, entry text, expected rule name, expected field, text the reason
/// contains),` becomes `#[test] fn name()` checking that case; [`CASES`] counts them.
macro_rules! malformed_rules {
    ($($name:ident: ($what:expr, $text:expr, $rule:expr, $field:expr, $reason:expr $(,)?),)+) => {
        $(
            #[test]
            fn $name() {
                check($what, $text, $rule, $field, $reason);
            }
        )+

        /// How many cases the table holds.
        const CASES: usize = [$(stringify!($name)),+].len();
    };
}

// Checked when the tests compile.
const _: () = assert!(CASES >= 30, "the table keeps at least 30 cases");

malformed_rules! {
    max_zero: ("max 0", r#"{"id": "x", "selector": "p", "max": 0, "actions": ["remove"]}"#, Some("x"), Some("max"), "0 elements would do nothing"),
    max_without_element_actions: (
        "max on a text rule",
        r#"{"id": "x", "max": 1, "actions": [{"replace_text": {"find": "a", "replace": "b"}}]}"#,
        Some("x"),
        Some("max"),
        "`replace_text` takes its own `max`",
    ),
    include_in_comments: (
        "an include where comments go",
        r#"{"id": "x", "actions": [{"replace_comments": {"include": {"path": "/f"}}}]}"#,
        Some("x"),
        Some("actions[0].replace_comments.include"),
        "an include goes where an element action puts content",
    ),
    include_relative_path: (
        "an include path without /",
        r#"{"id": "x", "selector": "p", "actions": [{"append": {"include": {"path": "fragments/a.html"}}}]}"#,
        Some("x"),
        Some("actions[0].append.include.path"),
        "starting with a single `/`",
    ),
    include_other_host: (
        "an include path naming another host",
        r#"{"id": "x", "selector": "p", "actions": [{"append": {"include": {"path": "//evil.example/a"}}}]}"#,
        Some("x"),
        Some("actions[0].append.include.path"),
        "starting with a single `/`",
    ),
    include_backend_and_site: (
        "an include from a backend and a site",
        r#"{"id": "x", "selector": "p", "actions": [{"append": {"include": {"path": "/a", "backend": "cms", "site": "b.example"}}}]}"#,
        Some("x"),
        Some("actions[0].append.include.site"),
        "not both",
    ),
    include_timeout_too_long: (
        "an include timeout over 10 s",
        r#"{"id": "x", "selector": "p", "actions": [{"append": {"include": {"path": "/a", "timeout_ms": 60000}}}]}"#,
        Some("x"),
        Some("actions[0].append.include.timeout_ms"),
        "over the most an include may take, 10000",
    ),
    include_fallback_include: (
        "an include as an include's fallback",
        r#"{"id": "x", "selector": "p", "actions": [{"append": {"include": {"path": "/a", "fallback": {"include": {"path": "/b"}}}}}]}"#,
        Some("x"),
        Some("actions[0].append.include.fallback"),
        "not another include",
    ),
    not_json: ("not JSON", r#"{"id": "x", "#, None, None, "not valid JSON"),
    a_string: ("a string", r#""remove everything""#, None, None, "found a string"),
    an_array_of_strings: (
        "an array of strings",
        r#"["x"]"#,
        Some("#1"),
        None,
        "expected a rule object, found a string",
    ),
    no_id: ("no id", r#"{"selector": "p", "actions": ["remove"]}"#, Some("#1"), Some("id"), "missing field `id`"),
    id_not_a_string: (
        "id not a string",
        r#"{"id": 7, "selector": "p", "actions": ["remove"]}"#,
        Some("#1"),
        Some("id"),
        "a text is expected here, not a number: write \"7\"",
    ),
    empty_id: (
        "empty id",
        r#"{"id": " ", "selector": "p", "actions": ["remove"]}"#,
        Some("#1"),
        Some("id"),
        "the id is empty",
    ),
    no_actions: (
        "no actions",
        r#"{"id": "x", "selector": "p"}"#,
        Some("x"),
        Some("actions"),
        "the rule has no actions",
    ),
    empty_actions: (
        "empty actions",
        r#"{"id": "x", "selector": "p", "actions": []}"#,
        Some("x"),
        Some("actions"),
        "no actions",
    ),
    misspelt_field: (
        "misspelt field",
        r#"{"id": "x", "selectr": "p", "actions": ["remove"]}"#,
        Some("x"),
        Some("selectr"),
        "unknown field `selectr`",
    ),
    unknown_action: (
        "unknown action",
        r#"{"id": "x", "selector": "p", "actions": ["delete"]}"#,
        Some("x"),
        Some("actions[0]"),
        "`delete` is not one of: before, after",
    ),
    action_without_its_content: (
        "action without its content",
        r#"{"id": "x", "selector": "p", "actions": ["prepend"]}"#,
        Some("x"),
        Some("actions[0].prepend"),
        "`prepend` needs a value",
    ),
    unit_action_given_a_value: (
        "unit action given a value",
        r#"{"id": "x", "selector": "p", "actions": [{"remove": true}]}"#,
        Some("x"),
        Some("actions[0].remove"),
        "`remove` takes no value",
    ),
    content_neither_html_nor_text: (
        "content neither html nor text",
        r#"{"id": "x", "selector": "p", "actions": [{"append": {"markup": "<b>"}}]}"#,
        Some("x"),
        Some("actions[0].append"),
        "`markup` is not one of: html, text, include",
    ),
    enabled_not_a_boolean: (
        "enabled not a boolean",
        r#"{"id": "x", "enabled": "no", "selector": "p", "actions": ["remove"]}"#,
        Some("x"),
        Some("enabled"),
        "a boolean is expected here, not a string",
    ),
    unsupported_pseudo_class: (
        "unsupported pseudo-class",
        r#"{"id": "x", "selector": "li:last-child", "actions": ["remove"]}"#,
        Some("x"),
        Some("selector"),
        "the pseudo-class `:last-child` is not supported",
    ),
    sibling_combinator: (
        "sibling combinator",
        r#"{"id": "x", "selector": "h1 + p", "actions": ["remove"]}"#,
        Some("x"),
        Some("selector"),
        "next-sibling combinator `+`",
    ),
    has_pseudo_class: (
        ":has()",
        r#"{"id": "x", "selector": "div:has(img)", "actions": ["remove"]}"#,
        Some("x"),
        Some("selector"),
        ":has()",
    ),
    broken_selector: (
        "broken selector",
        r#"{"id": "x", "selector": "div[", "actions": ["remove"]}"#,
        Some("x"),
        Some("selector"),
        "not valid CSS",
    ),
    element_action_without_selector: (
        "element action without selector",
        r#"{"id": "x", "actions": [{"append": {"html": "<b>"}}]}"#,
        Some("x"),
        Some("selector"),
        "`append` acts on elements",
    ),
    document_action_with_selector: (
        "document action with selector",
        r#"{"id": "x", "selector": "body", "actions": [{"append_to_document": {"html": "<b>"}}]}"#,
        Some("x"),
        Some("selector"),
        "acts on the whole document",
    ),
    unknown_template_variable: (
        "unknown template variable",
        r#"{"id": "x", "selector": "p", "actions": [{"append": {"html": "Hi {{user}}"}}]}"#,
        Some("x"),
        Some("actions[0].append.html"),
        "unknown template variable `{{user}}`",
    ),
    unclosed_template: (
        "unclosed template",
        r#"{"id": "x", "selector": "p", "actions": [{"append": {"text": "{{path"}}]}"#,
        Some("x"),
        Some("actions[0].append.text"),
        "without a closing",
    ),
    template_in_attribute_value: (
        "template in attribute value",
        r#"{"id": "x", "selector": "p", "actions": [{"set_attribute": {"name": "title", "value": "{{query}}"}}]}"#,
        Some("x"),
        Some("actions[0].set_attribute.value"),
        "unknown template variable",
    ),
    bad_attribute_name: (
        "bad attribute name",
        r#"{"id": "x", "selector": "p", "actions": [{"set_attribute": {"name": "on click", "value": "1"}}]}"#,
        Some("x"),
        Some("actions[0].set_attribute.name"),
        "not an attribute name",
    ),
    set_attribute_without_value: (
        "set_attribute without value",
        r#"{"id": "x", "selector": "p", "actions": [{"set_attribute": {"name": "rel"}}]}"#,
        Some("x"),
        Some("actions[0].set_attribute"),
        "missing field `value`",
    ),
    empty_remove_attribute: (
        "empty remove_attribute",
        r#"{"id": "x", "selector": "p", "actions": [{"remove_attribute": ""}]}"#,
        Some("x"),
        Some("actions[0].remove_attribute"),
        "not an attribute name",
    ),
    invalid_regex: (
        "invalid regex",
        r#"{"id": "x", "selector": "a", "actions": [{"rewrite_attribute": {"name": "href", "pattern": "http(s", "replacement": "x"}}]}"#,
        Some("x"),
        Some("actions[0].rewrite_attribute.pattern"),
        "invalid regex \"http(s\"",
    ),
    regex_too_big: (
        "regex too big",
        r#"{"id": "x", "selector": "a", "actions": [{"rewrite_attribute": {"name": "href", "pattern": "(?:a{1000}){1000}", "replacement": "x"}}]}"#,
        Some("x"),
        Some("actions[0].rewrite_attribute.pattern"),
        // Compiling gives up at what the compile CPU budget has left, before the size limit.
        "compile CPU budget",
    ),
    missing_capture_group: (
        "missing capture group",
        r#"{"id": "x", "selector": "a", "actions": [{"rewrite_attribute": {"name": "href", "pattern": "^http://(.*)$", "replacement": "https://$2"}}]}"#,
        Some("x"),
        Some("actions[0].rewrite_attribute.replacement"),
        "`$2` refers to a capture group",
    ),
    bad_tag_name: (
        "bad tag name",
        r#"{"id": "x", "selector": "div", "actions": [{"rename_tag": "my tag"}]}"#,
        Some("x"),
        Some("actions[0].rename_tag"),
        "not a tag name",
    ),
    unknown_condition: (
        "unknown condition",
        r#"{"id": "x", "selector": "p", "when": {"url": "/"}, "actions": ["remove"]}"#,
        Some("x"),
        Some("when.url"),
        "unknown field `url`",
    ),
    path_matcher_without_a_test: (
        "path matcher without a test",
        r#"{"id": "x", "selector": "p", "when": {"path": {}}, "actions": ["remove"]}"#,
        Some("x"),
        Some("when.path"),
        "give one of",
    ),
    path_matcher_with_two_tests: (
        "path matcher with two tests",
        r#"{"id": "x", "selector": "p", "when": {"path": {"prefix": "/a", "glob": "/b*"}}, "actions": ["remove"]}"#,
        Some("x"),
        Some("when.path"),
        "only one",
    ),
    path_regex_invalid: (
        "path regex invalid",
        r#"{"id": "x", "selector": "p", "when": {"path": [{"prefix": "/a"}, {"regex": "["}]}, "actions": ["remove"]}"#,
        Some("x"),
        Some("when.path[1]"),
        "invalid regex",
    ),
    path_as_a_plain_string: (
        "path as a plain string",
        r#"{"id": "x", "selector": "p", "when": {"path": "/news/"}, "actions": ["remove"]}"#,
        Some("x"),
        Some("when.path"),
        "write {\"prefix\": \"/news/\"}",
    ),
    header_test_missing: (
        "header test missing",
        r#"{"id": "x", "selector": "p", "when": {"header": {"name": "x-beta"}}, "actions": ["remove"]}"#,
        Some("x"),
        Some("when.header"),
        "say what to test",
    ),
    cookie_present_and_equals: (
        "cookie present and equals",
        r#"{"id": "x", "selector": "p", "when": {"cookie": {"name": "a", "present": true, "equals": "b"}}, "actions": ["remove"]}"#,
        Some("x"),
        Some("when.cookie"),
        "not both",
    ),
    query_without_name: (
        "query without name",
        r#"{"id": "x", "selector": "p", "when": {"query": {"equals": "1"}}, "actions": ["remove"]}"#,
        Some("x"),
        Some("when.query"),
        "missing field `name`",
    ),
    empty_status_list: (
        "empty status list",
        r#"{"id": "x", "selector": "p", "when": {"status": []}, "actions": ["remove"]}"#,
        Some("x"),
        Some("when.status"),
        "an empty list never matches",
    ),
    impossible_status: (
        "impossible status",
        r#"{"id": "x", "selector": "p", "when": {"status": [200, 999]}, "actions": ["remove"]}"#,
        Some("x"),
        Some("when.status"),
        "999 is not an HTTP status",
    ),
    status_as_text: (
        "status as text",
        r#"{"id": "x", "selector": "p", "when": {"status": ["200"]}, "actions": ["remove"]}"#,
        Some("x"),
        Some("when.status[0]"),
        "a number is expected here, not a string: write 200",
    ),
    time_not_rfc3339: (
        "time not RFC 3339",
        r#"{"id": "x", "selector": "p", "when": {"time": {"start": "27/11/2026"}}, "actions": ["remove"]}"#,
        Some("x"),
        Some("when.time.start"),
        "not an RFC 3339 time",
    ),
    time_window_backwards: (
        "time window backwards",
        r#"{"id": "x", "selector": "p", "when": {"time": {"start": "2026-12-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"}}, "actions": ["remove"]}"#,
        Some("x"),
        Some("when.time"),
        "must be before",
    ),
    empty_time_window: (
        "empty time window",
        r#"{"id": "x", "selector": "p", "when": {"time": {}}, "actions": ["remove"]}"#,
        Some("x"),
        Some("when.time"),
        "give `start`, `end` or both",
    ),
    rollout_over_100: (
        "rollout over 100",
        r#"{"id": "x", "selector": "p", "when": {"rollout": {"percent": 150}}, "actions": ["remove"]}"#,
        Some("x"),
        Some("when.rollout.percent"),
        "not a percentage",
    ),
    rollout_sticky_key_unknown: (
        "rollout sticky key unknown",
        r#"{"id": "x", "selector": "p", "when": {"rollout": {"percent": 5, "sticky_by": "session"}}, "actions": ["remove"]}"#,
        Some("x"),
        Some("when.rollout.sticky_by"),
        "`session` is not one of: client_ip, cookie, header",
    ),
    replace_text_with_find_and_regex: (
        "replace_text with find and regex",
        r#"{"id": "x", "actions": [{"replace_text": {"find": "a", "regex": "b", "replace": "c"}}]}"#,
        Some("x"),
        Some("actions[0].replace_text"),
        "not both",
    ),
    replace_text_without_a_pattern: (
        "replace_text without a pattern",
        r#"{"id": "x", "actions": [{"replace_text": {"replace": "c"}}]}"#,
        Some("x"),
        Some("actions[0].replace_text"),
        "say what to look for",
    ),
    replace_text_without_replace: (
        "replace_text without replace",
        r#"{"id": "x", "actions": [{"replace_text": {"find": "a"}}]}"#,
        Some("x"),
        Some("actions[0].replace_text"),
        "missing field `replace`",
    ),
    replace_text_empty_find: (
        "replace_text empty find",
        r#"{"id": "x", "actions": [{"replace_text": {"find": "", "replace": "c"}}]}"#,
        Some("x"),
        Some("actions[0].replace_text.find"),
        "empty",
    ),
    replace_text_bad_regex: (
        "replace_text bad regex",
        r#"{"id": "x", "actions": [{"replace_text": {"regex": "cat(", "replace": "dog"}}]}"#,
        Some("x"),
        Some("actions[0].replace_text.regex"),
        "invalid regex \"cat(\": regex parse error",
    ),
    replace_text_regex_matching_nothing: (
        "replace_text regex matching nothing",
        r#"{"id": "x", "actions": [{"replace_text": {"regex": "x*", "replace": "y"}}]}"#,
        Some("x"),
        Some("actions[0].replace_text.regex"),
        "matches empty text",
    ),
    replace_text_unknown_group: (
        "replace_text unknown group",
        r#"{"id": "x", "actions": [{"replace_text": {"regex": "c(a)t", "replace": "$1$2"}}]}"#,
        Some("x"),
        Some("actions[0].replace_text.replace"),
        "`$2` refers to a capture group",
    ),
    replace_text_max_0: (
        "replace_text max 0",
        r#"{"id": "x", "actions": [{"replace_text": {"find": "a", "replace": "b", "max": 0}}]}"#,
        Some("x"),
        Some("actions[0].replace_text.max"),
        "would do nothing",
    ),
    replace_text_empty_targets: (
        "replace_text empty targets",
        r#"{"id": "x", "actions": [{"replace_text": {"find": "a", "replace": "b", "in": []}}]}"#,
        Some("x"),
        Some("actions[0].replace_text.in"),
        "an empty list",
    ),
    replace_text_unknown_target: (
        "replace_text unknown target",
        r#"{"id": "x", "actions": [{"replace_text": {"find": "a", "replace": "b", "in": ["attributes"]}}]}"#,
        Some("x"),
        Some("actions[0].replace_text.in[0]"),
        "`attributes` is not one of: text, title, textarea, script, style",
    ),
    nested_condition_error: (
        "nested condition error",
        r#"{"id": "x", "selector": "p", "when": {"not": {"any": [{"host": {"equals": "a"}}, {"method": []}]}}, "actions": ["remove"]}"#,
        Some("x"),
        Some("when.not.any[1].method"),
        "an empty list",
    ),
    experiment_and_actions: (
        "an experiment with actions of its own",
        r#"{"id": "x", "selector": "p", "actions": ["remove"], "experiment": {"id": "e",
            "variants": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}]}}"#,
        Some("x"),
        Some("actions"),
        "has its actions in its variants",
    ),
    experiment_one_variant: (
        "an experiment with one variant",
        r#"{"id": "x", "selector": "p", "experiment": {"id": "e", "variants": [{"name": "a", "weight": 1}]}}"#,
        Some("x"),
        Some("experiment.variants"),
        "at least two variants",
    ),
    experiment_variant_action: (
        "a variant's bad action",
        r#"{"id": "x", "selector": "p", "experiment": {"id": "e", "variants": [{"name": "a", "weight": 1},
            {"name": "b", "weight": 1, "actions": [{"append": {"html": "{{user}}"}}]}]}}"#,
        Some("x"),
        Some("experiment.variants[1].actions[0].append.html"),
        "unknown template variable `{{user}}`",
    ),
    experiment_namespace_range: (
        "a namespace range the wrong way round",
        r#"{"id": "x", "selector": "p", "experiment": {"id": "e", "namespace": {"name": "home", "range": [60, 40]},
            "variants": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}]}}"#,
        Some("x"),
        Some("experiment.namespace.range"),
        "from below to",
    ),
    unknown_experiment: (
        "a condition on an experiment no rule declares",
        r#"{"id": "x", "selector": "p", "when": {"experiment": {"id": "hero"}}, "actions": ["remove"]}"#,
        Some("x"),
        Some("when.experiment"),
        "no rule declares an experiment \"hero\"",
    ),
    geo_country_name: (
        "a country name instead of a code",
        r#"{"id": "x", "selector": "p", "when": {"geo": {"country": ["Germany"]}}, "actions": ["remove"]}"#,
        Some("x"),
        Some("when.geo.country"),
        "ISO 3166-1 alpha-2",
    ),
    unknown_device: (
        "an unknown device type",
        r#"{"id": "x", "selector": "p", "when": {"device": ["phone"]}, "actions": ["remove"]}"#,
        Some("x"),
        Some("when.device[0]"),
        "`phone` is not one of: mobile, tablet, desktop, bot",
    ),
    header_with_a_selector: (
        "a header action in a rule with a selector",
        r#"{"id": "x", "selector": "body", "actions": [{"set_header": {"name": "X-A", "value": "1"}}]}"#,
        Some("x"),
        Some("selector"),
        "headers are sent before the page is read; move `set_header` to a rule without a selector",
    ),
    header_the_service_owns: (
        "a header the service owns",
        r#"{"id": "x", "actions": [{"set_header": {"name": "Content-Length", "value": "10"}}]}"#,
        Some("x"),
        Some("actions[0].set_header.name"),
        "rules cannot change `content-length`",
    ),
    header_name_not_a_token: (
        "a header name with a space",
        r#"{"id": "x", "actions": [{"append_header": {"name": "X Frame", "value": "1"}}]}"#,
        Some("x"),
        Some("actions[0].append_header.name"),
        "is not a header name",
    ),
    header_value_with_a_newline: (
        "a header value with a line break",
        r#"{"id": "x", "actions": [{"set_header": {"name": "X-A", "value": "1\r\nSet-Cookie: a=1"}}]}"#,
        Some("x"),
        Some("actions[0].set_header.value"),
        "control character",
    ),
    removing_the_policy: (
        "removing the Content-Security-Policy",
        r#"{"id": "x", "actions": [{"remove_header": "content-security-policy"}]}"#,
        Some("x"),
        Some("actions[0].remove_header"),
        "use `csp_add`",
    ),
    csp_wildcard_source: (
        "a wildcard script source",
        r#"{"id": "x", "actions": [{"csp_add": {"script-src": ["https://a.example", "'unsafe-inline'"]}}]}"#,
        Some("x"),
        Some("actions[0].csp_add.script-src[1]"),
        "would let inline or evaluated code run",
    ),
    csp_scheme_wide_host_wildcard: (
        "a host wildcard over a whole scheme",
        r#"{"id": "x", "actions": [{"csp_add": {"script-src": ["https://*"]}}]}"#,
        Some("x"),
        Some("actions[0].csp_add.script-src[0]"),
        "allows every host",
    ),
    csp_public_suffix_wildcard: (
        "a wildcard over a public suffix",
        r#"{"id": "x", "actions": [{"csp_add": {"default-src": ["'self'", "*.co.uk"]}}]}"#,
        Some("x"),
        Some("actions[0].csp_add.default-src[1]"),
        "every site under co.uk, a public suffix",
    ),
    csp_wildcard_port: (
        "a wildcard port",
        r#"{"id": "x", "actions": [{"csp_add": {"script-src-elem": ["https://cdn.example.com:*"]}}]}"#,
        Some("x"),
        Some("actions[0].csp_add.script-src-elem[0]"),
        "allows any port",
    ),
    csp_fixed_nonce: (
        "a fixed nonce",
        r#"{"id": "x", "actions": [{"csp_add": {"script-src": ["'nonce-abc123'"]}}]}"#,
        Some("x"),
        Some("actions[0].csp_add.script-src[0]"),
        "fixed nonce",
    ),
    cookie_same_site_none_insecure: (
        "SameSite=None without Secure",
        r#"{"id": "x", "actions": [{"set_cookie": {"name": "a", "value": "1", "same_site": "none", "secure": false}}]}"#,
        Some("x"),
        Some("actions[0].set_cookie.same_site"),
        "without `Secure`",
    ),
    cookie_value_with_a_semicolon: (
        "a cookie value that adds an attribute",
        r#"{"id": "x", "actions": [{"set_cookie": {"name": "a", "value": "1; Domain=example.com"}}]}"#,
        Some("x"),
        Some("actions[0].set_cookie.value"),
        "no spaces, quotes, commas, semicolons",
    ),
    unknown_same_site: (
        "an unknown SameSite",
        r#"{"id": "x", "actions": [{"set_cookie": {"name": "a", "value": "1", "same_site": "loose"}}]}"#,
        Some("x"),
        Some("actions[0].set_cookie.same_site"),
        "`loose` is not one of: strict, lax, none",
    ),
}

/// Every mistake of one rule, in one run, each with its field and the shape to write.
#[test]
fn a_rule_with_two_mistakes_reports_both_with_the_shape_to_write() {
    let rule = r#"{"id": "promo", "selector": "main",
        "when": {"geo": {"country": "DE"}},
        "actions": [{"prepend": {"include": {"path": "/fragments/promo.html", "timeout_ms": "300",
                                             "fallback": "Promo unavailable"}}}]}"#;
    let (_, errors) = RuleSet::from_entries(&[("10-promo".to_owned(), rule.to_owned())]);
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let by_field = |field: &str| {
        errors
            .iter()
            .find(|error| error.field.as_deref() == Some(field))
            .unwrap_or_else(|| panic!("no error for {field}: {messages:#?}"))
    };
    assert_eq!(errors.len(), 3, "{messages:#?}");
    assert!(errors.iter().all(|error| error.rule.as_deref() == Some("promo")), "{messages:#?}");
    let country = by_field("when.geo.country");
    assert!(country.reason.contains(r#"write ["DE"]"#), "{country}");
    assert!(!country.reason.contains("invalid type"), "in the editor's words, not serde's: {country}");
    let fallback = by_field("actions[0].prepend.include.fallback");
    assert!(fallback.reason.contains(r#"write {"text": "Promo unavailable"}"#), "{fallback}");
    assert!(!fallback.reason.contains("unknown variant"), "{fallback}");
    let timeout = by_field("actions[0].prepend.include.timeout_ms");
    assert!(timeout.reason.contains("write 300"), "{timeout}");
}

/// The shapes editors get wrong most, each with what to write instead.
#[test]
fn shape_mistakes_say_what_to_write() {
    let cases = [
        (
            r#"{"id": "x", "selector": "p", "actions": [{"remove_attribute": ["onclick"]}]}"#,
            "actions[0].remove_attribute",
            r#"write "onclick""#,
        ),
        (r#"{"id": "x", "selector": "p", "enabled": "false", "actions": ["remove"]}"#, "enabled", "write false"),
        (
            r#"{"id": "x", "selector": "p", "when": {"path": "/shop/"}, "actions": ["remove"]}"#,
            "when.path",
            r#"write {"prefix": "/shop/"}"#,
        ),
        (
            r#"{"id": "x", "selector": "p", "actions": {"remove_comments": null}}"#,
            "actions",
            "write [{\"remove_comments\":null}]",
        ),
        (
            r#"{"id": "x", "selector": "p", "actions": [{"append": "<b>x</b>"}]}"#,
            "actions[0].append",
            r#"write {"html": "<b>x</b>"}"#,
        ),
    ];
    for (rule, field, shape) in cases {
        let (_, errors) = RuleSet::from_entries(&[("e".to_owned(), rule.to_owned())]);
        let error = errors.iter().find(|error| error.field.as_deref() == Some(field));
        let error = error.unwrap_or_else(|| panic!("{rule}: no error at {field}: {errors:?}"));
        assert!(error.reason.contains(shape), "{rule}: expected {shape:?} in {error}");
    }
}

/// Unknown fields, several at once, are each named, and the rule's other mistakes too.
#[test]
fn every_unknown_field_is_named() {
    let rule = r#"{"id": "x", "selectr": "p", "when": {"pth": {"prefix": "/a"}}, "actions": ["remove"]}"#;
    let (_, errors) = RuleSet::from_entries(&[("e".to_owned(), rule.to_owned())]);
    let fields: Vec<Option<&str>> = errors.iter().map(|error| error.field.as_deref()).collect();
    assert!(fields.contains(&Some("selectr")) && fields.contains(&Some("when.pth")), "{errors:?}");
}
