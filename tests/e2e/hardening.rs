//! End to end through Viceroy: what a rule, a request or an origin does cannot take the site
//! down or inject script, and headers are read as browsers read them. Each test is one class
//! of defect, tried as an attacker and as bad luck would.

#![cfg(not(target_arch = "wasm32"))]

use std::time::Duration;

use devstack::origin::{FixtureOrigin, query};
use devstack::viceroy::{ServiceConfig, Viceroy};
use devstack::{Stack, http, project, store_json};
use edge_rewriter::store::MemoryStore;

use crate::common::fixture;

const TOKEN: &str = "local-preview-token";

fn served(stack: &Stack, path: &str) -> http::HttpResponse {
    let response = stack.get(path).send().unwrap();
    assert!(response.complete, "{path}: {:?}", response.failure);
    response
}

/// A rule appending `marker` to the `<h1>`.
fn marker(id: &str, marker: &str) -> String {
    format!(r#"{{"id":"{id}","selector":"h1","actions":[{{"append":{{"text":"{marker}"}}}}]}}"#)
}

// ---- budgets -------------------------------------------------------------------------------

#[test]
fn an_entry_of_160_heavy_regexes_costs_rules_not_the_site() {
    // As reported: one 3 KB entry, one rule listing the same Unicode-heavy path regex 160
    // times (a megabyte each once compiled)...
    let paths = vec![r#"{"regex":"\\w{20}"}"#; 160].join(",");
    let greedy = format!(r#"{{"id":"greedy","selector":"h1","when":{{"path":[{paths}]}},"actions":["remove"]}}"#);
    assert!(greedy.len() < 4_000, "{} characters", greedy.len());
    // ... and the same spread over many rules, one regex each.
    let rules: Vec<String> = (0..40)
        .map(|i| format!(r#"{{"id":"r{i}","selector":"h1","when":{{"path":{{"regex":"\\w{{20}}"}}}},"actions":[{{"append":{{"text":"."}}}}]}}"#))
        .collect();
    let spread = format!("[{}]", rules.join(","));
    let stack = Stack::with_store_json(&store_json(&[
        ("10-first", &marker("first", "!")),
        ("20-greedy", &greedy),
        ("30-spread", &spread),
        ("40-last", &marker("last", "?")),
    ]))
    .unwrap();
    for _ in 0..3 {
        let page = served(&stack, "/news/abcdefghijklmnopqrstuvwxyz.html?file=news/article.html");
        assert_eq!(page.status, 200);
        // The compile CPU budget (8 ms for regexes) stops the first heavy regex as soon as it
        // compiles past it, long before the regex memory budgets (4 MiB a rule, 24 MiB a set)
        // could be reached: every regex rule is refused, the rules without one still apply.
        assert!(
            page.text().contains("cat shelter!?</h1>"),
            "the rules within the budgets still apply: {}",
            page.text()
        );
    }
    let greedy = stack.service.wait_for_lines("rule \"greedy\"", 1, Duration::from_secs(5));
    assert!(greedy[0].contains("field `when.path[0]`") && greedy[0].contains("compile CPU budget"), "{greedy:?}");
    let spread = stack.service.wait_for_lines("rule \"r0\"", 1, Duration::from_secs(5));
    assert!(spread[0].contains("compile CPU budget"), "{spread:?}");
}

#[test]
fn a_selector_deeper_than_the_stack_allows_costs_its_rule() {
    let deep = format!(r#"{{"id":"deep","selector":"{}","actions":["remove"]}}"#, "div ".repeat(1_200));
    let stack = Stack::with_store_json(&store_json(&[("10-deep", &deep), ("20-ok", &marker("ok", "!"))])).unwrap();
    let page = served(&stack, "/news/article.html");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("cat shelter!</h1>"), "{}", page.text());
    let skipped = stack.service.wait_for_lines("selector depth budget", 1, Duration::from_secs(5));
    assert!(skipped[0].contains("rule \"deep\""), "{skipped:?}");
}

#[test]
fn many_regex_text_rules_on_a_huge_text_node_keep_the_heap_flat() {
    let rules: Vec<String> = (0..1_400)
        .map(|i| format!(r#"{{"id":"t{i}","actions":[{{"replace_text":{{"regex":"n{i}x","replace":"y"}}}}]}}"#))
        .collect();
    let entries: Vec<(String, String)> = rules
        .chunks(100)
        .enumerate()
        .map(|(i, chunk)| (format!("{i:02}-text"), format!("[{}]", chunk.join(","))))
        .collect();
    let pairs: Vec<(&str, &str)> = entries.iter().map(|(name, text)| (name.as_str(), text.as_str())).collect();
    let stack = Stack::with_store_json(&store_json(&pairs)).unwrap();
    let small = served(&stack, "/generate?bytes=1024");
    assert_eq!(small.status, 200);
    assert_eq!(stack.service.wait_for_heap_reports(1, Duration::from_secs(10)).len(), 1);
    let big = stack.get("/generate?bytes=10000000&shape=text").keep(1 << 10).send().unwrap();
    assert!(big.complete && big.status == 200, "{:?}", big.failure);
    let heaps = stack.service.wait_for_heap_reports(2, Duration::from_secs(10));
    println!("heap: 1 KB page {:.2} MiB, 10 MB text node {:.2} MiB", heaps[0], heaps[1]);
    assert!(heaps[1] < 24.0, "{heaps:?}");
    // The page CPU budget admits about ten regex text rules (each scans every byte of text),
    // long before the held text budget (2 MiB) could be reached.
    let skipped = stack.service.wait_for_lines("page CPU budget", 1, Duration::from_secs(5));
    assert!(skipped[0].contains("field `actions[0].replace_text`"), "{skipped:?}");
}

#[test]
fn a_control_character_in_an_id_costs_that_rule_and_debug_still_works() {
    let bad = "{\"id\":\"bell\\u0007\",\"selector\":\"h1\",\"actions\":[\"remove\"]}";
    let stack = Stack::with_store_json(&store_json(&[("10-bad", bad), ("20-ok", &marker("ok", "!"))])).unwrap();
    let page = stack
        .get("/news/article.html")
        .header("x-edge-rewriter-debug", "1")
        .header("x-edge-rewriter-token", TOKEN)
        .send()
        .unwrap();
    assert_eq!(page.status, 200);
    assert!(page.complete);
    assert_eq!(page.header("x-edge-rewriter-rules"), Some("ok"));
    assert_eq!(page.header("cache-control"), Some("private, no-store"), "debug responses are never cached");
    let skipped = stack.service.wait_for_lines("control character", 1, Duration::from_secs(5));
    assert!(skipped[0].contains("field `id`"), "{skipped:?}");
}

// ---- templates -----------------------------------------------------------------------------

#[test]
fn hostile_query_values_stay_data_in_scripts_urls_handlers_and_styles() {
    let rules = serde_json::json!([
        {"id": "js", "selector": "body", "actions": [{"append": {"html": "<script>var a=\"{{query.a}}\";</script>"}}]},
        {"id": "link", "selector": "body", "actions": [{"append": {"html": "<a id=l href=\"{{query.u}}\">go</a>"}}]},
        {"id": "handler", "selector": "body", "actions": [{"append": {"html": "<b onclick=\"f('{{query.a}}')\">x</b>"}}]},
        {"id": "style", "selector": "body", "actions": [{"append": {"html": "<style>i{color:{{query.a}}}</style>"}}]},
    ])
    .to_string();
    let stack = Stack::with_store_json(&store_json(&[("10-templates", &rules)])).unwrap();
    let attack = query(&[
        ("a", "\\\";alert(document.domain)//</script><script>alert(2)</script>"),
        ("u", "javascript:alert(3)"),
    ]);
    let page = served(&stack, &format!("/news/article.html{attack}")).text();
    assert!(
        !page.contains("alert(document") && !page.contains("<script>alert") && !page.contains("alert(2)"),
        "{page}"
    );
    assert!(!page.contains("javascript:"), "{page}");
    assert!(page.contains("var a=\"\\u005c\\u0022\\u003balert\\u0028document"), "{page}");
    assert!(page.contains("href=\"javascript%3Aalert(3)\""), "{page}");
}

#[test]
fn a_rule_that_would_put_a_value_where_no_escaping_is_sound_is_refused() {
    let rule = r#"{"id":"unquoted","selector":"body","actions":[{"append":{"html":"<p class={{query.c}}>x</p>"}}]}"#;
    let stack = Stack::with_store_json(&store_json(&[("10-bad", rule), ("20-ok", &marker("ok", "!"))])).unwrap();
    let page = served(&stack, "/news/article.html?c=x%20onmouseover%3Dalert(1)").text();
    assert!(!page.contains("onmouseover") && page.contains("cat shelter!</h1>"), "{page}");
    let skipped = stack.service.wait_for_lines("not quoted", 1, Duration::from_secs(5));
    assert!(skipped[0].contains("write class=\\\"…\\\"") || skipped[0].contains("write class="), "{skipped:?}");
}

// ---- headers -------------------------------------------------------------------------------

#[test]
fn nosniff_turns_sniffing_off_and_pass_through_gains_no_header() {
    let stack = Stack::start().unwrap();
    let untyped = served(&stack, &format!("/news/article.html{}", query(&[("type", "none")])));
    assert_eq!(untyped.header("content-type"), Some("text/html"), "sniffed and rewritten");
    let nosniff = served(
        &stack,
        &format!("/news/article.html{}", query(&[("type", "none"), ("header", "X-Content-Type-Options: nosniff")])),
    );
    assert_eq!(nosniff.header("content-type"), None);
    assert_eq!(nosniff.body, fixture("news/article.html"), "untouched");
    let post =
        http::Request::new("POST", &stack.service.url(&format!("/news/article.html{}", query(&[("type", "none")]))))
            .send()
            .unwrap();
    assert_eq!(post.header("content-type"), None, "a response that passes through is not labelled");
    let range = stack
        .get(&format!("/news/article.html{}", query(&[("type", "none")])))
        .header("Range", "bytes=0-10")
        .send()
        .unwrap();
    assert_eq!(range.header("content-type"), None);
}

#[test]
fn every_content_encoding_line_counts() {
    let stack = Stack::start().unwrap();
    let article = fixture("news/article.html");
    // identity, then gzip: the body is gzip and is read as gzip.
    let both = served(
        &stack,
        &format!(
            "/news/article.html{}",
            query(&[("gzip", "1"), ("content_encoding", "identity"), ("content_encoding", "gzip")])
        ),
    );
    assert_eq!(both.status, 200);
    assert!(
        both.text().contains("edge-banner"),
        "rewritten, not garbage: {:?}",
        &both.text()[..80.min(both.body.len())]
    );
    assert_eq!(both.header("content-encoding"), None);
    // gzip twice cannot be undone once: untouched, encodings kept.
    let twice = served(
        &stack,
        &format!(
            "/news/article.html{}",
            query(&[("gzip", "1"), ("content_encoding", "gzip"), ("content_encoding", "gzip")])
        ),
    );
    assert!(!twice.text().contains("edge-banner"));
    assert_ne!(twice.body, article, "still the gzip bytes the origin sent");
    let logs = stack.service.wait_for_lines("cannot decode exactly", 1, Duration::from_secs(5));
    assert!(!logs.is_empty());
}

#[test]
fn two_content_type_lines_are_read_as_a_browser_reads_them() {
    let stack = Stack::start().unwrap();
    // The last line wins: not HTML, untouched.
    let plain = served(&stack, &format!("/news/article.html{}", query(&[("header", "Content-Type: text/plain")])));
    assert_eq!(plain.body, fixture("news/article.html"));
    // The last line is HTML: rewritten, with the one type the rewrite used.
    let html = served(
        &stack,
        &format!(
            "/news/article.html{}",
            query(&[("type", "text/plain"), ("header", "Content-Type: text/html; charset=utf-8")])
        ),
    );
    assert!(html.text().contains("edge-banner"));
    assert_eq!(html.headers.iter().filter(|(name, _)| name == "content-type").count(), 1);
    assert_eq!(html.header("content-type"), Some("text/html;charset=utf-8"));
}

#[test]
fn gzip_with_trailing_bytes_is_served_whole() {
    let stack = Stack::start().unwrap();
    let page = served(&stack, &format!("/news/article.html{}", query(&[("gzip", "trailing")])));
    assert_eq!(page.status, 200);
    let text = page.text();
    assert!(text.contains("edge-banner") && text.trim_end().ends_with("</html>"), "{text}");
}

#[test]
fn a_meta_charset_that_is_not_ascii_compatible_passes_the_page_through() {
    let stack = Stack::start().unwrap();
    // The header names no charset; the page's <meta> says iso-2022-jp.
    let page = served(&stack, &format!("/legacy/iso-2022-jp.html{}", query(&[("type", "text/html")])));
    assert_eq!(page.body, fixture("legacy/iso-2022-jp.html"), "never parsed as UTF-8");
}

#[test]
fn bytes_that_are_not_utf8_survive_text_rules() {
    let stack = Stack::start().unwrap();
    let page = served(&stack, "/broken/invalid-utf8.html");
    assert!(page.body.windows(6).any(|w| w == b"caf\xe9 a"), "{:?}", page.text());
    assert!(page.body.windows(3).any(|w| w == b" \x80 "));
    assert!(page.text().contains("the dog sat"), "the repository's cat-to-dog rule still applies");
}

// ---- requests and origins ------------------------------------------------------------------

#[test]
fn a_host_with_userinfo_is_refused_and_routes_nowhere() {
    let stack = Stack::start().unwrap();
    let before = stack.origin.received().len();
    let response = stack.get("/news/article.html").header("Host", "www.example.com:@other.example.com").send().unwrap();
    assert_eq!(response.status, 400);
    assert_eq!(stack.origin.received().len(), before, "no origin saw it");
    let logs = stack.service.wait_for_lines("answering 400", 1, Duration::from_secs(5));
    assert!(logs[0].contains("userinfo"), "{logs:?}");
}

#[test]
fn sites_that_collide_once_normalised_fail_closed() {
    let origin = FixtureOrigin::start(project::fixture_pages()).unwrap();
    let sites = serde_json::json!({
        "WWW.example.com": { "origin": origin.url() },
        "www.example.com ": { "origin": "https://attacker.example" },
    })
    .to_string();
    let mut values = MemoryStore::from_entries(&[]).unwrap().values().clone();
    values.insert("sites".into(), sites);
    let config = ServiceConfig::new(&origin.url()).with_store_json(&MemoryStore::new(values).to_json()).unwrap();
    let service = Viceroy::start(&config).unwrap();
    let response = http::get(&service.url("/news/article.html")).header("Host", "www.example.com").send().unwrap();
    assert_eq!(response.status, 503);
    let logs = service.wait_for_lines("same host", 1, Duration::from_secs(5));
    assert!(!logs.is_empty(), "{:?}", service.output());
}

#[test]
fn an_origin_response_the_platform_refuses_gets_a_502_that_says_why() {
    let stack = Stack::start().unwrap();
    let response = stack.get(&format!("/news/article.html{}", query(&[("set_cookies", "300")]))).send().unwrap();
    assert_eq!(response.status, 502);
    assert!(response.text().contains("could not be read"), "{}", response.text());
    let logs = stack.service.wait_for_lines("answering 502", 1, Duration::from_secs(5));
    assert!(logs[0].contains("Set-Cookie") && !logs[0].contains("unreachable"), "{logs:?}");
}
