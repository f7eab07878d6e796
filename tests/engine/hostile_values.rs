//! Request values are an attacker's to choose. Through the whole engine (rules compiled,
//! planned for a hostile request, a page rewritten), a value stays data in every context a
//! template can put it in, or the rule is refused at validation saying what to write.

#![cfg(not(target_arch = "wasm32"))]

use edge_rewriter::{RequestContext, RewriteOptions, RuleSet, stream};

/// Rewrites `page` with one rule inserting `html` at the end of `<body>`, for `url`.
fn insert(html: &str, url: &str) -> String {
    let rule = serde_json::json!({"id": "t", "selector": "body", "actions": [{"append": {"html": html}}]});
    rewrite(&rule.to_string(), url)
}

fn rewrite(rules: &str, url: &str) -> String {
    let (set, errors) = RuleSet::from_entries(&[("10-test".into(), rules.into())]);
    assert!(errors.is_empty(), "{errors:?}");
    let mut context = RequestContext::for_url("GET", url).unwrap();
    context.csp_nonce = Some("n0nce".into());
    let page = b"<html><body><script>var page = 1;</script></body></html>";
    let streamed = stream(&set.plan(&context), &RewriteOptions::default(), &page[..], Vec::new());
    streamed.result.unwrap();
    String::from_utf8(streamed.sink).unwrap()
}

fn refusal(html: &str) -> String {
    let rule = serde_json::json!({"id": "t", "selector": "body", "actions": [{"append": {"html": html}}]});
    let (set, errors) = RuleSet::from_entries(&[("10-test".into(), rule.to_string())]);
    assert!(set.is_empty(), "{html} was accepted");
    assert_eq!(errors[0].field.as_deref(), Some("actions[0].append.html"));
    errors[0].reason.clone()
}

/// `value` percent-encoded as a query parameter.
fn query(name: &str, value: &str) -> String {
    let encoded: String = value.bytes().map(|b| format!("%{b:02X}")).collect();
    format!("https://www.example.com/page?{name}={encoded}")
}

#[test]
fn a_javascript_string_cannot_be_ended() {
    let out = insert("<script>var a = \"{{query.a}}\";</script>", &query("a", "\\\";alert(document.domain)//"));
    let script = out.split("<script nonce=\"n0nce\">").nth(1).expect("the editor's script keeps the page's nonce");
    assert!(
        script.starts_with(
            "var a = \"\\u005c\\u0022\\u003balert\\u0028document\\u002edomain\\u0029\\u002f\\u002f\";</script>"
        ),
        "{out}"
    );
}

#[test]
fn javascript_code_gets_a_string_literal() {
    let out = insert("<script>track({{query.a}});</script>", &query("a", "1);alert(1"));
    assert!(out.contains("track(\"1\\u0029\\u003balert\\u00281\");</script>"), "{out}");
}

#[test]
fn a_script_end_tag_in_a_value_is_inert() {
    let out = insert("<script>var a = '{{query.a}}';</script>", &query("a", "</script><img src=x onerror=alert(1)>"));
    assert!(!out.contains("<img"), "{out}");
    assert_eq!(out.matches("</script>").count(), 2, "{out}");
}

#[test]
fn event_handlers_are_javascript() {
    let out = insert("<a href=\"#\" onclick=\"go('{{query.a}}')\">x</a>", &query("a", "');alert(1);('"));
    assert!(out.contains("onclick=\"go('\\u0027\\u0029\\u003balert\\u00281\\u0029\\u003b\\u0028\\u0027')\""), "{out}");
}

#[test]
fn javascript_urls_are_neutralised() {
    for attack in [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
    ] {
        let out = insert("<a href=\"{{query.u}}\">go</a>", &query("u", attack));
        let href = out.split("href=\"").nth(1).unwrap().split('"').next().unwrap();
        let scheme_end = href.find([':', '/', '?', '#']);
        assert!(scheme_end.is_none_or(|at| !href[at..].starts_with(':')), "{attack:?} kept a scheme: {href}");
    }
    let out = insert("<a href=\"{{query.u}}\">go</a>", &query("u", "https://example.com/a?b=1&c=\"2\""));
    assert!(out.contains("href=\"https://example.com/a?b=1&amp;c=%222%22\""), "{out}");
}

#[test]
fn query_values_cannot_add_parameters() {
    let out = insert("<a href=\"/search?q={{query.q}}&lang=en\">s</a>", &query("q", "x&admin=1#top"));
    assert!(out.contains("href=\"/search?q=x%26admin%3D1%23top&lang=en\""), "{out}");
}

#[test]
fn a_path_value_cannot_name_another_host() {
    let out = insert("<a href=\"/{{query.p}}\">x</a>", &query("p", "/evil.example/"));
    assert!(out.contains("href=\"/%2Fevil.example/\""), "{out}");
}

#[test]
fn styles_are_css() {
    let out =
        insert("<style>.banner { color: {{query.c}} }</style>", &query("c", "red}</style><script>alert(1)</script>"));
    assert!(!out.contains("<script>alert"), "{out}");
    assert!(out.contains("color: red\\7d \\3c \\2f style\\3e "), "{out}");
    let out = insert("<p style=\"color: {{query.c}}\">x</p>", &query("c", "red;background:url(https://e/)\""));
    assert!(out.contains("style=\"color: red\\3b background\\3a url"), "{out}");
}

#[test]
fn quoted_attributes_and_text_are_html() {
    let out = insert("<p title=\"{{query.t}}\">{{query.t}}</p>", &query("t", "\" onmouseover=\"alert(1)<b>"));
    assert!(out.contains("<p title=\"&quot; onmouseover=&quot;alert(1)&lt;b&gt;\">&quot; onmouseover"), "{out}");
}

#[test]
fn set_attribute_is_escaped_for_the_attribute() {
    let rules = r#"[{"id":"a","selector":"body","actions":[{"set_attribute":{"name":"data-q","value":"{{query.q}}"}}]},
                    {"id":"b","selector":"body","actions":[{"set_attribute":{"name":"onload","value":"init('{{query.q}}')"}}]}]"#;
    let out = rewrite(rules, &query("q", "'\"><script>alert(1)</script>"));
    assert!(out.contains("data-q=\"&#39;&quot;&gt;&lt;script&gt;"), "{out}");
    assert!(out.contains("onload=\"init('\\u0027\\u0022\\u003e\\u003cscript"), "{out}");
}

#[test]
fn request_values_are_not_inserted_into_scripts() {
    let rule = r#"{"id":"s","selector":"script","actions":[{"append":{"text":";var q = \"{{query.q}}\""}},{"prepend":{"text":"/*static*/"}}]}"#;
    let out = rewrite(rule, &query("q", "\";alert(1)//"));
    assert!(
        out.contains("<script>/*static*/var page = 1;</script>"),
        "static text still goes in; values do not: {out}"
    );
}

#[test]
fn contexts_without_a_sound_escaping_are_refused_with_the_fix() {
    assert!(refusal("<p class={{query.c}}>x</p>").contains("write class=\"…\""));
    assert!(refusal("<p {{query.a}}>x</p>").contains("quoted attribute values or text only"));
    assert!(refusal("<script src=\"{{query.s}}\"></script>").contains("https://cdn.example.com/{{path}}"));
    assert!(refusal("<link rel=\"stylesheet\" href=\"https://{{query.h}}/a.css\">").contains("write the host out"));
    assert!(refusal("<iframe srcdoc=\"{{query.d}}\"></iframe>").contains("srcdoc"));
    assert!(refusal("<a href=\"javascript:go('{{path}}')\">x</a>").contains("`javascript:` URL"));
    assert!(refusal("<meta http-equiv=\"refresh\" content=\"0;url={{query.u}}\">").contains("http-equiv"));
}
