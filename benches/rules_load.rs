//! What rules cost per request: reading the store, parsing and compiling 20 rules, planning
//! them for a request, the edge cache's key, and setting up the rewriter. Prints medians; asserts nothing.
//!
//!     cargo bench --bench rules_load                            # native
//!     cargo bench --bench rules_load --target wasm32-wasip1     # wasm, inside Viceroy

use std::hint::black_box;
use std::time::{Duration, Instant};

use edge_rewriter::{
    PageKey, Prospect, RequestContext, RewriteOptions, Rewriter, RuleSet,
    store::{MemoryStore, RuleCache, read_entries},
};

/// 20 rules of the kinds editors write, two per store entry.
fn twenty_rules() -> Vec<(String, String)> {
    let rules = [
        r#"{"id":"banner","selector":"body","actions":[{"prepend":{"html":"<div class=\"banner\">Winter sale on {{host}}</div>"}}]}"#,
        r#"{"id":"analytics","selector":"head","actions":[{"append":{"html":"<script async src=\"https://analytics.example.com/t.js\"></script>"}}]}"#,
        r#"{"id":"https","selector":"a[href^=\"http:\"]","actions":[{"rewrite_attribute":{"name":"href","pattern":"^http://","replacement":"https://"}}]}"#,
        r#"{"id":"cdn","selector":"img[src*=\"cdn-old\"]","actions":[{"rewrite_attribute":{"name":"src","pattern":"^https?://cdn-old\\.example\\.net/(?P<p>.*)$","replacement":"https://cdn.example.com/${p}"}}]}"#,
        r#"{"id":"ads","selector":".ad-slot, .sponsored","actions":["remove"]}"#,
        r#"{"id":"comments","actions":["remove_comments"]}"#,
        r#"{"id":"news","selector":"article h1","when":{"path":{"prefix":"/news/"}},"actions":[{"append":{"text":" (news)"}}]}"#,
        r#"{"id":"products","selector":".product h2","when":{"path":{"regex":"^/p/[0-9]+$"}},"actions":[{"append":{"html":" <span>New</span>"}}]}"#,
        r#"{"id":"beta","selector":"nav","when":{"header":{"name":"x-beta","equals":"1"}},"actions":[{"set_attribute":{"name":"data-beta","value":"1"}}]}"#,
        r##"{"id":"consent","selector":"#consent","when":{"cookie":{"name":"consent","present":true}},"actions":["remove"]}"##,
        r#"{"id":"campaign","selector":"main","when":{"query":{"name":"utm_source","glob":"news*"}},"actions":[{"prepend":{"html":"<p>From {{query.utm_source}}</p>"}}]}"#,
        r#"{"id":"black-friday","selector":"body","when":{"time":{"start":"2026-11-27T00:00:00Z","end":"2026-11-30T00:00:00Z"}},"actions":[{"prepend":{"html":"<div>BF</div>"}}]}"#,
        r#"{"id":"rollout","selector":"header","when":{"rollout":{"percent":25,"sticky_by":{"cookie":"vid"}}},"actions":[{"set_attribute":{"name":"class","value":"v2"}}]}"#,
        r#"{"id":"rel","selector":"a[target=\"_blank\"]","actions":[{"set_attribute":{"name":"rel","value":"noopener"}}]}"#,
        r#"{"id":"onclick","selector":"a[onclick]","actions":[{"remove_attribute":"onclick"}]}"#,
        r#"{"id":"font","selector":"font","actions":["unwrap"]}"#,
        r#"{"id":"section","selector":"div.section","actions":[{"rename_tag":"section"}]}"#,
        r##"{"id":"newsletter","selector":"#newsletter","actions":[{"replace":{"html":"<aside><a href=\"/subscribe\">Digest</a></aside>"}}]}"##,
        r#"{"id":"footer","selector":"footer p:first-child","when":{"not":{"host":{"glob":"staging.*"}}},"actions":[{"append":{"text":" Served at the edge, {{date}}."}}]}"#,
        r#"{"id":"served-by","actions":[{"append_to_document":{"html":"<!-- edge-rewriter -->"}}]}"#,
    ];
    rules
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| (format!("{:02}-pair", i * 10), format!("[{}]", pair.join(","))))
        .collect()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn measure(name: &str, iterations: usize, mut work: impl FnMut()) {
    for _ in 0..iterations / 10 {
        work();
    }
    let samples = (0..iterations)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed()
        })
        .collect();
    println!("  {name:<62} {:>9.1} µs", median(samples).as_secs_f64() * 1e6);
}

fn main() {
    let entries = twenty_rules();
    let store = MemoryStore::from_entries(&entries).expect("fits a store");
    let (rules, errors) = RuleSet::from_entries(&entries);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(rules.len(), 20);
    let chars: usize = entries.iter().map(|(_, text)| text.len()).sum();
    let mut context =
        RequestContext::for_url("GET", "https://www.example.com/news/2026/cats?utm_source=newsletter").unwrap();
    context.add_header("Cookie", "vid=abc; consent=1");
    context.add_header("X-Beta", "1");

    println!(
        "rules_load ({}): 20 rules in {} store entries, {chars} characters; medians",
        std::env::consts::ARCH,
        entries.len()
    );
    let n = 500;
    measure("read index + entries (in-memory store)", n, || {
        black_box(read_entries(&mut store.clone()).unwrap());
    });
    measure("parse + compile 20 rules", n, || {
        black_box(RuleSet::from_entries(black_box(&entries)));
    });
    measure("plan for a request (conditions, templates)", n, || {
        black_box(rules.plan(black_box(&context)));
    });
    measure("edge-cache key before the response (Prospect + PageKey)", n, || {
        black_box(PageKey::of(&Prospect::of(&rules, black_box(&context)), "live"));
    });
    let plan = rules.plan(&context);
    measure("rewriter setup + teardown (lol_html settings)", n, || {
        let mut rewriter = Rewriter::new(&plan, &RewriteOptions::default(), Vec::new());
        rewriter.finish().unwrap();
        black_box(rewriter.into_parts());
    });
    measure("per request, no reuse: read + compile + plan + setup", n, || {
        let read = read_entries(&mut store.clone()).unwrap();
        let (rules, _) = RuleSet::from_entries(&read.entries);
        let plan = rules.plan(&context);
        let mut rewriter = Rewriter::new(&plan, &RewriteOptions::default(), Vec::new());
        rewriter.finish().unwrap();
        black_box(rewriter.into_parts());
    });
    let mut cache = RuleCache::default();
    measure("per request, reused instance: read + cache hit + plan + setup", n, || {
        let read = read_entries(&mut store.clone()).unwrap();
        let lookup = cache.get(&read);
        let plan = lookup.rules().plan(&context);
        let mut rewriter = Rewriter::new(&plan, &RewriteOptions::default(), Vec::new());
        rewriter.finish().unwrap();
        black_box(rewriter.into_parts());
    });
}
