//! Shadow rules (`"mode": "shadow"`): matched and counted like any rule, never changing the
//! page, whatever the action and however the page arrives.

#![cfg(not(target_arch = "wasm32"))]

use edge_rewriter::{Report, RequestContext, RewriteOptions, RuleSet, stream};

use crate::common::{rewrite_every_chunking, rules};

/// Rewrites `page` whole and one byte at a time (both must agree); the output and report.
fn rewrite(entry: &str, page: &str) -> (String, Report) {
    let rules = rules(entry);
    let context = RequestContext::for_url("GET", "https://www.example.com/").unwrap();
    let plan = rules.plan(&context);
    let whole = rewrite_every_chunking(&[RewriteOptions::default().read_buffer, 1], |read_buffer| {
        stream(&plan, &RewriteOptions { read_buffer, ..RewriteOptions::default() }, page.as_bytes(), Vec::new())
    });
    (String::from_utf8(whole.sink).unwrap(), whole.report)
}

const PAGE: &str = "<!-- build 7 --><body><p class=ad>Buy a cat</p><p>The cat sat. A cat.</p></body>";

#[test]
fn every_kind_of_action_is_counted_and_none_is_applied() {
    let shadows = r#"[
        {"id": "ads", "mode": "shadow", "selector": ".ad", "actions": ["remove", {"after": {"html": "<hr>"}}]},
        {"id": "paras", "mode": "shadow", "selector": "p", "actions": [{"prepend": {"text": "x"}}]},
        {"id": "cats", "mode": "shadow", "actions": [{"replace_text": {"regex": "\\bcat\\b", "replace": "dog"}}]},
        {"id": "comments", "mode": "shadow", "actions": ["remove_comments"]},
        {"id": "footer", "mode": "shadow", "actions": [{"append_to_document": {"html": "<!-- edge -->"}}]}
    ]"#;
    let (page, report) = rewrite(shadows, PAGE);
    assert_eq!(page, PAGE, "a shadow rule never changes the page");
    assert!(report.hits.is_empty(), "{:?}", report.hits);
    let hits: Vec<(&str, u64)> = report.shadow_hits.iter().map(|(id, n)| (id.as_str(), *n)).collect();
    assert_eq!(hits, [("ads", 1), ("paras", 2), ("cats", 3), ("comments", 1), ("footer", 1)]);
}

#[test]
fn live_rules_around_a_shadow_text_rule_see_the_text_as_if_it_were_not_there() {
    let rules = r#"[
        {"id": "cat-to-dog", "actions": [{"replace_text": {"find": "cat", "replace": "dog"}}]},
        {"id": "try-wolf", "mode": "shadow", "actions": [{"replace_text": {"find": "dog", "replace": "wolf"}}]},
        {"id": "dog-to-hound", "actions": [{"replace_text": {"find": "dog sat", "replace": "hound sat"}}]}
    ]"#;
    let (page, report) = rewrite(rules, PAGE);
    assert_eq!(
        page, "<!-- build 7 --><body><p class=ad>Buy a dog</p><p>The hound sat. A dog.</p></body>",
        "the shadow rule saw the dogs and left them for the next rule"
    );
    assert_eq!(report.hits, [("cat-to-dog".to_owned(), 3), ("dog-to-hound".to_owned(), 1)]);
    assert_eq!(report.shadow_hits, [("try-wolf".to_owned(), 3)]);
}

#[test]
fn plans_and_rule_sets_tell_shadow_rules_apart() {
    let rules = r#"[{"id": "live", "selector": "p", "actions": ["remove"]},
                    {"id": "trial", "mode": "shadow", "selector": "p", "actions": ["remove"]}]"#;
    let (set, errors) = RuleSet::from_entries(&[("e".to_owned(), rules.to_owned())]);
    assert!(errors.is_empty());
    assert_eq!(set.shadow_ids().collect::<Vec<_>>(), ["trial"]);
    let plan = set.plan(&RequestContext::default());
    assert_eq!(plan.rule_ids().collect::<Vec<_>>(), ["live"]);
    assert_eq!(plan.shadow_ids().collect::<Vec<_>>(), ["trial"]);
    let (_, bad) = RuleSet::from_entries(&[("e".to_owned(), r#"{"id":"x","mode":"dry","actions":[]}"#.to_owned())]);
    assert!(bad[0].to_string().contains("`dry` is not one of: live, shadow"), "{}", bad[0]);
}

#[test]
fn text_a_shadow_rule_held_is_not_sent_twice_when_rewriting_stops() {
    // Both rules hold the text node until it ends; the huge attribute after it makes lol_html
    // bail out for memory first. Only the live rule's held text goes back into the page.
    // The shadow rule comes first: a later stage only sees what the earlier ones let go of.
    let rules = r#"[{"id": "trial", "mode": "shadow", "actions": [{"replace_text": {"regex": "qq+", "replace": "y"}}]},
                    {"id": "live", "actions": [{"replace_text": {"regex": "zz+", "replace": "y"}}]}]"#;
    let (set, errors) = RuleSet::from_entries(&[("e".to_owned(), rules.to_owned())]);
    assert!(errors.is_empty());
    let page = format!("<p>keep me tail<b title=\"{}\">", "x".repeat(100_000));
    let options = RewriteOptions { max_memory: 32 << 10, read_buffer: 7, ..RewriteOptions::default() };
    let streamed = stream(&set.plan(&RequestContext::default()), &options, page.as_bytes(), Vec::new());
    streamed.result.unwrap();
    assert!(streamed.report.bail_out.is_some());
    let out = String::from_utf8(streamed.sink).unwrap();
    assert!(out == page, "every byte once, none twice: {:?}", &out[..out.len().min(60)]);
}
