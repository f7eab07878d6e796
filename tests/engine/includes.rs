//! Includes through the engine: a rule's `include` becomes a fragment streamed in where the
//! rule puts it, whatever the chunking, with its fallback when the fragment cannot be used,
//! and never a marker left in the page.

#![cfg(not(target_arch = "wasm32"))]

use std::cell::Cell;
use std::collections::HashMap;
use std::io::{self, Cursor, Read};
use std::rc::Rc;

use edge_rewriter::{
    Report, RequestContext, RewriteOptions, RuleSet,
    include::{Fragment, FragmentSource, IncludeResult, PlannedInclude},
    stream, stream_with_fragments,
};

use crate::common::{rewrite_every_chunking, rules};

/// Fragments by path: a status and a body, or missing (unavailable).
#[derive(Clone, Default)]
struct Fragments {
    bodies: HashMap<String, (u16, Vec<u8>)>,
    /// Each read gives at most this many bytes (0: as many as asked).
    piece: usize,
    /// The body fails (a timeout) after this many bytes.
    fail_after: Option<usize>,
    /// How many fragments were asked for.
    asked: Rc<Cell<usize>>,
}

impl Fragments {
    fn with(mut self, path: &str, status: u16, body: &str) -> Self {
        self.bodies.insert(path.to_owned(), (status, body.as_bytes().to_vec()));
        self
    }
}

impl FragmentSource for Fragments {
    fn fragment(&mut self, _index: usize, include: &PlannedInclude) -> Fragment {
        self.asked.set(self.asked.get() + 1);
        match self.bodies.get(&include.path) {
            Some((status, body)) => Fragment::Response {
                status: *status,
                content_type: Some("text/html; charset=utf-8".into()),
                content_length: None,
                body: Box::new(Body {
                    bytes: Cursor::new(body.clone()),
                    piece: self.piece,
                    fail_after: self.fail_after,
                }),
            },
            None => Fragment::Unavailable(format!("no fragment at {}", include.path)),
        }
    }
}

/// A fragment's body as a backend sends it: in pieces, and failing part-way if asked.
struct Body {
    bytes: Cursor<Vec<u8>>,
    piece: usize,
    fail_after: Option<usize>,
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let at = self.bytes.position() as usize;
        let mut want = if self.piece == 0 { buf.len() } else { buf.len().min(self.piece) };
        if let Some(limit) = self.fail_after {
            if at >= limit {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "no more of the fragment within its timeout"));
            }
            want = want.min(limit - at);
        }
        self.bytes.read(&mut buf[..want])
    }
}

/// Rewrites `page` for `url` whole, then in chunks of every size up to 40 bytes: all must
/// agree. The output and the report of the whole run.
fn rewrite(rules: &RuleSet, url: &str, page: &str, fragments: &Fragments) -> (String, Report) {
    let context = RequestContext::for_url("GET", url).unwrap();
    let plan = rules.plan(&context);
    let read_buffers: Vec<usize> = std::iter::once(64 << 10).chain(1..=40).collect();
    let whole = rewrite_every_chunking(&read_buffers, |read_buffer| {
        let options = RewriteOptions { read_buffer, ..RewriteOptions::default() };
        stream_with_fragments(&plan, &options, page.as_bytes(), Vec::new(), Box::new(fragments.clone()))
    });
    (String::from_utf8(whole.sink).unwrap(), whole.report)
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
    // Every match gets the include, as any content.
    assert_eq!(page, "<html><body><h1>Shop</h1><i>f</i><p>one</p><i>f</i><p>two</p></body></html>");
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

/// The first include was cut, and why says `why`.
fn assert_cut(report: &Report, why: &str) {
    let result = &report.includes[0].result;
    assert!(matches!(result, IncludeResult::Cut(said) if said.contains(why)), "{result:?}");
}

/// Filler that makes a fragment stream (a fragment up to 64 KiB is read whole first).
fn streamed(fragment: &str) -> String {
    let filler = "<p class=\"filler\">Grüße aus Köln ✓</p>\n".repeat(70 << 10 >> 5);
    format!("<section class=\"deals\">{filler}{fragment}</section>")
}

#[test]
fn a_streamed_fragment_cut_inside_a_multibyte_attribute_value_leaves_the_page_whole() {
    let fragment = streamed("<a class=\"deal\" href=\"/d\" title=\"Käse für Grüße ✓\">Käse</a>");
    // The cap falls inside `ü` of the title attribute.
    let cut = fragment.find("für").unwrap() + 2;
    let rules = rules(&format!(
        r#"{{"id": "deals", "selector": "h1", "actions": [{{"after": {{"include": {{"path": "/deals", "max_bytes": {cut}}}}}}}]}}"#
    ));
    let fragments = Fragments::default().with("/deals", 200, &fragment);
    let (page, report) = rewrite(&rules, "https://shop.example/", PAGE, &fragments);
    let inserted = page.strip_prefix("<html><body><h1>Shop</h1>").unwrap();
    let inserted =
        inserted.strip_suffix("<p>one</p><p>two</p></body></html>").expect("the page after the include is as it was");
    // Up to the tag the cap falls in, then the section it opened closed.
    let before_tag = fragment.find("<a class=\"deal\"").unwrap();
    assert_eq!(inserted, format!("{}</section>", &fragment[..before_tag]));
    assert_cut(&report, "max_bytes");
}

#[test]
fn a_fragment_failing_mid_body_is_cut_at_a_whole_tag_and_closed() {
    let fragment = streamed("<ul><li><a href=\"/x\" title=\"Grüße\">Grüße</a></li></ul>");
    let fail_after = fragment.find("Grüße\">").unwrap() + 3;
    let rules = rules(r#"{"id": "deals", "selector": "h1", "actions": [{"after": {"include": {"path": "/deals"}}}]}"#);
    let fragments =
        Fragments { fail_after: Some(fail_after), piece: 1000, ..Fragments::default() }.with("/deals", 200, &fragment);
    let (page, report) = rewrite(&rules, "https://shop.example/", PAGE, &fragments);
    let before_tag = fragment.find("<a href").unwrap();
    assert_eq!(
        page,
        format!(
            "<html><body><h1>Shop</h1>{}</li></ul></section><p>one</p><p>two</p></body></html>",
            &fragment[..before_tag]
        )
    );
    assert_cut(&report, "timeout");
}

#[test]
fn a_held_fragment_that_ends_inside_a_tag_gets_its_fallback() {
    let rules = rules(
        r#"{"id": "a", "selector": "h1", "actions": [{"after": {"include": {"path": "/x", "fallback": {"html": "<b>later</b>"}}}}]}"#,
    );
    let fragments = Fragments::default().with("/x", 200, "<div><a title=\"Grü");
    let (page, report) = rewrite(&rules, "https://shop.example/", PAGE, &fragments);
    assert_eq!(page, "<html><body><h1>Shop</h1><b>later</b><p>one</p><p>two</p></body></html>");
    assert!(report.includes[0].result.why().unwrap().contains("inside a tag"), "{:?}", report.includes);
}

#[test]
fn an_include_goes_into_every_element_its_rule_replaces_or_fills_fetched_once() {
    let page = "<body><div class=\"slot\">ad 1</div><p>text</p><div class=\"slot\">ad 2</div><div class=\"slot\">ad 3</div></body>";
    let fragments = Fragments::default().with("/ad", 200, "<ins class=\"ad\">Käse</ins>");
    for (action, expected) in [
        (
            "replace",
            "<body><ins class=\"ad\">Käse</ins><p>text</p><ins class=\"ad\">Käse</ins><ins class=\"ad\">Käse</ins></body>",
        ),
        (
            "set_inner",
            "<body><div class=\"slot\"><ins class=\"ad\">Käse</ins></div><p>text</p><div class=\"slot\"><ins class=\"ad\">Käse</ins></div>\
             <div class=\"slot\"><ins class=\"ad\">Käse</ins></div></body>",
        ),
    ] {
        let rules = rules(&format!(
            r#"{{"id": "ads", "selector": ".slot", "actions": [{{"{action}": {{"include": {{"path": "/ad"}}}}}}]}}"#
        ));
        let asked = Rc::new(Cell::new(0));
        let (out, report) = rewrite(
            &rules,
            "https://shop.example/",
            page,
            &Fragments { asked: Rc::clone(&asked), ..fragments.clone() },
        );
        assert_eq!(out, expected, "{action}");
        assert_eq!(report.hits, [("ads".to_owned(), 3)]);
        assert_eq!((report.includes.len(), report.includes[0].places), (1, 3), "{action}: {:?}", report.includes);
        // Once per run: the whole page, then each chunking.
        assert_eq!(asked.get(), 41, "{action}: the fragment is asked for once per page");
    }
    // `max` still limits the places.
    let rules = rules(
        r#"{"id": "ads", "selector": ".slot", "max": 2, "actions": [{"replace": {"include": {"path": "/ad"}}}]}"#,
    );
    let (out, report) = rewrite(&rules, "https://shop.example/", page, &fragments);
    assert!(out.ends_with("<ins class=\"ad\">Käse</ins><div class=\"slot\">ad 3</div></body>"), "{out}");
    assert_eq!(report.includes[0].places, 2);
}

mod cut_anywhere {
    //! Whatever the fragment and wherever it stops (its `max_bytes`, a failure mid-body),
    //! the page after the include is byte for byte what the origin sent, the output is
    //! UTF-8, and a browser's parser (html5ever here) puts the page's own elements where
    //! they were: the fragment's elements are closed.

    use html5ever::serialize::{SerializeOpts, TraversalScope};
    use html5ever::tendril::TendrilSink;
    use html5ever::{parse_document, serialize};
    use markup5ever_rcdom::{Handle, NodeData, RcDom, SerializableHandle};
    use proptest::prelude::*;

    use super::*;

    const BEFORE: &str =
        "<!DOCTYPE html><html><head><title>Shop</title></head><body><main id=\"m\"><h1>Shop</h1><div id=\"slot\">";
    const AFTER: &str = "</div><p id=\"after\">after <b>text</b> ✓</p></main><footer id=\"f\">f</footer></body></html>";

    fn id_of(node: &Handle) -> Option<String> {
        match &node.data {
            NodeData::Element { attrs, .. } => {
                attrs.borrow().iter().find(|attr| &*attr.name.local == "id").map(|attr| attr.value.to_string())
            }
            _ => None,
        }
    }

    fn by_id(node: &Handle, id: &str) -> Option<Handle> {
        if id_of(node).as_deref() == Some(id) {
            return Some(node.clone());
        }
        node.children.borrow().iter().find_map(|child| by_id(child, id))
    }

    fn parent_id(node: &Handle) -> Option<String> {
        let weak = node.parent.take();
        node.parent.set(weak.clone());
        weak.and_then(|weak| weak.upgrade()).and_then(|parent| match &parent.data {
            NodeData::Element { name, .. } if id_of(&parent).is_none() => Some(name.local.to_string()),
            _ => id_of(&parent),
        })
    }

    fn outer_html(node: &Handle) -> String {
        let mut out = Vec::new();
        let opts = SerializeOpts { traversal_scope: TraversalScope::IncludeNode, ..Default::default() };
        serialize(&mut out, &SerializableHandle::from(node.clone()), opts).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn text_of(node: &Handle) -> String {
        match &node.data {
            NodeData::Text { contents } => contents.borrow().to_string(),
            _ => node.children.borrow().iter().map(text_of).collect(),
        }
    }

    /// The page with `fragment` stopping after `stop` bytes (by its cap or a failure),
    /// the origin's page read in `read_buffer` pieces and the fragment in `piece`s.
    fn spliced(fragment: &[u8], stop: usize, by_failure: bool, read_buffer: usize, piece: usize) -> (Vec<u8>, Report) {
        let max_bytes = if by_failure { 4 << 20 } else { stop.max(1) };
        let rules = rules(&format!(
            r##"{{"id": "f", "selector": "#slot", "actions": [{{"append": {{"include": {{"path": "/f", "max_bytes": {max_bytes}}}}}}}]}}"##
        ));
        let mut fragments = Fragments { piece, fail_after: by_failure.then_some(stop), ..Fragments::default() };
        fragments.bodies.insert("/f".into(), (200, fragment.to_vec()));
        let context = RequestContext::for_url("GET", "https://shop.example/").unwrap();
        let plan = rules.plan(&context);
        let options = RewriteOptions { read_buffer, ..RewriteOptions::default() };
        let page = format!("{BEFORE}{AFTER}");
        let done = stream_with_fragments(&plan, &options, page.as_bytes(), Vec::new(), Box::new(fragments));
        done.result.unwrap();
        (done.sink, done.report)
    }

    /// What must hold of any output: the page around the include as it was, and its
    /// elements there, whatever the fragment did.
    fn page_is_whole(out: &[u8]) -> Result<RcDom, TestCaseError> {
        prop_assert!(out.starts_with(BEFORE.as_bytes()));
        prop_assert!(out.ends_with(AFTER.as_bytes()), "the page after the include changed");
        let dom = parse_document(RcDom::default(), Default::default()).from_utf8().read_from(&mut &out[..]).unwrap();
        let after = by_id(&dom.document, "after").ok_or_else(|| TestCaseError::fail("#after is gone"))?;
        prop_assert_eq!(text_of(&after), "after text ✓");
        prop_assert!(by_id(&dom.document, "f").is_some(), "#f is gone");
        Ok(dom)
    }

    /// Markup as a content author writes it: nested, closed, attributes in every quoting,
    /// text in several scripts, comments, scripts, SVG, a table.
    fn flow(depth: u32) -> BoxedStrategy<String> {
        let leaf = prop_oneof![
            text(),
            Just("<br>".to_owned()),
            attrs().prop_map(|attrs| format!("<img{attrs}>")),
            text().prop_map(|text| format!("<!-- {text} -->")),
            Just("<script>if (a < b && c > d) { s = \"</div>\"; }</script>".to_owned()),
            Just("<style>p > a { content: \"ü\"; }</style>".to_owned()),
            text().prop_map(|text| format!("<textarea>{text}</textarea>")),
            Just("<svg viewBox=\"0 0 1 1\"><path d=\"M0 0\"/><g><circle r=\"1\"/></g></svg>".to_owned()),
        ];
        leaf.prop_recursive(depth, 48, 4, |inner| {
            let children = prop::collection::vec(inner, 0..4).prop_map(|children| children.concat());
            prop_oneof![
                (prop::sample::select(vec!["div", "section", "aside", "li"]), attrs(), children.clone())
                    .prop_map(|(tag, attrs, inner)| format!("<{tag}{attrs}>{inner}</{tag}>")),
                (attrs(), prop::collection::vec(phrasing(), 0..4))
                    .prop_map(|(attrs, inner)| format!("<p{attrs}>{}</p>", inner.concat())),
                children.clone().prop_map(|inner| format!("<ul><li>{inner}</li></ul>")),
                children.prop_map(|inner| format!("<table><tbody><tr><td>{inner}</td></tr></tbody></table>")),
            ]
        })
        .boxed()
    }

    fn phrasing() -> impl Strategy<Value = String> {
        (prop::sample::select(vec!["span", "b", "em", "a"]), attrs(), text())
            .prop_map(|(tag, attrs, text)| format!("<{tag}{attrs}>{text}</{tag}>"))
    }

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![
                "Käse",
                " ",
                "Grüße",
                "✓",
                "日本語",
                "😀",
                "&amp;",
                "&lt;b&gt;",
                "20 %",
                "a > b",
                "\n",
            ]),
            1..6,
        )
        .prop_map(|words| words.concat())
    }

    fn attrs() -> impl Strategy<Value = String> {
        prop::collection::vec(
            (prop::sample::select(vec!["class", "title", "data-x", "href"]), text(), 0..3u8).prop_map(
                |(name, value, quotes)| match quotes {
                    0 => format!(" {name}=\"{}\"", value.replace('"', "&quot;")),
                    1 => format!(" {name}='{value}'"),
                    _ => format!(" {name}={}", value.replace([' ', '\n', '>', '\'', '"', '=', '<', '`'], "_")),
                },
            ),
            0..3,
        )
        .prop_map(|attrs| attrs.concat())
    }

    /// Bytes no author meant: pieces of tags, quotes, comments and raw text openers,
    /// halves of characters.
    fn soup() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![
                prop::sample::select(vec![
                    "<div",
                    "<a href=",
                    " title=\"",
                    "\"",
                    "'",
                    ">",
                    "/>",
                    "</div>",
                    "</a>",
                    "<!--",
                    "-->",
                    "<script>",
                    "</script>",
                    "<!--<script>",
                    "<style>",
                    "<textarea>",
                    "</textarea>",
                    "<title>",
                    "<svg>",
                    "<math>",
                    "<table>",
                    "<td>",
                    "<select>",
                    "<option>",
                    "<p>",
                    "</p>",
                    "<b>",
                    "<i>",
                    "</b>",
                    "<![CDATA[",
                    "]]>",
                    "Grüße",
                    "✓",
                    "😀",
                    " ",
                    "=",
                    "&",
                    "&amp",
                    "<",
                    "</",
                    "<!DOCTYPE html>",
                    "<iframe>",
                    "<xmp>",
                    "<noscript>",
                ])
                .prop_map(|piece| piece.as_bytes().to_vec()),
                prop::collection::vec(any::<u8>(), 1..3),
            ],
            0..40,
        )
        .prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn authored_markup_cut_anywhere_keeps_the_page_and_closes_its_elements(
            markup in flow(4),
            at in 0.0..=1.0f64,
            by_failure in any::<bool>(),
            read_buffer in 1..200usize,
            piece in 1..5000usize,
        ) {
            let fragment = streamed(&markup);
            let filler = fragment.len() - markup.len() - "</section>".len();
            let stop = filler + (markup.len() as f64 * at) as usize;
            let (out, report) = spliced(fragment.as_bytes(), stop, by_failure, read_buffer, piece);
            prop_assert!(std::str::from_utf8(&out).is_ok(), "not UTF-8");
            let dom = page_is_whole(&out)?;
            // The page's own elements are where they were, unchanged.
            let after = by_id(&dom.document, "after").unwrap();
            prop_assert_eq!(outer_html(&after), "<p id=\"after\">after <b>text</b> ✓</p>");
            let parent = |id: &str| by_id(&dom.document, id).and_then(|node| parent_id(&node));
            let parents = [parent("after"), parent("slot"), parent("f")];
            prop_assert_eq!(parents, [Some("m".to_owned()), Some("m".to_owned()), Some("body".to_owned())]);
            prop_assert!(matches!(report.includes[0].result, IncludeResult::Cut(_)), "{:?}", report.includes);
        }

        #[test]
        fn any_bytes_cut_anywhere_leave_the_page_after_the_include_as_it_was(
            soup in soup(),
            at in 0.0..=1.0f64,
            by_failure in any::<bool>(),
            read_buffer in 1..200usize,
            piece in 1..5000usize,
        ) {
            let mut fragment = streamed("").into_bytes();
            let filler = fragment.len() - "</section>".len();
            fragment.splice(filler..filler, soup.iter().copied());
            let stop = filler + (soup.len() as f64 * at) as usize;
            let (out, _) = spliced(&fragment, stop, by_failure, read_buffer, piece);
            if std::str::from_utf8(&soup).is_ok() {
                prop_assert!(std::str::from_utf8(&out).is_ok(), "not UTF-8");
            }
            page_is_whole(&out)?;
        }
    }
}
