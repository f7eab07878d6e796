//! Experiments and audience conditions through Viceroy: the service's random visitor ids
//! split new visitors by the weights, the cookie keeps a visitor's variant, consent gates the
//! cookie, namespaces never overlap, forced variants need the token, and geolocation and
//! device detection (fastly.toml's local data) select rules.

#![cfg(not(target_arch = "wasm32"))]

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use devstack::http::HttpResponse;
use devstack::{Stack, store_json};

const TOKEN: &str = "local-preview-token";
/// The fixture origin's home page, said to be cacheable by anyone for ten minutes.
const PAGE: &str = "/?header=Cache-Control:public,%20max-age=600";

/// An experiment marking `<body>` with `data-hero`, its big variant adding a class to `<h1>`.
const HERO: &str = r#"{"id": "hero", "selector": "body", "experiment": {"id": "hero-2026", "attribute": "data-hero",
    "variants": [{"name": "control", "weight": 50}, {"name": "big-cta", "weight": 50}]}}"#;
const HERO_CTA: &str = r#"{"id": "hero-cta", "selector": "h1", "when": {"experiment": {"id": "hero-2026", "variant": "big-cta"}},
    "actions": [{"set_attribute": {"name": "class", "value": "big"}}]}"#;

fn stack(entries: &[(&str, &str)]) -> Stack {
    Stack::with_store_json(&store_json(entries)).unwrap()
}

/// The value of `data-NAME` on the page's `<body>`, if set.
fn marked(response: &HttpResponse, name: &str) -> Option<String> {
    let text = response.text();
    let body = &text[text.find("<body")?..];
    let tag = &body[..body.find('>')?];
    let value = tag.split(&format!("data-{name}=\"")).nth(1)?;
    Some(value[..value.find('"')?].to_owned())
}

/// The visitor id the response's `Set-Cookie` gives, if any.
fn visitor_cookie(response: &HttpResponse) -> Option<String> {
    response
        .headers
        .iter()
        .filter(|(name, _)| name == "set-cookie")
        .find_map(|(_, value)| value.strip_prefix("edge_vid="))
        .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
}

/// The JSON log lines of page views, once `count` are there.
fn page_view_logs(stack: &Stack, count: usize) -> Vec<serde_json::Value> {
    // Page views: rewritten, or served from the edge cache (both name the experiments).
    stack.service.wait_for_json("\"experiments\":", count, Duration::from_secs(10))
}

/// `count` requests from new visitors (no cookie) over `clients` connections at a time.
fn new_visitors(stack: &Stack, count: usize, clients: usize) -> Vec<HttpResponse> {
    let next = AtomicUsize::new(0);
    thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|_| {
                scope.spawn(|| {
                    let mut responses = Vec::new();
                    while next.fetch_add(1, Ordering::Relaxed) < count {
                        let response = stack.get(PAGE).send();
                        responses.push(response.unwrap_or_else(|err| panic!("request {}: {err}", responses.len())));
                    }
                    responses
                })
            })
            .collect();
        workers.into_iter().flat_map(|worker| worker.join().unwrap()).collect()
    })
}

/// 10,000 new visitors, bucketed by the service's own random ids: the split is within ±2
/// points of the weights, which is four standard deviations for 10,000 visitors at 50%
/// (a false alarm once in 15,000 runs). tests/engine/experiments.rs checks the same on seeded ids.
///
/// The variants are counted in the log lines, as analytics would count them: under this
/// load Viceroy, which counts wall time as vCPU, stops some rewrites at the CPU budget
/// before `<body>` (the page then passes through as the origin sent it).
#[test]
fn new_visitors_get_a_cookie_and_split_by_the_weights() {
    const SAMPLE: usize = 10_000;
    let stack = stack(&[("10-hero", HERO)]);
    let responses = new_visitors(&stack, SAMPLE, 4);
    let mut ids = std::collections::HashSet::new();
    let mut marked_pages = 0;
    for response in &responses {
        assert_eq!(response.status, 200);
        let id = visitor_cookie(response).expect("a new visitor gets the cookie");
        assert!(id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        ids.insert(id);
        assert_eq!(response.header("cache-control"), Some("private, max-age=600"));
        if let Some(variant) = marked(response, "hero") {
            assert!(variant == "control" || variant == "big-cta", "{variant}");
            marked_pages += 1;
        }
    }
    assert_eq!(ids.len(), SAMPLE, "every id is new");
    let logs = page_view_logs(&stack, SAMPLE);
    assert_eq!(logs.len(), SAMPLE);
    let big = logs.iter().filter(|line| line["experiments"]["hero-2026"] == "big-cta").count();
    let control = logs.iter().filter(|line| line["experiments"]["hero-2026"] == "control").count();
    assert_eq!(big + control, SAMPLE, "every new visitor is in the experiment");
    let share = big as f64 * 100.0 / SAMPLE as f64;
    println!(
        "big-cta: {big} of {SAMPLE} new visitors through Viceroy ({share:.2}%, weight 50%); \
         {marked_pages} pages marked, the rest stopped at the CPU budget"
    );
    assert!((share - 50.0).abs() <= 2.0, "{share:.2}% in big-cta, expected 50% ± 2");
    assert!(marked_pages * 2 >= SAMPLE, "only {marked_pages} of {SAMPLE} pages were rewritten");
}

#[test]
fn a_visitor_keeps_its_variant_across_requests() {
    let stack = stack(&[("10-hero", HERO), ("20-hero-cta", HERO_CTA)]);
    for _ in 0..10 {
        let first = stack.get(PAGE).send().unwrap();
        let id = visitor_cookie(&first).unwrap();
        let variant = marked(&first, "hero").unwrap();
        assert_eq!(first.text().contains("<h1 class=\"big\">"), variant == "big-cta", "rules follow the variant");
        for path in [PAGE, "/news/article.html", PAGE] {
            let again = stack.get(path).header("Cookie", &format!("theme=dark; edge_vid={id}")).send().unwrap();
            assert_eq!(marked(&again, "hero").as_deref(), Some(variant.as_str()), "visitor {id} on {path}");
            assert_eq!(visitor_cookie(&again), None, "the cookie is set once");
        }
    }
    let logs = page_view_logs(&stack, 40);
    let variant = logs[0]["experiments"]["hero-2026"].as_str().unwrap();
    assert!(variant == "control" || variant == "big-cta", "{}", logs[0]);
    assert_eq!(logs[0]["variant_forced"], false);
}

/// Two variants whose actions print nothing (one removes the heading, one unwraps it) are
/// still two pages: whatever keeps or reuses rewritten pages must tell them apart by the
/// variant, never hand one visitor's variant to another, and never repeat one visitor's
/// cookie to the next.
#[test]
fn visitors_in_different_variants_never_get_each_others_page() {
    let layout = r#"{"id": "layout", "selector": "h1", "experiment": {"id": "layout",
        "variants": [{"name": "drop", "weight": 1, "actions": ["remove"]}, {"name": "flat", "weight": 1, "actions": ["unwrap"]}]}}"#;
    let stack = stack(&[("10-layout", layout)]);
    let page = |id: &str| {
        let response = stack.get(PAGE).header("Cookie", &format!("edge_vid={id}")).send().unwrap();
        assert_eq!(visitor_cookie(&response), None, "a returning visitor gets no cookie");
        response.text()
    };
    let variant = |text: &str| match (text.contains("<h1>"), text.contains("Welcome")) {
        (false, false) => "drop",
        (false, true) => "flat",
        _ => panic!("the heading is untouched: the page was not rewritten\n{text}"),
    };
    let visitors: Vec<(String, &str)> = (0..12)
        .map(|i| {
            let id = format!("{i:032x}");
            let first = page(&id);
            (id, variant(&first))
        })
        .collect();
    assert!(visitors.iter().any(|(_, v)| *v == "drop") && visitors.iter().any(|(_, v)| *v == "flat"), "{visitors:?}");
    for _ in 0..2 {
        for (id, expected) in &visitors {
            assert_eq!(variant(&page(id)), *expected, "visitor {id}");
        }
    }
    let new: Vec<String> = (0..6).map(|_| visitor_cookie(&stack.get(PAGE).send().unwrap()).unwrap()).collect();
    let distinct: std::collections::HashSet<&String> = new.iter().collect();
    assert_eq!(distinct.len(), new.len(), "each new visitor its own id: {new:?}");
}

#[test]
fn no_cookie_is_set_or_read_without_consent() {
    let consent = r#""consent": {"cookie": {"name": "consent", "regex": "(^|,)analytics(,|$)"}}, "attribute""#;
    let stack = stack(&[("10-hero", &HERO.replace(r#""attribute""#, consent))]);
    for cookie in [None, Some("consent=ads"), Some("consent=ads; edge_vid=0123")] {
        let mut request = stack.get(PAGE);
        if let Some(cookie) = cookie {
            request = request.header("Cookie", cookie);
        }
        let response = request.send().unwrap();
        assert_eq!(visitor_cookie(&response), None, "{cookie:?}");
        assert_eq!(marked(&response, "hero"), None, "control, uncounted: {cookie:?}");
        assert_eq!(response.header("cache-control"), Some("private, max-age=600"), "still per visitor");
    }
    let consented = stack.get(PAGE).header("Cookie", "consent=ads,analytics").send().unwrap();
    assert!(visitor_cookie(&consented).is_some());
    assert!(marked(&consented, "hero").is_some());
    let logs = page_view_logs(&stack, 4);
    assert_eq!(logs[0]["experiments"], serde_json::json!({}));
}

#[test]
fn experiments_in_a_namespace_never_share_a_visitor() {
    let in_home = |id: &str, range: &str| {
        format!(
            r#"{{"id": "{id}", "selector": "body", "experiment": {{"id": "{id}", "attribute": "data-{id}",
                "namespace": {{"name": "home", "range": {range}}},
                "variants": [{{"name": "a", "weight": 1}}, {{"name": "b", "weight": 1}}]}}}}"#
        )
    };
    let (left, right) = (in_home("left", "[0, 50]"), in_home("right", "[50, 100]"));
    let stack = stack(&[("10-left", &left), ("20-right", &right)]);
    new_visitors(&stack, 400, 2);
    let logs = page_view_logs(&stack, 400);
    let in_left = logs.iter().filter(|line| line["experiments"].get("left").is_some()).count();
    for line in &logs {
        let experiments = line["experiments"].as_object().unwrap();
        assert_eq!(experiments.len(), 1, "exactly one experiment per visitor: {line}");
    }
    assert!((140..260).contains(&in_left), "{in_left} of 400 in the left half");
}

#[test]
fn forcing_a_variant_needs_the_token() {
    let stack = stack(&[("10-hero", HERO), ("20-hero-cta", HERO_CTA)]);
    // A visitor in control (found by trying ids), asking for big-cta.
    let id = (0..)
        .map(|i| format!("{i:032x}"))
        .find(|id| {
            let response = stack.get(PAGE).header("Cookie", &format!("edge_vid={id}")).send().unwrap();
            marked(&response, "hero").as_deref() == Some("control")
        })
        .unwrap();
    let ask = |token: Option<&str>| {
        let mut request = stack
            .get(PAGE)
            .header("Cookie", &format!("edge_vid={id}"))
            .header("x-edge-rewriter-variant", "hero-2026=big-cta");
        if let Some(token) = token {
            request = request.header("x-edge-rewriter-token", token);
        }
        request.send().unwrap()
    };
    for refused in [ask(None), ask(Some("guess"))] {
        assert_eq!(marked(&refused, "hero").as_deref(), Some("control"));
        assert_eq!(refused.header("cache-control"), Some("private, max-age=600"));
    }
    let forced = ask(Some(TOKEN));
    assert_eq!(marked(&forced, "hero").as_deref(), Some("big-cta"));
    assert!(forced.text().contains("<h1 class=\"big\">"));
    assert_eq!(forced.header("cache-control"), Some("private, no-store"), "a QA view is never cached");
    let logs = stack.service.wait_for_lines("\"variant_forced\":true", 1, Duration::from_secs(10));
    assert!(logs[0].contains(r#""experiments":{"hero-2026":"big-cta"}"#), "{logs:?}");
    assert!(
        stack.origin.received().iter().all(|request| request.header("x-edge-rewriter-variant").is_none()),
        "the origin never sees the header"
    );
}

#[test]
fn geo_and_device_select_by_the_local_data() {
    let rules = r#"[
        {"id": "where", "selector": "main", "actions": [{"prepend": {"html":
            "<p id=\"where\">{{geo.city}}|{{country}}|{{geo.continent}}|{{geo.region}}|{{geo.asn}}|{{device.type}}</p>"}}]},
        {"id": "dach", "selector": "h1", "when": {"geo": {"country": ["DE", "AT", "CH"]}},
         "actions": [{"append": {"text": " (DACH)"}}]},
        {"id": "asia-phones", "selector": "h1", "when": {"geo": {"continent": ["AS"]}, "device": ["mobile", "tablet"]},
         "actions": [{"append": {"text": " (Asia, handheld)"}}]},
        {"id": "no-bots", "selector": "main", "when": {"device": ["bot"]}, "actions": [{"set_inner": {"text": "hi bot"}}]}]"#;
    let stack = stack(&[("10-audience", rules)]);
    let from = |ip: &str, agent: &str| {
        let ip: IpAddr = ip.parse().unwrap();
        stack.get("/").from_ip(ip).header("User-Agent", agent).send().unwrap().text()
    };
    let berlin = from("127.0.0.2", "EdgeRewriterTest/Desktop");
    assert!(berlin.contains("<p id=\"where\">Berlin|DE|EU|BE|3320|desktop</p>"), "{berlin}");
    assert!(berlin.contains("<h1>Welcome (DACH)</h1>"));
    let tokyo_tablet = from("127.0.0.3", "EdgeRewriterTest/Tablet");
    assert!(tokyo_tablet.contains("Tokyo|JP|AS|13|2516|tablet"), "{tokyo_tablet}");
    assert!(tokyo_tablet.contains("<h1>Welcome (Asia, handheld)</h1>"));
    let tokyo_desktop = from("127.0.0.3", "EdgeRewriterTest/Desktop");
    assert!(tokyo_desktop.contains("<h1>Welcome</h1>"), "not handheld");
    // Viceroy's default for other loopback addresses; a User-Agent it does not know.
    let default = from("127.0.0.9", "curl/8.5");
    assert!(default.contains("San Francisco|US|NA|CA|54113|</p>"), "{default}");
    let bot = from("127.0.0.2", "EdgeRewriterTest/Bot");
    assert!(bot.contains("|bot</p>hi bot</main>"), "a bot claiming a desktop is a bot: {bot}");
}

/// The European Union is its member states: a consent notice for the EU reaches Berlin, and
/// not Zurich, which geolocation puts in Europe (continent `EU`), nor Tokyo.
#[test]
fn the_eu_union_is_the_member_states_not_the_continent() {
    let rules = r#"[
        {"id": "eu-consent", "selector": "body", "when": {"geo": {"union": ["EU"]}},
         "actions": [{"prepend": {"html": "<div id=\"consent\">cookies?</div>"}}]},
        {"id": "europe", "selector": "h1", "when": {"geo": {"continent": ["EU"]}},
         "actions": [{"append": {"text": " (Europe)"}}]}]"#;
    let stack = stack(&[("10-consent", rules)]);
    let from = |ip: &str| stack.get("/").from_ip(ip.parse().unwrap()).send().unwrap().text();
    let berlin = from("127.0.0.2");
    assert!(berlin.contains("<div id=\"consent\">cookies?</div>") && berlin.contains("Welcome (Europe)"), "{berlin}");
    let zurich = from("127.0.0.4");
    assert!(!zurich.contains("id=\"consent\"") && zurich.contains("Welcome (Europe)"), "{zurich}");
    let tokyo = from("127.0.0.3");
    assert!(!tokyo.contains("id=\"consent\"") && !tokyo.contains("(Europe)"), "{tokyo}");
}
