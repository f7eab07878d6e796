//! Edge correctness through Viceroy: compression, charsets, HTTP semantics, security,
//! observability and several sites.

#![cfg(not(target_arch = "wasm32"))]

use std::time::Duration;

use devstack::origin::{FixtureOrigin, query};
use devstack::viceroy::{ServiceConfig, Viceroy};
use devstack::{Stack, http, project};
use edge_rewriter::store::{MemoryStore, read_rules_dir};

use crate::common::{fixture, rewrite_logs};

const BANNER: &str = "<div class=\"edge-banner\" role=\"note\">";
const TOKEN: &str = "local-preview-token";

/// The repository's rules as store values, plus extra keys (a draft, a sites map).
fn repo_store_with(extra: &[(&str, &str)]) -> String {
    let entries = read_rules_dir(&project::root().join("rules/live")).unwrap();
    let store = MemoryStore::from_entries(&entries).unwrap();
    let mut values = store.values().clone();
    for (key, value) in extra {
        values.insert(key.to_string(), value.to_string());
    }
    MemoryStore::new(values).to_json()
}

/// Requests an origin received for `target` (Viceroy also probes the configured backend
/// with `GET /` when it starts).
fn received_for(origin: &FixtureOrigin, target: &str) -> Vec<devstack::origin::Received> {
    origin.received().into_iter().filter(|request| request.target == target).collect()
}

// ---- compression -------------------------------------------------------------------------

#[test]
fn the_origin_is_asked_for_gzip_at_most_and_gzip_is_rewritten_and_recompressed_by_fastly() {
    let stack = Stack::start().unwrap();
    let response = stack.get("/news/article.html?gzip=1").header("Accept-Encoding", "br, zstd, gzip").send().unwrap();
    assert!(response.complete && response.text().contains(BANNER));
    assert_eq!(response.header("content-encoding"), None, "decoded for the rewrite");
    assert_eq!(response.header("x-compress-hint"), Some("on"), "Fastly compresses it for the client");
    let received = stack.origin.received();
    assert_eq!(received.last().unwrap().header("accept-encoding"), Some("gzip"));
}

#[test]
fn encodings_the_rewriter_cannot_decode_pass_through_with_a_log_line() {
    let stack = Stack::start().unwrap();
    let path = format!("/news/article.html{}", query(&[("header", "Content-Encoding: br")]));
    let response = stack.get(&path).send().unwrap();
    assert_eq!(response.header("content-encoding"), Some("br"));
    assert_eq!(response.body, fixture("news/article.html"), "untouched");
    let logs = stack.service.wait_for_lines("HTML passed through untouched", 1, Duration::from_secs(5));
    assert!(logs[0].contains("content encoding"), "{logs:?}");
}

#[test]
fn a_decompression_bomb_keeps_the_heap_flat() {
    let stack = Stack::start().unwrap();
    let small = stack.get("/generate?bytes=1024&gzip=1").header("Accept-Encoding", "gzip").send().unwrap();
    assert!(small.complete);
    assert_eq!(stack.service.wait_for_heap_reports(1, Duration::from_secs(10)).len(), 1);
    // 300 MB of HTML that gzip packs into well under 1 MB.
    let bomb =
        stack.get("/generate?bytes=300000000&gzip=1").header("Accept-Encoding", "gzip").keep(1024).send().unwrap();
    assert!(bomb.complete, "{:?}", bomb.failure);
    assert!(bomb.body_len > 300_000_000);
    let heaps = stack.service.wait_for_heap_reports(2, Duration::from_secs(10));
    assert!(heaps[1] <= heaps[0] * 1.5, "heap {:.2} MiB for the bomb, {:.2} MiB for 1 KB", heaps[1], heaps[0]);
}

// ---- charsets ------------------------------------------------------------------------------

#[test]
fn utf16_pages_pass_through_untouched() {
    let stack = Stack::start().unwrap();
    let path = format!("/news/article.html{}", query(&[("type", "text/html; charset=utf-16")]));
    let response = stack.get(&path).send().unwrap();
    assert_eq!(response.body, fixture("news/article.html"));
    let logs = stack.service.wait_for_lines("HTML passed through untouched", 1, Duration::from_secs(5));
    assert!(logs[0].contains("charset"), "{logs:?}");
}

// ---- HTTP semantics ------------------------------------------------------------------------

#[test]
fn head_gets_the_headers_get_would_get() {
    let stack = Stack::start().unwrap();
    let path = format!("/news/article.html{}", query(&[("header", "ETag: \"v7\"")]));
    let get = stack.get(&path).send().unwrap();
    let head = http::Request::new("HEAD", &stack.service.url(&path)).send().unwrap();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    for name in ["content-type", "etag", "x-compress-hint", "content-length", "content-encoding"] {
        assert_eq!(head.header(name), get.header(name), "{name}");
    }
    assert!(head.header("etag").is_some_and(|etag| etag.starts_with("W/\"v7-er")), "{:?}", head.header("etag"));
    assert_eq!(head.header("content-length"), None);
}

#[test]
fn ranges_no_transform_and_bodiless_answers_are_untouched() {
    let stack = Stack::start().unwrap();
    let article = fixture("news/article.html");
    // The fixture origin ignores Range and answers 200 with the whole page: still untouched.
    let ranged = stack.get("/news/article.html").header("Range", "bytes=0-99").send().unwrap();
    assert_eq!(ranged.body, article);
    let frozen = stack
        .get(&format!("/news/article.html{}", query(&[("header", "Cache-Control: no-transform")])))
        .send()
        .unwrap();
    assert_eq!(frozen.body, article);
    for status in ["204", "304", "206"] {
        let response = stack.get(&format!("/news/article.html{}", query(&[("status", status)]))).send().unwrap();
        assert_eq!(response.status.to_string(), status);
        assert_eq!(response.header("x-compress-hint"), None, "{status} untouched");
    }
}

#[test]
fn html_without_a_content_type_is_sniffed() {
    let stack = Stack::start().unwrap();
    let html = stack.get(&format!("/news/article.html{}", query(&[("type", "none")]))).send().unwrap();
    assert_eq!(html.header("content-type"), Some("text/html"));
    assert!(html.text().contains(BANNER), "sniffed as HTML and rewritten");
    let css = stack.get(&format!("/assets/site.css{}", query(&[("type", "none")]))).send().unwrap();
    assert_eq!(css.header("content-type"), None);
    assert_eq!(css.body, fixture("assets/site.css"), "not HTML: untouched, nothing lost from the peek");
}

// ---- security ------------------------------------------------------------------------------

#[test]
fn debug_headers_need_the_token_and_the_token_never_reaches_the_origin() {
    let stack = Stack::start().unwrap();
    let without = stack.get("/news/article.html").header("X-Edge-Rewriter-Debug", "1").send().unwrap();
    assert_eq!(without.header("server-timing"), None);
    let wrong = stack
        .get("/news/article.html")
        .header("X-Edge-Rewriter-Debug", "1")
        .header("X-Edge-Rewriter-Token", "guess")
        .send()
        .unwrap();
    assert_eq!(wrong.header("server-timing"), None);
    let with = stack
        .get("/news/article.html")
        .header("X-Edge-Rewriter-Debug", "1")
        .header("X-Edge-Rewriter-Token", TOKEN)
        .send()
        .unwrap();
    let timing = with.header("server-timing").expect("Server-Timing with the token");
    assert!(timing.contains("origin;dur=") && timing.contains("rules;dur="), "{timing}");
    assert!(with.header("x-edge-rewriter-rules").unwrap().contains("sale-banner"));
    assert!(with.complete);
    for request in stack.origin.received() {
        for name in ["x-edge-rewriter-token", "x-edge-rewriter-debug"] {
            assert_eq!(request.header(name), None, "{name} reached the origin");
        }
    }
    let warnings = stack.service.wait_for_lines("wrong x-edge-rewriter-token", 1, Duration::from_secs(5));
    assert_eq!(warnings.len(), 1);
}

#[test]
fn previews_use_the_draft_rules_and_say_so() {
    let draft =
        r#"{"id":"draft-banner","selector":"body","actions":[{"prepend":{"html":"<div id=draft>DRAFT</div>"}}]}"#;
    let store = repo_store_with(&[("rules.draft", "[\"90-draft\"]"), ("90-draft", draft)]);
    let stack = Stack::with_store_json(&store).unwrap();
    let preview = stack
        .get("/news/article.html")
        .header("X-Edge-Rewriter-Preview", "1")
        .header("X-Edge-Rewriter-Token", TOKEN)
        .send()
        .unwrap();
    assert_eq!(preview.header("x-edge-rewriter-preview"), Some("draft"));
    assert_eq!(preview.header("cache-control"), Some("private, no-store"));
    assert!(
        preview.text().contains("<div id=draft>DRAFT</div>") && !preview.text().contains(BANNER),
        "{}",
        preview.text()
    );
    let live = stack.get("/news/article.html").header("X-Edge-Rewriter-Preview", "1").send().unwrap();
    assert_eq!(live.header("x-edge-rewriter-preview"), None, "no token, no preview");
    assert!(live.text().contains(BANNER) && !live.text().contains("DRAFT"));
}

#[test]
fn injected_scripts_carry_the_pages_csp_nonce() {
    let stack = Stack::start().unwrap();
    let csp = "Content-Security-Policy: script-src 'self' 'nonce-Zm9vYmFy'";
    let response = stack.get(&format!("/news/article.html{}", query(&[("header", csp)]))).send().unwrap();
    assert!(
        response.text().contains("<script async src=\"https://analytics.example.com/tag.js\" data-site=\"edge-demo\" nonce=\"Zm9vYmFy\"></script>"),
        "{}",
        response.text()
    );
}

#[test]
fn no_request_header_can_point_the_service_at_another_host() {
    let stack = Stack::start().unwrap();
    let response = stack
        .get("/news/article.html")
        .header("Host", "attacker.example")
        .header("X-Forwarded-Host", "127.0.0.1:1")
        .header("X-Backend", "elsewhere")
        .send()
        .unwrap();
    assert_eq!(response.status, 200);
    let received = received_for(&stack.origin, "/news/article.html");
    assert_eq!(received.len(), 1, "the configured origin, and only it, got the request");
    assert_eq!(received[0].header("host"), Some("attacker.example"), "forwarded as sent, to the configured origin");
}

// ---- observability -------------------------------------------------------------------------

#[test]
fn each_rewritten_response_is_one_json_log_line() {
    let stack = Stack::start().unwrap();
    let response = stack.get("/news/article.html?chunks=3").send().unwrap();
    assert!(response.complete);
    let line = &rewrite_logs(&stack.service, 1)[0];
    assert_eq!(line["path"], "/news/article.html");
    assert_eq!(line["outcome"], "complete");
    assert_eq!(line["rules"], "live");
    assert_eq!(line["hits"]["sale-banner"], 1);
    assert_eq!(line["hits"]["cat-to-dog"], 4, "the title, the heading and two in the text");
    assert_eq!(line["bytes_in"], fixture("news/article.html").len());
    assert_eq!(line["bytes_out"], response.body_len);
    assert_eq!(line["rule_errors"], 0);
    assert!(line["bail_out"].is_null());
    for phase in ["origin", "rules", "rewrite"] {
        assert!(line["ms"][phase].as_f64().is_some(), "ms.{phase} in {line}");
    }
    assert!(line["not_applicable"].as_array().unwrap().iter().any(|id| id == "app-noscript"));
}

// ---- several sites -------------------------------------------------------------------------

#[test]
fn only_hosts_in_the_sites_map_are_served_each_by_its_own_origin() {
    let first = FixtureOrigin::start(project::fixture_pages()).unwrap();
    let second = FixtureOrigin::start(project::fixture_pages()).unwrap();
    let sites = serde_json::json!({
        "www.example.com": { "origin": first.url(), "first_byte_timeout_ms": 5000 },
        "shop.example.com": { "origin": second.url(), "host_header": "shop.internal" },
    })
    .to_string();
    let config = ServiceConfig::new(&first.url()).with_store_json(&repo_store_with(&[("sites", &sites)])).unwrap();
    let service = Viceroy::start(&config).unwrap();
    let get = |host: &str| http::get(&service.url("/news/article.html")).header("Host", host).send().unwrap();

    let www = get("www.example.com");
    assert_eq!(www.status, 200);
    assert!(www.text().contains(BANNER));
    let shop = get("shop.example.com:443");
    assert_eq!(shop.status, 200);
    let counts =
        || (received_for(&first, "/news/article.html").len(), received_for(&second, "/news/article.html").len());
    assert_eq!(counts(), (1, 1));
    assert_eq!(received_for(&second, "/news/article.html")[0].header("host"), Some("shop.internal"));

    let stranger = get("attacker.example");
    assert_eq!(stranger.status, 421);
    assert!(stranger.text().contains("does not serve this host"));
    assert_eq!(counts(), (1, 1), "no origin saw the stranger");
    let logs = service.wait_for_lines("is not in the sites map", 1, Duration::from_secs(5));
    assert!(logs[0].contains("attacker.example"), "{logs:?}");
}

#[test]
fn a_broken_sites_map_fails_closed() {
    let origin = FixtureOrigin::start(project::fixture_pages()).unwrap();
    let config = ServiceConfig::new(&origin.url())
        .with_store_json(&repo_store_with(&[("sites", r#"{"www.example.com": {"origin": "ftp://nope"}}"#)]))
        .unwrap();
    let service = Viceroy::start(&config).unwrap();
    let response = http::get(&service.url("/news/article.html")).header("Host", "www.example.com").send().unwrap();
    assert_eq!(response.status, 503);
    assert!(received_for(&origin, "/news/article.html").is_empty());
    let logs = service.wait_for_lines("answering 503", 1, Duration::from_secs(5));
    assert!(logs[0].contains("ftp://nope"), "{logs:?}");
}
