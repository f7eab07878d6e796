//! Origin faults, end to end through Viceroy. Each has a defined outcome: a complete
//! response, a clear 502, or a body the client can see is incomplete (no final chunk, or
//! fewer bytes than Content-Length). Never a hang, never a 200 that looks whole but is cut.

#![cfg(not(target_arch = "wasm32"))]

use std::time::Duration;

use devstack::http::HttpResponse;
use devstack::origin::{FixtureOrigin, query};
use devstack::viceroy::{ServiceConfig, Viceroy};
use devstack::{Stack, project, store_json};

const BANNER: &str = "<div class=\"banner\">Sale</div>";

/// A banner, a rule that needs every `div`'s attributes, and cat -> dog.
const RULES: &[(&str, &str)] = &[
    (
        "10-banner",
        r#"{"id":"banner","selector":"body","actions":[{"prepend":{"html":"<div class=\"banner\">Sale</div>"}}]}"#,
    ),
    ("20-divs", r#"{"id":"divs","selector":"div","actions":[{"set_attribute":{"name":"data-seen","value":"1"}}]}"#),
    ("30-cat", r#"{"id":"cat","actions":[{"replace_text":{"find":"cat","replace":"dog"}}]}"#),
];

/// The origin's between-bytes timeout in these tests (Fastly's default is 10 s).
const BETWEEN_BYTES_MS: u64 = 1_000;

fn stack() -> Stack {
    let origin = FixtureOrigin::start(project::fixture_pages()).unwrap();
    let config = ServiceConfig {
        between_bytes_timeout_ms: Some(BETWEEN_BYTES_MS),
        ..ServiceConfig::new(&origin.url()).with_store_json(&store_json(RULES)).unwrap()
    };
    let service = Viceroy::start(&config).unwrap();
    Stack { origin, service }
}

/// The client can tell: no response at all, or a body short of its framing.
fn visibly_incomplete(result: &std::io::Result<HttpResponse>) -> bool {
    match result {
        Err(_) => true,
        Ok(response) => !response.complete,
    }
}

fn article() -> String {
    std::fs::read_to_string(project::fixture_pages().join("news/article.html")).unwrap()
}

#[test]
fn a_connection_reset_mid_body_is_visibly_incomplete() {
    let stack = stack();
    // Rewritten HTML, and a stylesheet passed through (138 bytes: cut after 50).
    for (path, after) in [("/news/article.html", "300"), ("/assets/site.css", "50")] {
        for framing in [vec![("reset_after", after)], vec![("reset_after", after), ("chunked", "1")]] {
            let result = stack.get(&format!("{path}{}", query(&framing))).timeout(Duration::from_secs(20)).send();
            assert!(visibly_incomplete(&result), "{path} {framing:?}: a reset body must not look whole");
        }
    }
    let logs = stack.service.wait_for_lines("visibly incomplete", 2, Duration::from_secs(5));
    assert!(logs.len() >= 2, "each cut HTML response is logged: {:?}", stack.service.output());
}

#[test]
fn a_body_that_fails_before_its_first_byte_is_a_502() {
    let stack = stack();
    for fault in [
        vec![("reset_after", "0")],
        vec![("abort_after", "0")],
        vec![("gzip", "garbage")],
        vec![("stall_after", "0"), ("stall_ms", "5000")],
    ] {
        let response = stack.get(&format!("/news/article.html{}", query(&fault))).send().unwrap();
        assert_eq!(response.status, 502, "{fault:?}");
        assert!(response.complete, "the error page itself is whole");
        assert!(response.text().contains("could not be read"), "{fault:?}: {}", response.text());
    }
    let logs = stack.service.wait_for_lines("failed before its first byte", 4, Duration::from_secs(5));
    assert_eq!(logs.len(), 4, "{:?}", stack.service.output());
}

#[test]
fn a_slow_drip_is_complete_and_streams() {
    let stack = stack();
    let whole = stack.get("/news/article.html").send().unwrap();
    let dripped = stack.get(&format!("/news/article.html{}", query(&[("chunks", "10"), ("delay_ms", "200")]))).send();
    let dripped = dripped.unwrap();
    assert!(dripped.complete, "{:?}", dripped.failure);
    assert_eq!(dripped.body, whole.body, "dripping changes nothing in the output");
    let first = dripped.first_body_byte.expect("a body");
    assert!(
        first < Duration::from_millis(1_000) && dripped.elapsed >= Duration::from_millis(1_800),
        "the first bytes leave while the origin is still sending: first after {first:?}, all after {:?}",
        dripped.elapsed
    );
}

#[test]
fn an_origin_that_stalls_past_the_timeout_is_cut_visibly_and_promptly() {
    let stack = stack();
    for (path, after) in [("/news/article.html", "300"), ("/assets/site.css", "50")] {
        let stall = query(&[("stall_after", after), ("stall_ms", "20000")]);
        let started = std::time::Instant::now();
        let result = stack.get(&format!("{path}{stall}")).timeout(Duration::from_secs(30)).send();
        let waited = started.elapsed();
        assert!(visibly_incomplete(&result), "{path}: a stalled body must not look whole");
        assert!(
            waited < Duration::from_secs(10),
            "{path}: cut after the {BETWEEN_BYTES_MS} ms between-bytes timeout, not when the origin gave up; took {waited:?}"
        );
    }
    let logs = stack.service.wait_for_lines("visibly incomplete", 1, Duration::from_secs(5));
    assert!(!logs.is_empty(), "{:?}", stack.service.output());
}

#[test]
fn a_content_length_longer_than_the_body_is_visibly_incomplete() {
    let stack = stack();
    let declared = (article().len() + 100).to_string();
    for path in ["/news/article.html", "/assets/site.css"] {
        let result = stack.get(&format!("{path}{}", query(&[("content_length", &declared)]))).send();
        assert!(visibly_incomplete(&result), "{path}: the origin promised more bytes than it sent");
    }
}

#[test]
fn a_content_length_shorter_than_the_body_ends_the_page_there() {
    // HTTP framing is the origin's word: the bytes past its Content-Length are not the page.
    let stack = stack();
    let page = article();
    let cut = page.find("</body>").unwrap();
    let response = stack.get(&format!("/news/article.html{}", query(&[("content_length", &cut.to_string())]))).send();
    let response = response.unwrap();
    assert!(response.complete, "{:?}", response.failure);
    let text = response.text();
    assert!(text.contains(BANNER), "rewritten: {text}");
    assert!(!text.contains("</body>"), "nothing past the declared length: {text}");
}

#[test]
fn corrupt_gzip_mid_stream_is_visibly_incomplete() {
    let stack = stack();
    // A page big enough that the first decoded bytes leave before the garbled part arrives.
    let path = format!("/generate{}", query(&[("bytes", "5000000"), ("gzip", "corrupt"), ("garble_from", "20000")]));
    let result = stack.get(&path).timeout(Duration::from_secs(30)).send();
    assert!(visibly_incomplete(&result), "a corrupt gzip stream must not look whole");
    if let Ok(response) = &result {
        assert_eq!(response.status, 200, "the corruption comes after the first bytes were sent");
        assert!(response.text().contains(BANNER));
    }
    let logs = stack.service.wait_for_lines("reading the page failed", 1, Duration::from_secs(5));
    assert!(!logs.is_empty(), "{:?}", stack.service.output());
}

#[test]
fn a_10_mb_attribute_is_passed_through_whole_after_a_bail_out() {
    let stack = stack();
    let path = "/generate?shape=attribute&bytes=10000000";
    let response = stack.get(path).keep(usize::MAX).send().unwrap();
    assert!(response.complete, "{:?}", response.failure);
    let text = response.text();
    let original = stack.get_from_origin(path).keep(usize::MAX).send().unwrap().text();
    // Rewritten up to the tag lol_html cannot hold, unchanged from there on: nothing lost.
    assert!(text.contains(BANNER) && text.contains("<p>The dog</p>"), "rewritten before the attribute");
    let from_the_tag = &original[original.find("<div data-big=").unwrap()..];
    assert!(text.ends_with(from_the_tag), "the tag, its 10 MB attribute and the rest are unchanged");
    let logs = stack.service.wait_for_lines("rewriting stopped", 1, Duration::from_secs(5));
    assert!(logs[0].contains("more parser memory than the limit"), "{logs:?}");
}

#[test]
fn a_hundred_thousand_nested_elements_are_served_whole() {
    let stack = stack();
    let size = 100_000 * 5 + 200;
    let response = stack.get(&format!("/generate?shape=nested&bytes={size}")).keep(usize::MAX).send().unwrap();
    assert!(response.complete, "{:?}", response.failure);
    let text = response.text();
    assert!(text.contains(BANNER) && text.contains("<p>The dog</p>"), "rewritten before the nesting gets deep");
    assert!(text.len() >= size, "nothing lost: {} of {size} bytes", text.len());
    // Matching the `div` rule against ever deeper elements costs more CPU per element, and
    // tracking 100k of them outgrows the parser's memory: whichever limit comes first, the
    // rest passes through unchanged.
    assert!(text.ends_with("The cat</body></html>\n"), "unchanged after the bail-out");
    let logs = stack.service.wait_for_lines("rewriting stopped", 1, Duration::from_secs(5));
    assert!(logs[0].contains("very deep nesting") || logs[0].contains("CPU budget"), "{logs:?}");
}

#[test]
fn a_hundred_thousand_stray_end_tags_are_served_whole() {
    let stack = stack();
    let path = format!("/generate?shape=end-tags&bytes={}", 100_000 * 6 + 200);
    let response = stack.get(&path).keep(usize::MAX).send().unwrap();
    assert!(response.complete, "{:?}", response.failure);
    let text = response.text();
    assert!(text.contains(BANNER));
    let original = stack.get_from_origin(&path).keep(usize::MAX).send().unwrap().text();
    let stray = original.matches("</div>").count();
    assert!(stray > 100_000, "{stray} stray end tags sent");
    // One more: the banner's own.
    assert_eq!(text.matches("</div>").count(), stray + 1, "every stray end tag kept");
    assert!(text.ends_with("<p>The dog</p></body></html>\n"), "rewritten to the end: {}", &text[text.len() - 60..]);
}

#[test]
fn ambiguous_select_xmp_script_markup_is_served_whole() {
    let stack = stack();
    let response = stack.get("/broken/select-xmp-script.html").send().unwrap();
    assert_eq!(response.status, 200);
    assert!(response.complete, "{:?}", response.failure);
    let text = response.text();
    assert!(text.contains(BANNER) && text.contains("The dog before the ambiguity."), "{text}");
    assert!(text.contains("<select><xmp><script>"), "the markup itself is kept: {text}");
    assert!(text.ends_with("</body></html>\n"), "{text}");
}
