//! Includes end to end through Viceroy: fragments are requested together with the page and
//! while it streams, the page's first bytes leave before the fragments arrive, and a fragment
//! that fails, is late or is not 2xx gets its fallback in a complete page.
//!
//! Viceroy sends fragment requests straight to the backend (it has no HTTP cache for backend
//! requests); on Fastly they go through the cache and keep their own TTLs.

#![cfg(not(target_arch = "wasm32"))]

use std::io::Read;
use std::time::Duration;

use devstack::Stack;
use devstack::http::HttpResponse;
use devstack::origin::{GeneratedPage, Shape, query};
use edge_rewriter::store::MemoryStore;

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

/// The page, which must be UTF-8.
fn utf8(response: &HttpResponse) -> String {
    String::from_utf8(response.body.clone()).unwrap_or_else(|err| panic!("the page is not UTF-8: {}", err.utf8_error()))
}

/// The fixture page the tests rewrite, as the origin sends it.
fn article() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/pages/news/article.html")).unwrap()
}

/// The page as served: UTF-8, with `inserted` right after `after` and nothing else changed.
fn inserted_after<'p>(page: &'p str, original: &str, after: &str) -> &'p str {
    let at = original.find(after).unwrap() + after.len();
    let inserted = page.strip_prefix(&original[..at]).expect("the page before the include is as it was");
    inserted.strip_suffix(&original[at..]).expect("the page after the include is as it was")
}

#[test]
fn a_trickling_fragment_is_replaced_or_cut_at_its_timeout() {
    // Both send their headers at once, then a few bytes every so often: the small one
    // would take 5.7 s, the large one 8.9 s.
    let rules = r#"[
      {"id": "small", "selector": "h1", "actions": [{"after": {"include": {"path": "/fragments/sale.html?chunks=20&delay_ms=300", "timeout_ms": 1000, "fallback": {"html": "<p>F-small</p>"}}}}]},
      {"id": "large", "selector": "footer", "actions": [{"before": {"include": {"path": "/generate?shape=fragment&bytes=600000&chunks=60&delay_ms=150", "timeout_ms": 2500, "max_bytes": 4194304}}}]}
    ]"#;
    let stack = stack(rules, None);
    let response = get(&stack, "/news/article.html");
    println!("page complete after {:?}", response.elapsed);
    let page = utf8(&response);
    let original = article();
    assert!(page.contains("</h1><p>F-small</p>"), "{page}");
    // The large one streamed until its time was up, then was cut with its elements closed.
    let footer = page.find("<footer>").unwrap();
    assert_eq!(&page[footer..], &original[original.find("<footer>").unwrap()..]);
    assert!(page[..footer].ends_with("</section>"), "{}", &page[footer - 200..]);
    // The page completes in about the larger timeout, not when the fragments end.
    assert!(response.elapsed >= Duration::from_millis(2400), "{:?}", response.elapsed);
    assert!(response.elapsed < Duration::from_millis(5000), "the timeouts were not kept: {:?}", response.elapsed);
    let line = rewrite_line(&stack);
    println!("{}", line["includes"]);
    let (small, large) = (&line["includes"][0], &line["includes"][1]);
    assert_eq!(small["result"], "fallback", "{line}");
    assert!(small["why"].as_str().unwrap().contains("timeout"), "{line}");
    assert_eq!(large["result"], "cut", "{line}");
    assert!(large["why"].as_str().unwrap().contains("timeout (2500 ms)"), "{line}");
    assert!(large["bytes"].as_u64().unwrap() > 64 << 10, "{line}");
    // The real waits: the small one's second, then the rest of the large one's 2.5 s.
    assert!(small["waited_ms"].as_u64().unwrap() >= 800, "{line}");
    assert!(large["waited_ms"].as_u64().unwrap() >= 1000, "{line}");
}

#[test]
fn a_streamed_fragment_cut_inside_a_multibyte_attribute_value_leaves_valid_utf8_and_the_next_element_intact() {
    let mut fragment = Vec::new();
    GeneratedPage::new(100_000, Shape::FRAGMENT).read_to_end(&mut fragment).unwrap();
    let fragment = String::from_utf8(fragment).unwrap();
    // Past the 64 KiB read whole, inside the `ü` of a title attribute.
    let title = 70_000 + fragment[70_000..].find("für").unwrap();
    let cut = title + 2;
    let rules = format!(
        r#"{{"id": "deals", "selector": "h1", "actions": [{{"after": {{"include": {{"path": "/generate?shape=fragment&bytes=100000&chunked=1", "max_bytes": {cut}}}}}}}]}}"#
    );
    let stack = stack(&rules, None);
    let response = get(&stack, "/news/article.html");
    let page = utf8(&response);
    let inserted = inserted_after(&page, &article(), "</h1>");
    let tag = fragment[..title].rfind("<a ").unwrap();
    assert_eq!(inserted, format!("{}</article></section>", &fragment[..tag]));
    let line = rewrite_line(&stack);
    assert_eq!(line["includes"][0]["result"], "cut", "{line}");
    assert!(line["includes"][0]["why"].as_str().unwrap().contains("max_bytes"), "{line}");
}

#[test]
fn a_multi_match_include_loses_no_element() {
    let rules = r#"[
      {"id": "paragraphs", "selector": "article > p", "actions": [{"replace": {"include": {"path": "/fragments/sale.html"}}}]},
      {"id": "slots", "selector": "article > div", "actions": [{"set_inner": {"include": {"path": "/fragments/promo.html"}}}]}
    ]"#;
    let stack = stack(rules, None);
    let page = get(&stack, "/news/article.html").text();
    // Three paragraphs replaced, two elements filled: each with the fragment.
    assert_eq!(page.matches(SALE).count(), 3, "{page}");
    assert_eq!(page.matches(PROMO).count(), 2, "{page}");
    assert!(page.contains(&format!("<div class=\"ad-slot\" data-slot=\"inline-1\">{PROMO}\n</div>")), "{page}");
    assert!(page.contains(&format!("<div id=\"newsletter\">{PROMO}\n</div>")), "{page}");
    assert!(!page.contains("city council voted") && !page.contains("Subscribe"), "{page}");
    let line = rewrite_line(&stack);
    assert_eq!(line["hits"]["paragraphs"], 3, "{line}");
    assert_eq!(line["includes"][0]["places"], 3, "{line}");
    assert_eq!(line["includes"][1]["places"], 2, "{line}");
    // Each fragment was fetched once.
    let fragment_requests =
        stack.origin.received().iter().filter(|request| request.target.starts_with("/fragments/")).count();
    assert_eq!(fragment_requests, 2);
}
