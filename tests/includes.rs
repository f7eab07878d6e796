//! Includes through the engine: a rule's `include` becomes a fragment streamed in where the
//! rule puts it, whatever the chunking, with its fallback when the fragment cannot be used,
//! and never a marker left in the page.

#![cfg(not(target_arch = "wasm32"))]

use std::collections::HashMap;
use std::io::Cursor;

use edge_rewriter::{
    Fragment, FragmentSource, IncludeResult, PlannedInclude, Report, RequestContext, RewriteOptions, RuleSet, stream,
    stream_with_fragments,
};

/// Fragments by path: a status and a body, or missing (unavailable).
#[derive(Clone, Default)]
struct Fragments(HashMap<String, (u16, Vec<u8>)>);

impl Fragments {
    fn with(mut self, path: &str, status: u16, body: &str) -> Self {
        self.0.insert(path.to_owned(), (status, body.as_bytes().to_vec()));
        self
    }
}

impl FragmentSource for Fragments {
    fn fragment(&mut self, _index: usize, include: &PlannedInclude) -> Fragment {
        match self.0.get(&include.path) {
            Some((status, body)) => Fragment::Response {
                status: *status,
                content_type: Some("text/html; charset=utf-8".into()),
                content_length: None,
                body: Box::new(Cursor::new(body.clone())),
            },
            None => Fragment::Unavailable(format!("no fragment at {}", include.path)),
        }
    }
}

fn rules(json: &str) -> RuleSet {
    let (rules, errors) = RuleSet::from_entries(&[("includes".to_owned(), json.to_owned())]);
    assert!(errors.is_empty(), "{errors:?}");
    rules
}

/// Rewrites `page` for `url` whole, then in chunks of every size up to 40 bytes: all must
/// agree. The output and the report of the whole run.
fn rewrite(rules: &RuleSet, url: &str, page: &str, fragments: &Fragments) -> (String, Report) {
    let context = RequestContext::for_url("GET", url).unwrap();
    let plan = rules.plan(&context);
    let run = |read_buffer: usize| {
        let options = RewriteOptions { read_buffer, ..RewriteOptions::default() };
        let done = stream_with_fragments(&plan, &options, page.as_bytes(), Vec::new(), Box::new(fragments.clone()));
        done.result.unwrap();
        (String::from_utf8(done.sink).unwrap(), done.report)
    };
    let (whole, report) = run(64 << 10);
    for chunk in 1..=40 {
        assert_eq!(run(chunk).0, whole, "chunks of {chunk} bytes changed the output");
    }
    (whole, report)
}

const PAGE: &str = "<html><body><h1>Shop</h1><p>one</p><p>two</p></body></html>";

#[test]
fn a_fragment_is_streamed_in_where_the_rule_puts_it() {
    let rules = rules(
        r#"[{"id": "sale", "selector": "h1", "actions": [{"after": {"include": {"path": "/fragments/sale.html"}}}]},
            {"id": "promo", "selector": "body", "actions": [{"append": {"include": {"backend": "cms", "path": "/promo"}}}]}]"#,
    );
    let fragments = Fragments::default().with("/fragments/sale.html", 200, "<div class=sale>20% off</div>").with(
        "/promo",
        200,
        "<aside>Free shipping</aside>",
    );
    let (page, report) = rewrite(&rules, "https://shop.example/", PAGE, &fragments);
    assert_eq!(
        page,
        "<html><body><h1>Shop</h1><div class=sale>20% off</div><p>one</p><p>two</p><aside>Free shipping</aside></body></html>"
    );
    let results: Vec<(&str, &IncludeResult)> =
        report.includes.iter().map(|include| (include.rule.as_str(), &include.result)).collect();
    assert_eq!(results, [("sale", &IncludeResult::Inserted), ("promo", &IncludeResult::Inserted)]);
    assert_eq!(report.includes[0].bytes, 29);
}

#[test]
fn a_failing_missing_or_oversized_fragment_gets_the_fallback_and_the_page_is_complete() {
    let rules = rules(
        r#"[{"id": "a", "selector": "h1", "actions": [{"after": {"include": {"path": "/down", "fallback": {"html": "<b>later</b>"}}}}]},
            {"id": "b", "selector": "body", "actions": [{"prepend": {"include": {"path": "/missing", "fallback": {"text": "<none>"}}}}]},
            {"id": "c", "selector": "body", "actions": [{"append": {"include": {"path": "/big", "max_bytes": 10}}}]}]"#,
    );
    let fragments = Fragments::default().with("/down", 503, "<p>error page</p>").with(
        "/big",
        200,
        "<p>far more than ten bytes</p>",
    );
    let (page, report) = rewrite(&rules, "https://shop.example/", PAGE, &fragments);
    assert_eq!(page, "<html><body>&lt;none&gt;<h1>Shop</h1><b>later</b><p>one</p><p>two</p></body></html>");
    let why: Vec<String> = report.includes.iter().map(|include| include.result.why().unwrap().to_owned()).collect();
    assert!(why[0].contains("503"), "{why:?}");
    assert!(why[1].contains("no fragment at /missing"), "{why:?}");
    assert!(why[2].contains("max_bytes"), "{why:?}");
}

#[test]
fn without_a_source_every_include_gets_its_fallback_and_no_marker_is_left() {
    let rules = rules(
        r#"{"id": "a", "selector": "p", "actions": [{"before": {"include": {"path": "/x", "fallback": {"html": "<i>f</i>"}}}}]}"#,
    );
    let context = RequestContext::for_url("GET", "https://shop.example/").unwrap();
    let plan = rules.plan(&context);
    let done = stream(&plan, &RewriteOptions::default(), PAGE.as_bytes(), Vec::new());
    done.result.unwrap();
    let page = String::from_utf8(done.sink).unwrap();
    // The first match gets the include; a fragment is inserted once.
    assert_eq!(page, "<html><body><h1>Shop</h1><i>f</i><p>one</p><p>two</p></body></html>");
    assert!(!page.contains("edge-rewriter-include"));
}

#[test]
fn text_fragments_are_escaped() {
    let rules = rules(
        r#"{"id": "quote", "selector": "h1", "actions": [{"set_inner": {"include": {"path": "/q", "as": "text"}}}]}"#,
    );
    let fragments = Fragments::default().with("/q", 200, "<script>alert(1)</script> & co");
    let (page, _) = rewrite(&rules, "https://shop.example/", PAGE, &fragments);
    assert!(page.contains("<h1>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</h1>"), "{page}");
}

#[test]
fn template_values_in_the_path_stay_one_segment() {
    let rules = rules(
        r#"{"id": "local", "selector": "h1", "actions": [{"after": {"include": {"path": "/fragments/{{query.region}}/banner.html?v={{query.v}}", "fallback": {"text": "none"}}}}]}"#,
    );
    let fragments = Fragments::default().with("/fragments/north/banner.html?v=2", 200, "N").with(
        "/fragments/..%2F..%2Fadmin/banner.html?v=",
        200,
        "leak",
    );
    let (page, report) = rewrite(&rules, "https://shop.example/?region=north&v=2", PAGE, &fragments);
    assert!(page.contains("<h1>Shop</h1>N<p>"), "{page}");
    // A value cannot climb out of the directory, nor add segments or a query.
    let (page, report_hostile) =
        rewrite(&rules, "https://shop.example/?region=../../admin&v=1%26admin=1", PAGE, &fragments);
    assert_eq!(report_hostile.includes[0].path, "/fragments/..%2F..%2Fadmin/banner.html?v=1%26admin%3D1");
    assert!(page.contains("<h1>Shop</h1>none<p>"), "{page}");
    assert_eq!(report.includes[0].result, IncludeResult::Inserted);
    let (_, dots) = rewrite(&rules, "https://shop.example/?region=..", PAGE, &fragments);
    assert!(dots.includes[0].result.why().unwrap().contains("`..`"), "{:?}", dots.includes);
}

#[test]
fn a_page_cannot_forge_a_marker_and_an_unplaced_include_is_reported() {
    let rules = rules(r#"{"id": "a", "selector": "nav", "actions": [{"append": {"include": {"path": "/nav"}}}]}"#);
    let forged = "<body><!--edge-rewriter-include:00000000000000000000000000000000:0--><p>x</p></body>";
    let fragments = Fragments::default().with("/nav", 200, "NAV");
    let (page, report) = rewrite(&rules, "https://shop.example/", forged, &fragments);
    assert_eq!(page, forged, "the page's own comment is left as it is");
    assert_eq!(report.includes[0].result, IncludeResult::NotPlaced);
}

#[test]
fn shadow_rules_and_rules_that_do_not_apply_fetch_nothing() {
    let rules = rules(
        r#"[{"id": "s", "mode": "shadow", "selector": "h1", "actions": [{"after": {"include": {"path": "/s"}}}]},
            {"id": "n", "selector": "h1", "when": {"path": {"prefix": "/other"}}, "actions": [{"after": {"include": {"path": "/n"}}}]}]"#,
    );
    let context = RequestContext::for_url("GET", "https://shop.example/").unwrap();
    assert!(rules.plan(&context).includes().is_empty());
}

#[test]
fn a_fragment_is_never_put_inside_a_script() {
    let rules = rules(r#"{"id": "a", "selector": "script", "actions": [{"append": {"include": {"path": "/x"}}}]}"#);
    let page = "<script>var a = 1;</script>";
    let (out, report) =
        rewrite(&rules, "https://shop.example/", page, &Fragments::default().with("/x", 200, "</script><b>"));
    assert_eq!(out, page);
    assert_eq!(report.includes[0].result, IncludeResult::NotPlaced);
}
