//! Includes end to end through Viceroy: fragments are requested together with the page and
//! while it streams, the page's first bytes leave before the fragments arrive, and a fragment
//! that fails, is late or is not 2xx gets its fallback in a complete page.
//!
//! Viceroy sends fragment requests straight to the backend (it has no HTTP cache for backend
//! requests); on Fastly they go through the cache and keep their own TTLs.

#![cfg(not(target_arch = "wasm32"))]

use std::time::Duration;

use devstack::Stack;
use devstack::http::HttpResponse;
use devstack::origin::query;
use edge_rewriter::MemoryStore;

/// The service with `rules` as its one entry, and `limits` if given.
fn stack(rules: &str, limits: Option<&str>) -> Stack {
    let mut values =
        MemoryStore::from_entries(&[("10-includes".to_owned(), rules.to_owned())]).unwrap().values().clone();
    if let Some(limits) = limits {
        values.insert("limits".into(), limits.to_owned());
    }
    Stack::with_store_json(&MemoryStore::new(values).to_json()).unwrap()
}

fn get(stack: &Stack, path: &str) -> HttpResponse {
    let response = stack.get(path).send().unwrap();
    assert_eq!(response.status, 200);
    assert!(response.complete, "the page must be complete: {:?}", response.failure);
    response
}

fn rewrite_line(stack: &Stack) -> serde_json::Value {
    let lines = stack.service.wait_for_json("\"event\":\"rewrite\"", 1, Duration::from_secs(10));
    lines.first().cloned().unwrap_or_else(|| panic!("{:?}", stack.service.output()))
}

const SALE: &str = "<div class=\"sale\">Winter sale: 20% off</div>";
const PROMO: &str = "<aside class=\"promo\">Free shipping</aside>";

#[test]
fn two_includes_each_a_second_late_arrive_together_after_the_first_bytes() {
    let rules = r#"[
      {"id": "sale", "selector": "h1", "actions": [{"after": {"include": {"path": "/fragments/sale.html?wait_ms=1000", "timeout_ms": 5000}}}]},
      {"id": "promo", "selector": "body", "actions": [{"append": {"include": {"backend": "fragments", "path": "/fragments/promo.html?wait_ms=1000", "timeout_ms": 5000}}}]}
    ]"#;
    let stack = stack(rules, None);
    let response = get(&stack, "/news/article.html");
    let page = response.text();
    assert!(page.contains(SALE) && page.contains(PROMO), "{page}");
    assert!(!page.contains("edge-rewriter-include"));
    let first_byte = response.first_body_byte.expect("a body");
    println!("first byte after {first_byte:?}, whole page after {:?}", response.elapsed);
    // One after the other they would take 2 s; together about 1 s.
    assert!(response.elapsed >= Duration::from_millis(1000), "{:?}", response.elapsed);
    assert!(
        response.elapsed < Duration::from_millis(1800),
        "the fragments were not fetched together: {:?}",
        response.elapsed
    );
    // The page's head left before the first fragment came back.
    assert!(first_byte < Duration::from_millis(900), "first byte after {first_byte:?}");
    let line = rewrite_line(&stack);
    let includes = line["includes"].as_array().unwrap();
    assert_eq!(includes.len(), 2, "{line}");
    assert!(includes.iter().all(|include| include["result"] == "inserted"), "{line}");
    // Both were sent before the origin was asked: neither wait is a whole second after the page.
    let fragment_requests =
        stack.origin.received().iter().filter(|request| request.target.starts_with("/fragments/")).count();
    assert_eq!(fragment_requests, 2);
}

#[test]
fn failing_slow_and_non_2xx_fragments_get_their_fallbacks() {
    let rules = r#"[
      {"id": "missing", "selector": "h1", "actions": [{"before": {"include": {"path": "/fragments/none.html", "fallback": {"html": "<p>F-404</p>"}}}}]},
      {"id": "slow", "selector": "h1", "actions": [{"after": {"include": {"path": "/fragments/sale.html?wait_ms=4000", "timeout_ms": 300, "fallback": {"html": "<p>F-slow</p>"}}}}]},
      {"id": "broken", "selector": "body", "actions": [{"prepend": {"include": {"path": "/fragments/promo.html?abort_after=5&chunked=1", "fallback": {"text": "F-broken"}}}}]},
      {"id": "nobackend", "selector": "body", "actions": [{"append": {"include": {"backend": "cms", "path": "/x", "fallback": {"html": "<p>F-backend</p>"}}}}]}
    ]"#;
    let stack = stack(rules, None);
    let response = get(&stack, "/news/article.html");
    let page = response.text();
    for fallback in ["<p>F-404</p>", "<p>F-slow</p>", "<p>F-backend</p>"] {
        assert!(page.contains(fallback), "{fallback} missing from {page}");
    }
    assert!(page.trim_end().ends_with("</html>"), "the page is complete");
    assert!(
        response.elapsed < Duration::from_millis(2500),
        "the slow fragment's timeout was not kept: {:?}",
        response.elapsed
    );
    let line = rewrite_line(&stack);
    let by_rule = |rule: &str| {
        line["includes"].as_array().unwrap().iter().find(|include| include["rule"] == rule).cloned().unwrap()
    };
    assert!(by_rule("missing")["why"].as_str().unwrap().contains("404"), "{line}");
    assert!(by_rule("slow")["why"].as_str().unwrap().contains("timeout"), "{line}");
    assert!(by_rule("nobackend")["why"].as_str().unwrap().contains("no backend named \"cms\""), "{line}");
    // A body cut after 5 bytes: a fragment of that size is held whole first, so the cut
    // is seen before any of it is used.
    assert_eq!(by_rule("broken")["result"], "fallback", "{line}");
    assert!(page.contains("F-broken"), "{page}");
    assert!(
        stack
            .service
            .output()
            .iter()
            .any(|line| line.contains("include /fragments/none.html (rule missing): fallback used"))
    );
}

#[test]
fn includes_past_the_budget_get_their_fallback() {
    let rules = r#"[
      {"id": "one", "selector": "h1", "actions": [{"after": {"include": {"path": "/fragments/sale.html"}}}]},
      {"id": "two", "selector": "body", "actions": [{"append": {"include": {"path": "/fragments/promo.html", "fallback": {"html": "<p>F-budget</p>"}}}}]}
    ]"#;
    let stack = stack(rules, Some(r#"{"cpu_budget_ms": 0, "max_includes": 1}"#));
    let page = get(&stack, "/news/article.html").text();
    assert!(page.contains(SALE) && page.contains("<p>F-budget</p>") && !page.contains(PROMO), "{page}");
    let line = rewrite_line(&stack);
    assert!(line["includes"][1]["why"].as_str().unwrap().contains("include budget"), "{line}");
}

#[test]
fn pages_with_includes_are_never_kept_in_the_edge_cache() {
    let rules =
        r#"{"id": "sale", "selector": "h1", "actions": [{"after": {"include": {"path": "/fragments/sale.html"}}}]}"#;
    let stack = stack(rules, None);
    let path = format!("/news/article.html{}", query(&[("header", "Cache-Control: public, max-age=600")]));
    let response = get(&stack, &path);
    assert!(response.text().contains(SALE));
    assert_eq!(response.header("x-cache"), Some("PASS"));
    let again = get(&stack, &path);
    assert_eq!(again.header("x-cache"), Some("PASS"), "each request gets its fragments fresh");
    let fragment_requests =
        stack.origin.received().iter().filter(|request| request.target.starts_with("/fragments/")).count();
    assert_eq!(fragment_requests, 2);
}

#[test]
fn a_path_a_value_turns_into_a_dot_segment_is_never_requested() {
    let rules = r#"{"id": "dots", "selector": "h1", "actions": [{"after": {"include": {"path": "/fragments/{{query.d}}/sale.html", "fallback": {"html": "<p>F-dots</p>"}}}}]}"#;
    let stack = stack(rules, None);
    let page = get(&stack, "/news/article.html?d=..").text();
    assert!(page.contains("<p>F-dots</p>") && !page.contains(SALE), "{page}");
    let asked: Vec<String> = stack.origin.received().iter().map(|request| request.target.clone()).collect();
    // (A URL with `..` is normalised on the way: the origin would see `/sale.html`.)
    assert!(!asked.iter().any(|target| target.contains("sale.html")), "a fragment request was sent: {asked:?}");
    let line = rewrite_line(&stack);
    assert!(line["includes"][0]["why"].as_str().unwrap().contains("`..` segment"), "{line}");
}
