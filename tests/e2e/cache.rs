//! Rewritten pages kept at the edge, end to end through Viceroy (which implements Fastly's
//! Core Cache API in memory): a miss is rewritten once and stored while it streams, a hit
//! streams the stored bytes, the key is the variant, freshness is what HTTP says, and the
//! headers let browsers and downstream caches tell variants apart.

#![cfg(not(target_arch = "wasm32"))]

use std::time::Duration;

use devstack::Stack;
use devstack::origin::query;
use devstack::store_json;

const MEMBER_RULES: &str = r#"[
  {"id": "member-note", "selector": "h1", "when": {"cookie": {"name": "member", "present": true}},
   "actions": [{"append": {"text": " (members' edition)"}}]},
  {"id": "stamp", "selector": "body", "actions": [{"prepend": {"html": "<p class=stamp>edge</p>"}}]}
]"#;

fn stack(rules: &str) -> Stack {
    Stack::with_store_json(&store_json(&[("10-rules", rules)])).unwrap()
}

/// The article, kept by shared caches for `max_age` seconds, plus `extra` origin settings.
fn article(max_age: u32, extra: &[(&str, &str)]) -> String {
    let cache_control = format!("Cache-Control: public, max-age={max_age}");
    let mut params = vec![("header", cache_control.as_str())];
    params.extend_from_slice(extra);
    format!("/news/article.html{}", query(&params))
}

fn origin_hits(stack: &Stack, path_prefix: &str) -> usize {
    stack.origin.received().iter().filter(|request| request.target.starts_with(path_prefix)).count()
}

fn get(stack: &Stack, path: &str, cookie: Option<&str>) -> devstack::http::HttpResponse {
    let mut request = stack.get(path);
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    let response = request.send().unwrap();
    assert!(response.complete, "{:?}", response.failure);
    response
}

#[test]
fn a_miss_is_stored_and_the_next_request_is_a_hit_with_the_same_bytes() {
    let stack = stack(MEMBER_RULES);
    let path = article(60, &[]);
    let miss = get(&stack, &path, None);
    assert_eq!(miss.header("x-cache"), Some("MISS"));
    assert!(miss.text().contains("<p class=stamp>edge</p>"));
    let hit = get(&stack, &path, None);
    assert_eq!(hit.header("x-cache"), Some("HIT"));
    assert_eq!(hit.body, miss.body, "the stored bytes");
    assert_eq!(origin_hits(&stack, "/news/article.html"), 1, "the origin was asked once");
    let lines = stack.service.wait_for_lines("\"event\":\"hit\"", 1, Duration::from_secs(5));
    assert!(lines[0].contains("\"status\":\"HIT\"") && lines[0].contains("\"vcpu_ms\":"), "{lines:?}");
}

#[test]
fn cookie_variants_are_kept_apart_and_named_apart() {
    let stack = stack(MEMBER_RULES);
    let path = article(60, &[("header", "ETag: \"v1\"")]);
    let guest = get(&stack, &path, None);
    let member = get(&stack, &path, Some("member=yes"));
    assert_eq!((guest.header("x-cache"), member.header("x-cache")), (Some("MISS"), Some("MISS")));
    assert!(member.text().contains("(members' edition)") && !guest.text().contains("(members' edition)"));
    for _ in 0..2 {
        let guest_again = get(&stack, &path, Some("theme=dark"));
        let member_again = get(&stack, &path, Some("member=yes"));
        assert_eq!((guest_again.header("x-cache"), member_again.header("x-cache")), (Some("HIT"), Some("HIT")));
        assert_eq!(guest_again.body, guest.body, "a cookie no rule reads is the same variant");
        assert_eq!(member_again.body, member.body);
    }
    assert_eq!(origin_hits(&stack, "/news/article.html"), 2, "one origin request per variant");
    // Browsers and downstream caches can tell them apart.
    let (guest_etag, member_etag) = (guest.header("etag").unwrap(), member.header("etag").unwrap());
    assert_ne!(guest_etag, member_etag);
    assert!(guest_etag.starts_with("W/\"v1-er"), "{guest_etag}");
    assert!(
        guest.header("vary").is_some_and(|vary| vary.to_ascii_lowercase().contains("cookie")),
        "{:?}",
        guest.headers
    );
}

#[test]
fn if_none_match_is_answered_from_the_variants_own_etag() {
    let stack = stack(MEMBER_RULES);
    let path = article(60, &[("header", "ETag: \"v1\"")]);
    let first = get(&stack, &path, None);
    let etag = first.header("etag").unwrap().to_owned();
    let revalidated = stack.get(&path).header("If-None-Match", &etag).send().unwrap();
    assert_eq!(revalidated.status, 304);
    assert!(revalidated.body.is_empty());
    assert_eq!(revalidated.header("etag"), Some(etag.as_str()));
    // The member's variant has another ETag: the guest's does not revalidate it.
    let member = stack.get(&path).header("Cookie", "member=yes").header("If-None-Match", &etag).send().unwrap();
    assert_eq!(member.status, 200);
    assert!(member.text().contains("(members' edition)"));
    // The origin never saw our ETag (it would have answered 304 for bytes the client never had).
    let asked = stack.origin.received();
    assert!(asked.iter().all(|request| request.header("if-none-match").is_none()), "{asked:?}");
}

#[test]
fn what_a_shared_cache_must_not_keep_is_never_a_hit() {
    let stack = stack(MEMBER_RULES);
    for (name, header) in [
        ("private", "Cache-Control: private, max-age=60"),
        ("no-store", "Cache-Control: no-store"),
        ("no-cache", "Cache-Control: no-cache, max-age=60"),
        ("cookie", "Set-Cookie: session=1"),
    ] {
        let path = article(60, &[("header", header), ("tag", name)]);
        for _ in 0..2 {
            let response = get(&stack, &path, None);
            assert_eq!(response.header("x-cache"), Some("PASS"), "{header}");
            assert!(response.text().contains("<p class=stamp>edge</p>"), "still rewritten");
        }
    }
    let lines = stack.service.wait_for_lines("\"status\":\"PASS\"", 8, Duration::from_secs(5));
    assert!(lines.iter().any(|line| line.contains("sets a cookie")), "the log says why: {lines:?}");
}

#[test]
fn a_page_that_expires_is_rewritten_again() {
    let stack = stack(MEMBER_RULES);
    let path = article(1, &[]);
    assert_eq!(get(&stack, &path, None).header("x-cache"), Some("MISS"));
    assert_eq!(get(&stack, &path, None).header("x-cache"), Some("HIT"));
    std::thread::sleep(Duration::from_millis(1_600));
    assert_eq!(get(&stack, &path, None).header("x-cache"), Some("MISS"), "max-age=1 is over");
    assert_eq!(origin_hits(&stack, "/news/article.html"), 2);
}

#[test]
fn a_rules_time_window_ends_the_stored_page() {
    // A rule that stops applying in a few seconds: the page is kept no longer than that. The
    // window is written before Viceroy starts, and a loaded machine can take longer than it to
    // start Viceroy: then the window is moved and Viceroy started again.
    let (stack, end_instant) = (0..4)
        .find_map(|_| {
            let (end, end_instant) = time_in(40);
            let rules = format!(
                r#"{{"id":"flash-sale","selector":"h1","when":{{"time":{{"end":"{end}"}}}},"actions":[{{"append":{{"text":" (flash sale)"}}}}]}}"#
            );
            let stack = stack(&rules);
            let left = end_instant.saturating_duration_since(std::time::Instant::now());
            (left > Duration::from_secs(10)).then_some((stack, end_instant))
        })
        .expect("Viceroy started within 30 s once in four tries");
    let path = article(600, &[]);
    let during = get(&stack, &path, None);
    assert!(during.text().contains("(flash sale)"));
    assert_eq!(get(&stack, &path, None).header("x-cache"), Some("HIT"));
    // The page depends on the clock: downstream caches must not keep it for others.
    assert!(during.header("cache-control").is_some_and(|cc| cc.starts_with("private")), "{:?}", during.headers);
    std::thread::sleep(end_instant.saturating_duration_since(std::time::Instant::now()) + Duration::from_secs(1));
    let after = get(&stack, &path, None);
    assert_eq!(after.header("x-cache"), Some("MISS"));
    assert!(!after.text().contains("(flash sale)"), "the window closed and so did the stored page");
}

#[test]
fn concurrent_misses_collapse_into_one_origin_request() {
    let stack = stack(MEMBER_RULES);
    // The origin drips the page over about a second: the other requests arrive meanwhile.
    let path = article(60, &[("chunks", "4"), ("delay_ms", "300")]);
    let url = stack.service.url(&path);
    let handles: Vec<_> = (0..5)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(i * 50));
                devstack::http::get(&url).send().unwrap()
            })
        })
        .collect();
    let responses: Vec<_> = handles.into_iter().map(|handle| handle.join().unwrap()).collect();
    assert!(responses.iter().all(|response| response.complete && response.body == responses[0].body));
    let misses = responses.iter().filter(|response| response.header("x-cache") == Some("MISS")).count();
    assert_eq!(misses, 1, "{:?}", responses.iter().map(|r| r.header("x-cache")).collect::<Vec<_>>());
    assert_eq!(origin_hits(&stack, "/news/article.html"), 1, "one origin request for five clients");
}

#[test]
fn the_cache_can_be_switched_off_from_the_store() {
    let store = devstack::store_json(&[("10-rules", MEMBER_RULES)]);
    let mut values: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&store).unwrap();
    values.insert("limits".into(), r#"{"cpu_budget_ms": 40, "cache_max_ttl_s": 0}"#.into());
    let stack = Stack::with_store_json(&serde_json::Value::Object(values).to_string()).unwrap();
    let path = article(60, &[]);
    for _ in 0..2 {
        assert_eq!(get(&stack, &path, None).header("x-cache"), Some("PASS"));
    }
    assert_eq!(origin_hits(&stack, "/news/article.html"), 2);
}

/// `seconds` from now: in RFC 3339 (as rules take it, rounded up to the second) and as an
/// instant to wait for.
fn time_in(seconds: u64) -> (String, std::time::Instant) {
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds as i64 + 1);
    let text = at.replace_nanosecond(0).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap();
    (text, std::time::Instant::now() + Duration::from_secs(seconds + 1))
}

#[test]
fn a_page_that_is_not_kept_is_noted_so_requests_for_it_do_not_queue() {
    let stack = stack(MEMBER_RULES);
    // A private page the origin takes 400 ms to answer.
    let path = article(60, &[("header", "Cache-Control: private, max-age=60"), ("wait_ms", "400")]);
    assert_eq!(get(&stack, &path, None).header("x-cache"), Some("PASS"));
    // Four at once: each goes to the origin at once, none waits for the one before.
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        let requests: Vec<_> = (0..4).map(|_| scope.spawn(|| get(&stack, &path, None))).collect();
        for request in requests {
            assert_eq!(request.join().unwrap().header("x-cache"), Some("PASS"));
        }
    });
    let elapsed = started.elapsed();
    println!("four concurrent requests for a private page with a 400 ms origin: {elapsed:?}");
    // Queued one behind another they would take at least 4 × 400 ms.
    assert!(elapsed < Duration::from_millis(1_450), "the requests queued one behind another: {elapsed:?}");
    let lines = stack.service.wait_for_lines("\"status\":\"PASS\"", 5, Duration::from_secs(5));
    assert!(lines.iter().any(|line| line.contains("(noted")), "the log says the pass was noted: {lines:?}");
}
