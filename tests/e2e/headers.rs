//! Header rules through Viceroy: `csp_add` merged into every policy the origin sends (header,
//! report-only, `<meta>`) so the analytics script a rule inserts may load; `set_cookie` with
//! its attributes, keeping the page out of the edge cache; `set_header` and `remove_header`
//! on a passed-through asset and on a cached page; a header injection that stays one line.

#![cfg(not(target_arch = "wasm32"))]

use std::time::Duration;

use devstack::origin::query;
use devstack::{Stack, store_json};

const ANALYTICS: &str = "https://analytics.example";

/// The policy rule and the script it makes room for.
const CSP_RULES: &[(&str, &str)] = &[
    ("10-csp", r#"{"id": "analytics-csp", "actions": [{"csp_add": {"script-src": ["https://analytics.example"]}}]}"#),
    (
        "20-tag",
        r#"{"id": "analytics-tag", "selector": "head",
            "actions": [{"append": {"html": "<script src=\"https://analytics.example/a.js\" async></script>"}}]}"#,
    ),
];

/// The JSON log lines with `"event":"EVENT"`, once `count` are there.
fn logs(stack: &Stack, event: &str, count: usize) -> Vec<serde_json::Value> {
    stack.service.wait_for_json(&format!("\"event\":\"{event}\""), count, Duration::from_secs(10))
}

fn all<'a>(response: &'a devstack::http::HttpResponse, name: &str) -> Vec<&'a str> {
    response.headers.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str()).collect()
}

#[test]
fn csp_add_lets_the_injected_analytics_script_load_under_every_policy() {
    let stack = Stack::with_store_json(&store_json(CSP_RULES)).unwrap();
    let target = format!(
        "/news/article.html{}",
        query(&[
            ("header", "Content-Security-Policy: script-src 'self'; object-src 'none'"),
            ("header", "Content-Security-Policy-Report-Only: default-src 'self'"),
        ])
    );
    let response = stack.get(&target).send().unwrap();
    assert!(response.complete, "{:?}", response.failure);
    assert_eq!(
        all(&response, "content-security-policy"),
        [format!("script-src 'self' {ANALYTICS}; object-src 'none'")]
    );
    assert_eq!(
        all(&response, "content-security-policy-report-only"),
        [format!("default-src 'self'; script-src 'self' {ANALYTICS}")],
        "report-only too, so the site's reports stay quiet"
    );
    assert!(response.text().contains("<script src=\"https://analytics.example/a.js\" async></script></head>"));
    let line = &logs(&stack, "rewrite", 1)[0];
    assert_eq!(line["headers"], serde_json::json!(["csp_add script-src"]), "{line}");
    assert_eq!(line["hits"]["analytics-csp"], 1, "{line}");

    // A policy in the page is a policy too; a page without one in its headers gets none.
    let response = stack.get("/csp/meta.html").send().unwrap();
    assert_eq!(response.header("content-security-policy"), None, "no policy is added where there was none");
    assert!(
        response.text().contains(&format!(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self'; img-src 'self' data:; \
             script-src 'self' {ANALYTICS}\">"
        )),
        "{}",
        response.text()
    );
}

#[test]
fn a_script_source_wider_than_one_site_never_reaches_a_policy() {
    let too_broad =
        r#"{"id": "wide-open", "actions": [{"csp_add": {"script-src": ["https://analytics.example", "https://*"]}}]}"#;
    let suffix = r#"{"id": "suffix", "actions": [{"csp_add": {"default-src": ["*.co.uk"]}}]}"#;
    let nonce = r#"{"id": "nonce", "actions": [{"csp_add": {"script-src-elem": ["'nonce-fixed123'"]}}]}"#;
    let one_site = r#"{"id": "one-site", "actions": [{"csp_add": {"script-src": ["https://*.cdn.example.com"]}}]}"#;
    let stack = Stack::with_store_json(&store_json(&[
        ("10-wide", too_broad),
        ("20-suffix", suffix),
        ("30-nonce", nonce),
        ("40-one-site", one_site),
    ]))
    .unwrap();
    let target = format!(
        "/news/article.html{}",
        query(&[("header", "Content-Security-Policy: default-src 'self'; script-src-elem 'self'")])
    );
    let response = stack.get(&target).send().unwrap();
    assert!(response.complete, "{:?}", response.failure);
    // Only the one-site rule applies: into script-src (created from default-src) and the
    // more specific script-src-elem.
    assert_eq!(
        all(&response, "content-security-policy"),
        [
            "default-src 'self'; script-src-elem 'self' https://*.cdn.example.com; script-src 'self' https://*.cdn.example.com"
        ]
    );
    let skipped = stack.service.wait_for_lines("rule skipped", 3, Duration::from_secs(10));
    for (rule, why) in [("wide-open", "allows every host"), ("suffix", "a public suffix"), ("nonce", "a fixed nonce")] {
        assert!(
            skipped.iter().any(|line| line.contains(&format!("rule \"{rule}\"")) && line.contains(why)),
            "{rule}: {skipped:?}"
        );
    }
    // The page's `<meta>` policy is held to the same check.
    let response = stack.get("/csp/meta.html").send().unwrap();
    let page = response.text();
    assert!(!page.contains("https://*\"") && !page.contains("*.co.uk") && !page.contains("nonce-fixed123"), "{page}");
    assert!(page.contains("https://*.cdn.example.com"), "{page}");
}

#[test]
fn set_cookie_gives_the_cookie_with_its_attributes_and_the_page_is_not_kept() {
    let rule = r#"{"id": "seen", "when": {"path": {"prefix": "/news/"}},
        "actions": [{"set_cookie": {"name": "seen", "value": "{{query.ref}}", "max_age": 86400}}]}"#;
    let stack = Stack::with_store_json(&store_json(&[("10-seen", rule)])).unwrap();
    // Cacheable by anyone as the origin sends it; the value tries to add an attribute.
    let target = format!(
        "/news/article.html{}",
        query(&[("ref", "mail; Domain=evil"), ("header", "Cache-Control: public, max-age=600")])
    );
    for _ in 0..2 {
        let response = stack.get(&target).send().unwrap();
        assert!(response.complete);
        assert_eq!(
            all(&response, "set-cookie"),
            ["seen=mail%3B%20Domain=evil; Path=/; Max-Age=86400; SameSite=Lax; Secure; HttpOnly"]
        );
        assert_eq!(response.header("x-cache"), Some("PASS"), "a page giving a cookie is never served from the cache");
    }
    let lines = logs(&stack, "rewrite", 2);
    for line in &lines {
        // The second request may store the page again (hit-for-miss): its answer gives a
        // cookie too, and its line says so.
        let why = line["cache"]["why"].as_str().unwrap_or_default();
        assert!(why.starts_with("a rule sets a cookie"), "{line}");
        assert_eq!(line["headers"], serde_json::json!(["set_cookie seen"]), "{line}");
    }
    // Elsewhere the rule does not apply: no cookie, and the page is kept as usual.
    let response = stack.get("/?header=Cache-Control:public,%20max-age=600").send().unwrap();
    assert!(all(&response, "set-cookie").is_empty());
    assert_eq!(response.header("x-cache"), Some("MISS"));
}

#[test]
fn set_and_remove_header_on_a_passed_through_asset_and_on_a_cached_page() {
    let rules = [
        (
            "10-assets",
            r#"{"id": "asset-headers", "when": {"path": {"prefix": "/assets/"}},
                "actions": [{"set_header": {"name": "Timing-Allow-Origin", "value": "*"}}, {"remove_header": "x-powered-by"}]}"#,
        ),
        (
            "20-pages",
            r#"{"id": "page-headers", "when": {"content_type": ["text/html"]},
                "actions": [{"set_header": {"name": "X-Frame-Options", "value": "DENY"}},
                            {"append_header": {"name": "X-Ref", "value": "ref={{query.ref}}"}}]}"#,
        ),
    ];
    let stack = Stack::with_store_json(&store_json(&rules)).unwrap();
    let asset = "/assets/site.css?header=X-Powered-By:PHP";
    let response = stack.get(asset).send().unwrap();
    let origin = stack.get_from_origin(asset).send().unwrap();
    assert_eq!(response.body, origin.body, "the asset's body passes through untouched");
    assert_eq!(origin.header("x-powered-by"), Some("PHP"));
    assert_eq!(response.header("x-powered-by"), None);
    assert_eq!(response.header("timing-allow-origin"), Some("*"));
    assert_eq!(response.header("x-frame-options"), None, "the page rule's content_type does not hold");

    // A cached page keeps the rules' headers: the miss stores them, the hit serves them.
    let page =
        format!("/{}", query(&[("ref", "a\r\nX-Injected: 1"), ("header", "Cache-Control: public, max-age=600")]));
    for expected in ["MISS", "HIT"] {
        let response = stack.get(&page).send().unwrap();
        assert_eq!(response.header("x-cache"), Some(expected));
        assert_eq!(response.header("x-frame-options"), Some("DENY"), "{expected}");
        assert_eq!(response.header("x-ref"), Some("ref=aX-Injected: 1"), "one line, whatever the query holds");
        assert_eq!(response.header("x-injected"), None);
    }
}
