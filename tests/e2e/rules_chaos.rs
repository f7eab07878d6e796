//! Rule stores at and past their limits, through the service under Viceroy: each has a
//! defined behaviour and a clear log line, and the page is always served.

#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeMap;
use std::time::Duration;

use devstack::{Stack, store_json};
use edge_rewriter::store::{INDEX_KEY, MAX_ENTRIES, MAX_VALUE_CHARS, MemoryStore};

/// A rule appending `marker` to every paragraph.
fn marker_rule(id: &str, marker: &str) -> String {
    format!(r#"{{"id":"{id}","selector":"p","actions":[{{"append":{{"html":"<i>{marker}</i>"}}}}]}}"#)
}

fn article(stack: &Stack) -> String {
    let response = stack.get("/news/article.html").send().unwrap();
    assert_eq!(response.status, 200);
    assert!(response.complete, "{:?}", response.failure);
    response.text()
}

#[test]
fn a_store_of_500_entries_reads_only_what_the_index_lists() {
    let mut values: BTreeMap<String, String> =
        (0..500).map(|i| (format!("e{i:03}"), marker_rule(&format!("r{i:03}"), &format!("m{i:03}")))).collect();
    values.insert(INDEX_KEY.into(), r#"["e007", "e123", "e499"]"#.into());
    let stack = Stack::with_store_json(&MemoryStore::new(values).to_json()).unwrap();
    let page = article(&stack);
    assert!(page.contains("<i>m007</i><i>m123</i><i>m499</i></p>"), "{page}");
    assert!(!page.contains("m000"), "unlisted entries are not read");
    let logs = stack.service.wait_for_lines("\"event\":\"rewrite\"", 1, Duration::from_secs(5));
    assert!(logs[0].contains("\"rule_errors\":0"), "{logs:?}");
}

#[test]
fn an_index_over_the_lookup_budget_uses_its_first_entries_and_says_which_it_skipped() {
    let entries: Vec<(String, String)> =
        (0..500).map(|i| (format!("e{i:03}"), marker_rule(&format!("r{i:03}"), &format!("m{i:03}")))).collect();
    let pairs: Vec<(&str, &str)> = entries.iter().map(|(name, text)| (name.as_str(), text.as_str())).collect();
    let stack = Stack::with_store_json(&store_json(&pairs)).unwrap();
    let page = article(&stack);
    let last_read = format!("m{:03}", MAX_ENTRIES - 1);
    assert!(page.contains("<i>m000</i>") && page.contains(&last_read), "the first {MAX_ENTRIES} apply");
    assert!(!page.contains(&format!("m{MAX_ENTRIES:03}")), "the rest do not");
    // One line, however many were skipped.
    let skipped = stack.service.wait_for_lines("rule skipped", 1, Duration::from_secs(5));
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].contains("skipped 487 entries (e013, e014"), "{}", skipped[0]);
    assert!(skipped[0].contains("put several rules in one entry"), "{}", skipped[0]);
}

#[test]
fn an_entry_of_exactly_8000_characters_is_used() {
    let short = marker_rule("long", "");
    let padding = "x".repeat(MAX_VALUE_CHARS - short.len());
    let entry = marker_rule("long", &padding);
    assert_eq!(entry.chars().count(), MAX_VALUE_CHARS);
    let stack = Stack::with_store_json(&store_json(&[("10-long", &entry)])).unwrap();
    assert!(article(&stack).contains(&format!("<i>{padding}</i></p>")));
    // One character more is refused before it reaches a store (Fastly would refuse it too).
    let over = marker_rule("long", &format!("{padding}x"));
    let err = MemoryStore::from_entries(&[("10-long".into(), over)]).unwrap_err().to_string();
    assert!(err.contains("\"10-long\"") && err.contains("8000"), "{err}");
}

#[test]
fn a_duplicate_rule_id_keeps_the_first_and_names_the_second() {
    let first = marker_rule("banner", "first");
    let second = marker_rule("banner", "second");
    let stack = Stack::with_store_json(&store_json(&[("10-a", &first), ("20-b", &second)])).unwrap();
    let page = article(&stack);
    assert!(page.contains("<i>first</i>") && !page.contains("second"), "{page}");
    let logs = stack.service.wait_for_lines("rule skipped", 1, Duration::from_secs(5));
    assert!(logs[0].contains("entry \"20-b\", rule \"banner\""), "{logs:?}");
}

#[test]
fn a_thousand_rules_on_one_selector_all_apply_in_order() {
    // 100 rules per entry keeps each entry under 8,000 characters.
    let entries: Vec<(String, String)> = (0..10)
        .map(|e| {
            let rules: Vec<String> = (0..100)
                .map(|r| {
                    let n = e * 100 + r;
                    format!(r#"{{"id":"r{n}","selector":"h1","actions":[{{"append":{{"text":"{n},"}}}}]}}"#)
                })
                .collect();
            (format!("{e}-rules"), format!("[{}]", rules.join(",")))
        })
        .collect();
    let pairs: Vec<(&str, &str)> = entries.iter().map(|(name, text)| (name.as_str(), text.as_str())).collect();
    let stack = Stack::with_store_json(&store_json(&pairs)).unwrap();
    let page = article(&stack);
    let all: String = (0..1000).map(|n| format!("{n},")).collect();
    assert!(page.contains(&format!("{all}</h1>")), "all 1000, in order: {page}");
    let logs = stack.service.wait_for_lines("\"event\":\"rewrite\"", 1, Duration::from_secs(5));
    assert!(logs[0].contains("\"r999\":1"), "each rule's hits are logged");
    println!("1000 rules: {}", logs[0].split("\"ms\":").nth(1).unwrap_or_default());
}
