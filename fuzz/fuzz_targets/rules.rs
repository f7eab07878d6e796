//! Rule parsing and validation with arbitrary store contents: the index, two entries and a
//! simulated request, separated by NUL bytes in the input. Whatever the bytes, nothing
//! panics, every refusal names an entry that exists, accepted rules have distinct ids, and
//! the accepted rules build and run on a small page.

#![no_main]

use std::collections::BTreeMap;

use edge_rewriter::store::{INDEX_KEY, MemoryStore, read_entries};
use edge_rewriter::{RequestContext, RewriteOptions, RuleSet, stream};
use libfuzzer_sys::fuzz_target;

const PAGE: &[u8] = b"<!doctype html><html><head><title>t</title></head><body class=a><p id=x>cat <a href=\"http://e/\">l</a></p><!-- c --></body></html>";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let index = parts.next().unwrap_or_default();
    let first = parts.next().unwrap_or_default();
    let second = parts.next().unwrap_or_default();
    let request = parts.next();

    // Through the store, as the service reads it: an index naming entries.
    let values = BTreeMap::from([
        (INDEX_KEY.to_owned(), index.to_owned()),
        ("a".to_owned(), first.to_owned()),
        ("b".to_owned(), second.to_owned()),
    ]);
    let Ok(read) = read_entries(&mut MemoryStore::new(values)) else {
        // The index itself is unusable: the service falls back to its built-in rules.
        // Check the entries directly instead.
        check(&[("a".to_owned(), first.to_owned()), ("b".to_owned(), second.to_owned())], request);
        return;
    };
    check(&read.entries, request);
});

fn check(entries: &[(String, String)], request: Option<&str>) {
    let (rules, errors) = RuleSet::from_entries(entries);
    for error in &errors {
        assert!(entries.iter().any(|(name, _)| *name == error.entry), "{error} names no entry");
        assert!(!error.reason.is_empty(), "{error} gives no reason");
    }
    let mut ids: Vec<&str> = rules.rules_by_entry().map(|(id, _)| id).collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "two accepted rules share an id");

    let context = request
        .and_then(|text| RequestContext::parse_simulated(text).ok())
        .unwrap_or_else(|| RequestContext::for_url("GET", "https://example.com/a?b=c").unwrap());
    let plan = rules.plan(&context);
    for (id, _) in rules.rules_by_entry() {
        let _ = rules.why_not(id, &context);
    }
    let streamed = stream(&plan, &RewriteOptions::default(), PAGE, Vec::new());
    streamed.result.expect("a page in memory into a Vec always completes");
}
