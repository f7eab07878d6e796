//! What the edge cache must never do, end to end through Viceroy: hand one visitor's page to
//! another (a rule gated on the response and on a cookie, a header or the client's place; an
//! include gated the same way; an experiment's arm), keep a page uncached for everyone after
//! one private answer, or drop the origin's `no-store` on the way to the browser.
//!
//! Each leak test asks as the first visitor, then as one the rule must not reach, then both
//! again: the page kept for one is never the other's. tests/engine/cache_key.rs proves the key on
//! generated rules; these show the service as a whole, through Viceroy's Core Cache.

#![cfg(not(target_arch = "wasm32"))]

use std::net::IpAddr;

use devstack::Stack;
use devstack::http::{HttpResponse, Request};
use devstack::origin::query;
use devstack::store_json;

/// Viceroy geolocates 127.0.0.2 in Berlin and 127.0.0.3 in Tokyo (fastly.toml).
const BERLIN: &str = "127.0.0.2";
const TOKYO: &str = "127.0.0.3";

fn stack(rules: &str) -> Stack {
    Stack::with_store_json(&store_json(&[("10-rules", rules)])).unwrap()
}

/// The article, cacheable by anyone for a minute, with `extra` origin settings.
fn article(extra: &[(&str, &str)]) -> String {
    let mut params = vec![("header", "Cache-Control: public, max-age=60")];
    params.extend_from_slice(extra);
    format!("/news/article.html{}", query(&params))
}

fn send(request: Request) -> HttpResponse {
    let response = request.send().unwrap();
    assert!(response.complete, "{:?}", response.failure);
    assert!((200..300).contains(&response.status), "{}: {}", response.status, response.text());
    response
}

fn from(ip: &str) -> IpAddr {
    ip.parse().unwrap()
}

/// Asks as `first`, then as `second`, then each again: `first` sees `marker`, `second` never
/// does, and the repeats are hits with each one's own page.
fn never_shared(first: impl Fn() -> Request, second: impl Fn() -> Request, marker: &str) {
    let mine = send(first());
    assert!(mine.text().contains(marker), "the rule applies to the first visitor: {}", mine.text());
    let theirs = send(second());
    assert!(
        !theirs.text().contains(marker),
        "the first visitor's page reached another: {:?}",
        theirs.header("x-cache")
    );
    assert_eq!(theirs.header("x-cache"), Some("MISS"), "another visitor's own page");
    let (mine_again, theirs_again) = (send(first()), send(second()));
    assert_eq!((mine_again.header("x-cache"), theirs_again.header("x-cache")), (Some("HIT"), Some("HIT")));
    assert_eq!(mine_again.body, mine.body);
    assert_eq!(theirs_again.body, theirs.body);
}

#[test]
fn a_rule_on_the_content_type_and_a_cookie_never_reaches_another_visitor() {
    let stack = stack(
        r#"{"id": "member-note", "selector": "h1",
            "when": {"content_type": ["application/xhtml+xml"], "cookie": {"name": "member", "present": true}},
            "actions": [{"append": {"text": " (welcome back)"}}]}"#,
    );
    let path = article(&[("type", "application/xhtml+xml")]);
    never_shared(|| stack.get(&path).header("Cookie", "member=yes"), || stack.get(&path), "(welcome back)");
}

#[test]
fn a_rule_on_the_status_and_a_header_never_reaches_another_visitor() {
    let stack = stack(
        r#"{"id": "gold", "selector": "h1", "when": {"status": [203], "header": {"name": "x-tier", "equals": "gold"}},
            "actions": [{"append": {"text": " (gold members)"}}]}"#,
    );
    let path = article(&[("status", "203")]);
    never_shared(|| stack.get(&path).header("x-tier", "gold"), || stack.get(&path), "(gold members)");
}

#[test]
fn a_rule_on_the_response_and_the_clients_place_never_reaches_another_place() {
    let stack = stack(
        r#"[{"id": "de-only", "selector": "h1", "when": {"content_type": ["application/xhtml+xml"], "geo": {"country": ["DE"]}},
             "actions": [{"append": {"text": " (Angebot)"}}]},
            {"id": "city", "selector": "body", "when": {"status": [203]},
             "actions": [{"prepend": {"html": "<p class=city>News for {{geo.city}}</p>"}}]}]"#,
    );
    let xhtml = article(&[("type", "application/xhtml+xml")]);
    never_shared(|| stack.get(&xhtml).from_ip(from(BERLIN)), || stack.get(&xhtml).from_ip(from(TOKYO)), "(Angebot)");
    let status = article(&[("status", "203")]);
    never_shared(
        || stack.get(&status).from_ip(from(BERLIN)),
        || stack.get(&status).from_ip(from(TOKYO)),
        "News for Berlin",
    );
}

#[test]
fn a_gated_includes_fragment_never_reaches_a_client_of_another_place() {
    let stack = stack(
        r#"{"id": "greeting", "selector": "h1", "when": {"status": [203]},
            "actions": [{"after": {"include": {"path": "/fragments/{{country}}/greeting.html", "timeout_ms": 5000}}}]}"#,
    );
    let path = article(&[("status", "203")]);
    for _ in 0..2 {
        let berlin = send(stack.get(&path).from_ip(from(BERLIN)));
        let tokyo = send(stack.get(&path).from_ip(from(TOKYO)));
        assert!(berlin.text().contains("Hallo aus Berlin"), "{}", berlin.text());
        assert!(tokyo.text().contains("Konnichiwa from Tokyo"), "{}", tokyo.text());
        assert!(!tokyo.text().contains("Berlin"), "Berlin's fragment reached Tokyo");
        // A page that may include fragments is never kept: they keep their own freshness.
        assert_eq!((berlin.header("x-cache"), tokyo.header("x-cache")), (Some("PASS"), Some("PASS")));
    }
}

#[test]
fn visitors_in_different_arms_of_a_response_gated_experiment_never_share_an_entry() {
    let rules = r#"{"id": "hero", "selector": "body", "when": {"content_type": ["application/xhtml+xml"]},
        "experiment": {"id": "hero-xhtml", "attribute": "data-arm",
          "variants": [{"name": "control", "weight": 1}, {"name": "bold", "weight": 1,
                        "actions": [{"prepend": {"html": "<p class=bold>Bold!</p>"}}]}]}}"#;
    let stack = stack(rules);
    // Two returning visitors in different arms, as the service assigns them (each asked for
    // a page of its own, so that no cache entry is shared while looking).
    let arm = |id: &str| {
        let probe = article(&[("type", "application/xhtml+xml"), ("probe", id)]);
        let page = send(stack.get(&probe).header("Cookie", &format!("edge_vid={id}"))).text();
        page.split("data-arm=\"").nth(1).and_then(|rest| rest.split('"').next()).map(str::to_owned)
    };
    let mut arms = (None, None);
    for i in 0..32 {
        let id = format!("{i:032x}");
        match arm(&id).as_deref() {
            Some("bold") if arms.0.is_none() => arms.0 = Some(id),
            Some("control") if arms.1.is_none() => arms.1 = Some(id),
            _ => {}
        }
        if arms.0.is_some() && arms.1.is_some() {
            break;
        }
    }
    let (Some(bold), Some(control)) = arms else { panic!("no visitors in both arms: {arms:?}") };
    let (bold, control) = (bold.as_str(), control.as_str());
    let path = article(&[("type", "application/xhtml+xml")]);
    let cookie = |id: &str| format!("edge_vid={id}");
    never_shared(
        || stack.get(&path).header("Cookie", &cookie(bold)),
        || stack.get(&path).header("Cookie", &cookie(control)),
        "Bold!",
    );
    let page = send(stack.get(&path).header("Cookie", &cookie(control))).text();
    assert!(page.contains("data-arm=\"control\""), "{page}");
}

#[test]
fn one_private_answer_does_not_keep_the_page_uncached() {
    let stack =
        stack(r#"{"id": "stamp", "selector": "body", "actions": [{"prepend": {"html": "<p class=stamp>edge</p>"}}]}"#);
    let path = article(&[]);
    // The origin answers this one request `private` (as it would a request with a session).
    let private = send(stack.get(&path).header("x-fixture-header", "Cache-Control: private"));
    assert_eq!(private.header("x-cache"), Some("PASS"));
    // The next anonymous request may store its answer: a hit follows within a few requests.
    let answers: Vec<String> =
        (0..3).map(|_| send(stack.get(&path)).header("x-cache").unwrap_or("none").to_owned()).collect();
    assert!(answers.iter().any(|answer| answer == "HIT"), "the page stayed uncached: {answers:?}");
    assert_eq!(answers[0], "MISS", "the first anonymous request stores the page: {answers:?}");
}

#[test]
fn no_store_and_no_cache_reach_the_client_of_a_private_page() {
    // A rule on the client's place: downstream caches cannot tell places apart, so the page
    // is private to them; the origin's own directives stay.
    let stack = stack(
        r#"{"id": "de-only", "selector": "h1", "when": {"geo": {"country": ["DE"]}}, "actions": [{"append": {"text": " (DE)"}}]}"#,
    );
    let path = format!(
        "/news/article.html{}",
        query(&[("header", "Cache-Control: no-store, no-cache, must-revalidate, max-age=0")])
    );
    let response = send(stack.get(&path).from_ip(from(BERLIN)));
    assert!(response.text().contains("(DE)"));
    let cache_control = response.header("cache-control").unwrap_or_default().to_owned();
    for directive in ["private", "no-store", "no-cache", "must-revalidate", "max-age=0"] {
        assert!(cache_control.split(',').any(|d| d.trim() == directive), "{directive} missing: {cache_control}");
    }
    assert_eq!(response.header("x-cache"), Some("PASS"), "the edge does not keep it either");
}
