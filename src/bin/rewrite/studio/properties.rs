//! Properties of the studio's engine side, on generated pages and rules:
//!
//! * numbering a page's elements for the preview changes nothing else: the rewrite of the
//!   numbered page, numbers taken out, is the page the edge serves, as a browser parses it;
//! * every selector proposed for an element matches that element, and the count shown is the
//!   engine's own count (shadow rules through the streaming rewriter);
//! * rule files read back as what was written, and writing them again changes no byte.

use edge_rewriter::{RequestContext, RewriteOptions, RuleSet, stream};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::annotate::walk;
use super::proposals::propose;
use super::rule_file::{entry_text, rules_of};

const ATTRIBUTE: &str = "data-studio-0a1b2c3d";
const UTF8: &encoding_rs::Encoding = encoding_rs::UTF_8;

/// A page from a small HTML grammar: nested and unclosed elements, void ones, ids and
/// classes from small pools (so selectors match several elements), text, comments.
fn page() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        "[a-z ]{0,12}".prop_map(|text| text.replace("  ", " cat ")),
        Just("<br>".to_owned()),
        Just("<br/>".to_owned()),
        Just("<hr class=\"x\" />".to_owned()),
        Just("<img src=\"http://cdn-old.example.net/x.png\" alt=\"\">".to_owned()),
        Just("<!-- note -->".to_owned()),
        Just("<input name=q type=search>".to_owned()),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        (
            prop::sample::select(vec![
                "div", "p", "p", "span", "a", "ul", "li", "li", "li", "li", "section", "main", "b", "h1", "nav",
            ]),
            prop::option::of(prop::sample::select(vec!["main", "x", "newsletter", "a b"])),
            prop::collection::vec(prop::sample::select(vec!["ad-slot", "product", "sale", "x:y", "promo"]), 0..3),
            prop::option::of(prop::sample::select(vec!["http://www.example.com/", "/p/1", "https://x.example/"])),
            prop::collection::vec(inner, 0..4),
            any::<bool>(),
        )
            .prop_map(|(tag, id, classes, href, children, closed)| {
                let mut out = format!("<{tag}");
                if let Some(id) = id {
                    out.push_str(&format!(" id=\"{id}\""));
                }
                if !classes.is_empty() {
                    out.push_str(&format!(" class=\"{}\"", classes.join(" ")));
                }
                if let (Some(href), "a") = (href, tag) {
                    out.push_str(&format!(" href={href} target=_blank"));
                }
                out.push('>');
                out.extend(children);
                if closed {
                    out.push_str(&format!("</{tag}>"));
                }
                out
            })
    })
    .prop_map(|body| format!("<!doctype html><html><head><title>cat</title></head><body>{body}</body></html>"))
}

/// The repository's live rules.
fn live_rules() -> RuleSet {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/live");
    let entries = edge_rewriter::store::read_rules_dir(&dir).unwrap();
    let (rules, errors) = RuleSet::from_entries(&entries);
    assert!(errors.is_empty(), "{errors:?}");
    rules
}

fn rewritten(rules: &RuleSet, page: &[u8]) -> Vec<u8> {
    let context = RequestContext::for_url("GET", "https://www.example.com/shop/").unwrap();
    let plan = rules.plan(&context);
    let done = stream(&plan, &RewriteOptions::default(), page, Vec::new());
    done.result.unwrap();
    done.sink
}

/// The page's numbers taken out.
fn without_numbers(page: &[u8]) -> Vec<u8> {
    let numbers = regex::bytes::Regex::new(&format!(" {ATTRIBUTE}=\"[0-9]+\"")).unwrap();
    numbers.replace_all(page, &b""[..]).into_owned()
}

/// The page as a browser's parser builds it (html5ever), written out again: what renders.
/// lol_html writes a tag it gave a new attribute anew, with single spaces between its parts
/// and ` />` for `/>`: the same page to a parser, not the same bytes.
fn parsed(page: &[u8]) -> String {
    use html5ever::tendril::TendrilSink;
    let dom = html5ever::parse_document(markup5ever_rcdom::RcDom::default(), Default::default())
        .from_utf8()
        .read_from(&mut &page[..])
        .unwrap();
    let mut out = Vec::new();
    let document = markup5ever_rcdom::SerializableHandle::from(dom.document.clone());
    html5ever::serialize(&mut out, &document, Default::default()).unwrap();
    String::from_utf8(out).unwrap()
}

/// How many elements of `page` each selector matches, counted by the engine: shadow rules
/// (which change nothing) through the streaming rewriter.
fn engine_counts(page: &[u8], selectors: &[String]) -> Vec<u64> {
    let probes: Vec<Value> = selectors
        .iter()
        .enumerate()
        .map(|(index, selector)| json!({"id": format!("p{index}"), "mode": "shadow", "selector": selector, "actions": ["remove"]}))
        .collect();
    let (rules, errors) = RuleSet::from_entries(&[("probes".to_owned(), Value::Array(probes).to_string())]);
    assert!(errors.is_empty(), "{errors:?}");
    let context = RequestContext::for_url("GET", "https://localhost/").unwrap();
    let plan = rules.plan(&context);
    let done = stream(&plan, &RewriteOptions::default(), page, Vec::new());
    done.result.unwrap();
    (0..selectors.len())
        .map(|index| {
            let id = format!("p{index}");
            done.report.shadow_hits.iter().find(|(hit, _)| *hit == id).map_or(0, |(_, n)| *n)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn numbering_the_preview_changes_nothing_else(page in page()) {
        let rules = live_rules();
        let numbered = walk(page.as_bytes(), UTF8, Some(ATTRIBUTE)).unwrap().annotated.unwrap();
        prop_assert_eq!(parsed(&without_numbers(&numbered)), parsed(page.as_bytes()));
        let served = parsed(&rewritten(&rules, page.as_bytes()));
        let previewed = rewritten(&rules, &numbered);
        prop_assert_eq!(parsed(&without_numbers(&previewed)), served);
    }

    #[test]
    fn proposals_match_the_clicked_element_and_count_as_the_engine_does(page in page()) {
        let walked = walk(page.as_bytes(), UTF8, Some(ATTRIBUTE)).unwrap();
        let numbered = walked.annotated.clone().unwrap();
        for ordinal in 1..=walked.elements.len() {
            let picked = propose(page.as_bytes(), UTF8, &walked.elements, ordinal, ATTRIBUTE).unwrap();
            prop_assert!(!picked.proposals.is_empty(), "no proposal for element {} of {}", ordinal, page);
            let selectors: Vec<String> = picked.proposals.iter().map(|p| p.selector.clone()).collect();
            let counts = engine_counts(page.as_bytes(), &selectors);
            // The clicked element, by its number in the numbered page: each proposal, narrowed
            // to that number, matches exactly one element.
            let narrowed: Vec<String> = selectors.iter().map(|s| format!("{s}[{ATTRIBUTE}=\"{ordinal}\"]")).collect();
            let own = engine_counts(&numbered, &narrowed);
            for ((proposal, count), own) in picked.proposals.iter().zip(counts).zip(own) {
                prop_assert!(!proposal.selector.contains("data-studio"), "{}", proposal.selector);
                prop_assert_eq!(proposal.count as u64, count, "{} on {}", proposal.selector, page);
                prop_assert_eq!(own, 1, "{} does not match element {} of {}", proposal.selector, ordinal, page);
            }
        }
    }

    #[test]
    fn rule_files_read_back_as_written(rules in prop::collection::vec(rule(), 1..4)) {
        let text = entry_text(&rules);
        let read = rules_of(&text).unwrap();
        prop_assert_eq!(&read, &rules);
        prop_assert_eq!(entry_text(&read), text);
    }
}

/// The same on real pages: the fixture pages (in their own charsets) and the corpus's.
#[test]
fn numbering_real_pages_changes_nothing_else() {
    let rules = live_rules();
    let fixtures = devstack::project::fixture_pages();
    let mut pages: Vec<(String, Vec<u8>)> = [
        "shop/index.html",
        "news/article.html",
        "legacy/windows-1252.html",
        "broken/malformed.html",
        "large/archive.html",
    ]
    .iter()
    .map(|name| (name.to_string(), std::fs::read(fixtures.join(name)).unwrap()))
    .collect();
    pages.extend(devstack::project::corpus_pages());
    for (name, page) in pages {
        let declared = edge_rewriter::http::PageEncoding::Sniffed;
        let charset = edge_rewriter::response::page_charset(&page, declared).unwrap_or(UTF8);
        let numbered = walk(&page, charset, Some(ATTRIBUTE)).unwrap().annotated.unwrap();
        let numbered_page = parsed(&without_numbers(&numbered));
        same(&numbered_page, &parsed(&page), &format!("{name}: numbering changed more than the numbers"));
        let served = parsed(&rewritten(&rules, &page));
        same(
            &parsed(&without_numbers(&rewritten(&rules, &numbered))),
            &served,
            &format!("{name}: the preview differs"),
        );
    }
}

/// Panics with where `a` and `b` first differ, unless they are equal.
fn same(a: &str, b: &str, what: &str) {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a == b {
        return;
    }
    let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let around =
        |bytes: &[u8]| String::from_utf8_lossy(&bytes[at.saturating_sub(80)..(at + 80).min(bytes.len())]).into_owned();
    panic!("{what}, at byte {at}:\n{}\n--- instead of ---\n{}", around(a), around(b));
}

/// Rule-shaped JSON: the fields editors write, with strings that need escaping.
fn rule() -> impl Strategy<Value = Value> {
    let text = "[ -~\u{e9}\u{2014}\n\t\"\\\\<>]{0,140}";
    (
        "[a-z][a-z0-9-]{0,20}",
        prop::option::of(text),
        prop::option::of("[a-z.#> ]{1,30}"),
        prop::collection::vec(text.prop_map(|html| json!({"before": {"html": html}})), 0..3),
        prop::option::of((0u64..10).prop_map(|n| json!({"path": {"prefix": format!("/{n}/")}, "device": ["mobile"]}))),
    )
        .prop_map(|(id, description, selector, actions, when)| {
            let mut rule = json!({"id": id, "actions": actions});
            if let Some(description) = description {
                rule["description"] = json!(description);
            }
            if let Some(selector) = selector {
                rule["selector"] = json!(selector);
            }
            if let Some(when) = when {
                rule["when"] = when;
            }
            rule
        })
}
