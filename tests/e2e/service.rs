//! End to end: the release wasm under Viceroy, in front of the fixture origin, over HTTP.
//!
//! Each test starts its own origin and Viceroy on free ports. The wasm is the one
//! EDGE_REWRITER_WASM names (scripts/test builds it), or is built on first use.

// Native only: these tests drive Viceroy and the fixture origin from outside.
#![cfg(not(target_arch = "wasm32"))]

use std::time::Duration;

use devstack::origin::query;
use devstack::{Stack, store_json};

use crate::common::fixture;

const BANNER: &str = "<div class=\"edge-banner\" role=\"note\">";
const ANALYTICS: &str = "https://analytics.example.com/tag.js";

#[test]
fn rules_from_the_local_store_are_applied() {
    let stack = Stack::start().unwrap();
    let path =
        format!("/news/article.html{}", query(&[("header", "ETag: \"v1\""), ("header", "Vary: Accept-Encoding")]));
    let response = stack.get(&path).send().unwrap();
    assert_eq!(response.status, 200);
    assert!(response.complete, "{:?}", response.failure);
    let etag = response.header("etag").unwrap_or_default();
    assert!(etag.starts_with("W/\"v1-er"), "a rewritten body's ETag is weak and names its variant: {etag}");
    assert_eq!(response.header("vary"), Some("Accept-Encoding"));
    let page = response.text();
    assert!(page.contains(&format!("<body class=\"article\">{BANNER}")), "{page}");
    assert!(page.contains(&format!("{ANALYTICS}\" data-site=\"edge-demo\"></script></head>")), "{page}");
    assert!(!page.contains("ad-slot"), "ads removed: {page}");
    assert!(page.contains("Get the weekly digest") && !page.contains("old newsletter"), "{page}");
    // The rewritten body streams: no Content-Length, and Fastly is asked to compress it.
    assert_eq!(response.header("content-length"), None);
    assert_eq!(response.header("x-compress-hint"), Some("on"));
    let logs = stack.service.wait_for_lines("\"event\":\"rewrite\"", 1, Duration::from_secs(5));
    assert!(logs[0].contains("\"sale-banner\":1"), "{logs:?}");
}

#[test]
fn non_html_passes_through_byte_identical() {
    let stack = Stack::start().unwrap();
    for path in ["/assets/logo.png", "/assets/site.css"] {
        let response = stack.get(path).send().unwrap();
        assert_eq!(response.status, 200, "{path}");
        assert!(response.complete);
        assert_eq!(response.body, fixture(path), "{path} changed on the way through");
        assert_eq!(response.header("content-length"), Some(fixture(path).len().to_string().as_str()));
        assert_eq!(response.header("x-compress-hint"), None);
    }
    // HTML that is not a 2xx answer to GET is not touched either.
    let response = stack.get(&format!("/news/article.html{}", query(&[("status", "500")]))).send().unwrap();
    assert_eq!(response.status, 500);
    assert_eq!(response.body, fixture("news/article.html"));
}

#[test]
fn first_rewritten_bytes_leave_before_the_origin_has_finished() {
    let stack = Stack::start().unwrap();
    let pieces = 8;
    let delay_ms = 500;
    let path = format!("/news/article.html{}", query(&[("chunks", "8"), ("delay_ms", "500")]));
    let response = stack.get(&path).send().unwrap();
    assert!(response.complete, "{:?}", response.failure);
    assert!(response.text().contains(BANNER), "rewritten");
    let origin_time = Duration::from_millis(delay_ms * (pieces - 1));
    let first_byte = response.first_body_byte.expect("a body arrived");
    assert!(response.elapsed >= origin_time, "the origin dripped for {origin_time:?}");
    assert!(
        first_byte + Duration::from_millis(2000) < response.elapsed,
        "first body byte after {first_byte:?} of {:?}: the page was buffered, not streamed",
        response.elapsed
    );
}

#[test]
fn heap_stays_flat_for_a_200_mb_page() {
    let stack = Stack::start().unwrap();
    let small = stack.get("/generate?bytes=1024").send().unwrap();
    assert!(small.complete && small.text().contains(BANNER));
    // Viceroy reports an instance's heap when it exits; with sandbox reuse that is after its
    // idle timeout. Wait for it, so the big page gets an instance (and a figure) of its own.
    assert_eq!(stack.service.wait_for_heap_reports(1, Duration::from_secs(10)).len(), 1);

    let size: u64 = 200_000_000;
    let big = stack.get(&format!("/generate?bytes={size}")).keep(64 << 10).send().unwrap();
    assert!(big.complete, "{:?}", big.failure);
    assert!(big.body_len > size, "banner and tag added: {} bytes", big.body_len);
    assert!(String::from_utf8_lossy(&big.body).contains(BANNER));

    let heaps = stack.service.wait_for_heap_reports(2, Duration::from_secs(10));
    assert_eq!(heaps.len(), 2, "Viceroy reported {heaps:?}");
    let (small_heap, big_heap) = (heaps[0], heaps[1]);
    println!("heap: 1 KB page {small_heap:.2} MiB, 200 MB page {big_heap:.2} MiB");
    assert!(
        big_heap <= small_heap * 1.5,
        "200 MB page used {big_heap:.2} MiB of heap, 1 KB page {small_heap:.2} MiB: memory grows with the page"
    );
}

/// A client can tell a body failed when the connection drops before any response, or when
/// the body ends short of its framing (no final chunk, or fewer bytes than Content-Length).
fn visibly_incomplete(result: std::io::Result<devstack::http::HttpResponse>) -> bool {
    match result {
        Err(_) => true,
        Ok(response) => !response.complete,
    }
}

#[test]
fn an_origin_that_dies_mid_body_gives_a_visibly_incomplete_body() {
    let stack = Stack::start().unwrap();
    for framing in [vec![("abort_after", "300")], vec![("abort_after", "300"), ("chunked", "1")]] {
        // Rewritten HTML: the service abandons its stream.
        let html = stack.get(&format!("/news/article.html{}", query(&framing))).send();
        assert!(visibly_incomplete(html), "a cut HTML body must not look whole ({framing:?})");
        // Passed-through bodies are cut visibly too.
        let css = stack.get(&format!("/assets/site.css{}", query(&[("abort_after", "50")]))).send();
        assert!(visibly_incomplete(css), "a cut CSS body must not look whole");
    }
    let logs = stack.service.wait_for_lines("abandoned", 2, Duration::from_secs(5));
    assert!(logs.len() >= 2, "each abandoned response is logged: {:?}", stack.service.output());
}

#[test]
fn an_unreachable_origin_gives_a_502() {
    let closed = devstack::viceroy::free_port().unwrap();
    let config = devstack::viceroy::ServiceConfig::new(&format!("http://{closed}"));
    let service = devstack::viceroy::Viceroy::start(&config).unwrap();
    let response = devstack::http::get(&service.url("/")).send().unwrap();
    assert_eq!(response.status, 502);
    assert!(response.text().contains("could not be reached"));
    let logs = service.wait_for_lines("origin unreachable", 1, Duration::from_secs(5));
    assert_eq!(logs.len(), 1, "{:?}", service.output());
}

#[test]
fn an_invalid_rule_is_skipped_and_the_page_still_served() {
    let store = store_json(&[
        ("10-bad-selector", r#"{"id":"broken","selector":"p:nth-last-child(2)","actions":["remove"]}"#),
        ("20-bad-json", r#"{"id":"oops", "selector": "#),
        ("30-good", r#"{"id":"stamp","selector":"h1","actions":[{"append":{"text":" (edited)"}}]}"#),
    ]);
    let stack = Stack::with_store_json(&store).unwrap();
    let response = stack.get("/news/article.html").send().unwrap();
    assert_eq!(response.status, 200);
    assert!(response.complete);
    assert!(response.text().contains("cat shelter (edited)</h1>"), "{}", response.text());
    let skipped = stack.service.wait_for_lines("rule skipped", 2, Duration::from_secs(5));
    assert!(
        skipped.iter().any(|line| line.contains("\"10-bad-selector\"")
            && line.contains("\"broken\"")
            && line.contains("`selector`")),
        "{skipped:?}"
    );
    assert!(
        skipped.iter().any(|line| line.contains("\"20-bad-json\"") && line.contains("not valid JSON")),
        "{skipped:?}"
    );
}

#[test]
fn gzip_from_the_origin_is_decoded_and_rewritten() {
    let stack = Stack::start().unwrap();
    let response = stack.get("/news/article.html?gzip=1").header("Accept-Encoding", "gzip, br").send().unwrap();
    assert_eq!(response.status, 200);
    assert!(response.complete);
    assert_eq!(response.header("content-encoding"), None);
    assert!(response.text().contains(BANNER), "{}", response.text());
}

#[test]
fn conditions_and_templates_apply_per_request_through_viceroy() {
    let store = store_json(&[
        (
            "10-news",
            r#"{"id":"news-label","selector":"h1","when":{"path":{"prefix":"/news/"}},"actions":[{"append":{"text":" (news)"}}]}"#,
        ),
        (
            "20-beta",
            r#"{"id":"beta","selector":"body","when":{"query":{"name":"beta","equals":"1"}},"actions":[{"set_attribute":{"name":"data-beta","value":"on"}}]}"#,
        ),
        (
            "30-greeting",
            r#"{"id":"greeting","selector":"body","actions":[{"prepend":{"html":"<p id=hi>{{country}} {{query.ref}} {{path}}</p>"}}]}"#,
        ),
        ("40-off", r#"{"id":"off","enabled":false,"selector":"body","actions":["remove"]}"#),
    ]);
    let stack = Stack::with_store_json(&store).unwrap();

    let news = stack.get(&format!("/news/article.html{}", query(&[("beta", "1"), ("ref", "<mail>")]))).send().unwrap();
    assert_eq!(news.status, 200);
    let page = news.text();
    assert!(page.contains("cat shelter (news)</h1>"), "{page}");
    assert!(page.contains("<body class=\"article\" data-beta=\"on\">"), "{page}");
    // Viceroy geolocates loopback clients in the US; the query value is escaped.
    assert!(page.contains("<p id=hi>US &lt;mail&gt; /news/article.html</p>"), "{page}");

    let home = stack.get("/index.html").send().unwrap();
    let page = home.text();
    assert!(page.contains("<h1>Welcome</h1>"), "news-only rule stays off the home page: {page}");
    assert!(!page.contains("data-beta"), "{page}");
    assert!(page.contains("<p id=hi>US  /index.html</p>"), "{page}");
}

#[test]
fn a_store_without_an_index_falls_back_to_the_built_in_rules() {
    let stack = Stack::with_store_json("{}").unwrap();
    let response = stack.get("/news/article.html").send().unwrap();
    assert_eq!(response.status, 200);
    assert!(response.text().contains(BANNER), "the built-in rules (rules/store.json) apply");
    let logs = stack.service.wait_for_lines("applying the rules built into this version", 1, Duration::from_secs(5));
    assert!(logs[0].contains("has no `rules` index"), "{logs:?}");
}

const TEXT_RULES: &[(&str, &str)] = &[
    (
        "10-banner",
        r#"{"id":"banner","selector":"body","actions":[{"prepend":{"html":"<div class=\"edge-banner\" role=\"note\">Sale</div>"}}]}"#,
    ),
    ("20-cat", r#"{"id":"cat-dog","actions":[{"replace_text":{"find":"cat","replace":"dog"}}]}"#),
    ("30-quick", r#"{"id":"slow","actions":[{"replace_text":{"regex":"quick (brown)","replace":"slow $1"}}]}"#),
];

#[test]
fn heap_stays_flat_for_a_50_mb_text_node_under_text_rules() {
    let stack = Stack::with_store_json(&store_json(TEXT_RULES)).unwrap();
    let small = stack.get("/generate?shape=text&bytes=1024").send().unwrap();
    assert!(small.complete);
    assert!(small.text().contains("The slow brown dog jumps"), "{}", small.text());
    assert_eq!(stack.service.wait_for_heap_reports(1, Duration::from_secs(10)).len(), 1);

    let size: u64 = 50_000_000;
    let big = stack.get(&format!("/generate?shape=text&bytes={size}")).keep(256 << 10).send().unwrap();
    assert!(big.complete, "{:?}", big.failure);
    let head = String::from_utf8_lossy(&big.body);
    assert!(head.contains(BANNER) && head.contains("The slow brown dog jumps"));
    assert!(!head.contains(" cat ") && !head.contains("quick"), "every match replaced");

    let heaps = stack.service.wait_for_heap_reports(2, Duration::from_secs(10));
    let (small_heap, big_heap) = (heaps[0], heaps[1]);
    println!("heap with text rules: 1 KB text node {small_heap:.2} MiB, 50 MB text node {big_heap:.2} MiB");
    assert!(big_heap <= small_heap * 1.5, "50 MB text node used {big_heap:.2} MiB, 1 KB {small_heap:.2} MiB");
    // The regex rule let go of the node every 64 KiB, and said so once.
    let overflow = stack.service.wait_for_lines("longer than 64 KiB", 1, Duration::from_secs(5));
    assert_eq!(overflow.len(), 1, "{overflow:?}");
    assert!(overflow[0].contains("\"slow\""), "{overflow:?}");
}

#[test]
fn text_rules_keep_the_page_streaming() {
    let stack = Stack::with_store_json(&store_json(TEXT_RULES)).unwrap();
    let path = format!("/news/article.html{}", query(&[("chunks", "8"), ("delay_ms", "500")]));
    let response = stack.get(&path).send().unwrap();
    assert!(response.complete, "{:?}", response.failure);
    assert!(response.text().contains("new dog shelter"), "{}", response.text());
    let first_byte = response.first_body_byte.expect("a body arrived");
    assert!(
        first_byte + Duration::from_millis(2000) < response.elapsed,
        "first body byte after {first_byte:?} of {:?}: text rules made the page wait",
        response.elapsed
    );
}

/// The quick form of `scripts/bench`'s heap figures, as a property: with the benchmark's
/// standard set (banner, analytics, https links, cat -> dog, comments removed) the heap of
/// a 20 MB page is the heap of a 1 KB one.
#[test]
fn heap_stays_flat_under_the_benchmark_standard_set() {
    let standard_set = include_str!("../../benches/standard-set.json");
    let stack = Stack::with_store_json(&store_json(&[("standard", standard_set)])).unwrap();
    let mut heaps_seen = 0;
    for size in [1_000u64, 1_000_000, 20_000_000] {
        let page = stack.get(&format!("/generate?bytes={size}")).keep(64 << 10).send().unwrap();
        assert!(page.complete, "{size} bytes: {:?}", page.failure);
        let head = page.text();
        assert!(head.contains("Winter sale") && head.contains("brown dog jumps"), "{size} bytes: rules applied");
        assert!(head.contains("https://example.com/") && !head.contains("http://example.com/"), "links rewritten");
        heaps_seen += 1;
        // One instance per page, so each page gets a figure of its own (see above).
        assert_eq!(stack.service.wait_for_heap_reports(heaps_seen, Duration::from_secs(15)).len(), heaps_seen);
    }
    let heaps = stack.service.heap_per_request();
    println!(
        "heap with the standard set: 1 KB {:.2} MiB, 1 MB {:.2} MiB, 20 MB {:.2} MiB",
        heaps[0], heaps[1], heaps[2]
    );
    for (label, heap) in [("1 MB", heaps[1]), ("20 MB", heaps[2])] {
        assert!(heap <= heaps[0] * 1.25, "a {label} page used {heap:.2} MiB, a 1 KB one {:.2} MiB", heaps[0]);
    }
}
