//! Rule sets that parse but cost too much: each costly dimension has a budget, a rule past
//! it is refused with a message naming the budget and the figure, the rules before it still
//! apply, and memory stays bounded while the set is compiled and used.
//!
//! A counting allocator measures the heap this test binary's code holds at its peak, so
//! "bounded" is a figure, not a hope.

#![cfg(not(target_arch = "wasm32"))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use edge_rewriter::{RequestContext, RewriteOptions, RuleError, RuleSet, stream};

struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Tests run in parallel threads; peaks are only meaningful one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let held = HELD.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(held, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `work` and returns its result and the most heap (MiB) held above the start meanwhile.
fn peak_mib<T>(work: impl FnOnce() -> T) -> (T, f64) {
    let base = HELD.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let result = work();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    (result, peak as f64 / f64::from(1 << 20))
}

fn compile(entries: &[(&str, String)]) -> (RuleSet, Vec<RuleError>) {
    let entries: Vec<(String, String)> = entries.iter().map(|(name, text)| (name.to_string(), text.clone())).collect();
    RuleSet::from_entries(&entries)
}

fn rewrite(rules: &RuleSet, page: &[u8]) -> Vec<u8> {
    let streamed = stream(&rules.plan(&RequestContext::default()), &RewriteOptions::default(), page, Vec::new());
    streamed.result.unwrap();
    streamed.sink
}

/// A sink that keeps only the last bytes written, so a peak measures the rewriter alone.
#[derive(Default)]
struct Tail(Vec<u8>);

impl std::io::Write for Tail {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        let excess = self.0.len().saturating_sub(64);
        self.0.drain(..excess);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn regex_memory_is_a_budget_for_the_set_not_only_each_regex() {
    let _one = ONE_AT_A_TIME.lock().unwrap();
    // The reported attack: one 3 KB entry, 160 copies of a Unicode-heavy path regex. Each
    // compiles to about a megabyte; together they would hold more than the wasm heap. The
    // compile CPU budget stops them first now: about 15 ms each in the guest, where a set
    // may take 8 ms for its regexes. The first is compiled to find that out; the others
    // are refused before they are.
    let mut rules: Vec<String> = (0..160)
        .map(|i| format!(r#"{{"id":"r{i}","selector":"body","when":{{"path":{{"regex":"\\w{{20}}"}}}},"actions":[{{"append":{{"text":"{i};"}}}}]}}"#))
        .collect();
    rules.push(r#"{"id":"cheap","selector":"body","actions":[{"append":{"text":"cheap"}}]}"#.to_owned());
    let ((set, errors), peak) = peak_mib(|| compile(&[("10-paths", format!("[{}]", rules.join(",")))]));
    assert_eq!(set.rule_ids().collect::<Vec<_>>(), ["cheap"], "the cheap rule after them still fits");
    assert_eq!(errors.len(), 160);
    let first = &errors[0];
    assert_eq!((first.rule.as_deref(), first.field.as_deref()), (Some("r0"), Some("when.path")));
    assert!(first.reason.contains("compile CPU budget") && first.reason.contains("this regex"), "{first}");
    assert!(errors[1].reason.contains("already take"), "refused before it is compiled: {}", errors[1]);
    println!("compiling the set peaked at {peak:.1} MiB");
    assert!(peak < 40.0, "compiling the set held {peak:.1} MiB");
    // The rules that fit still apply.
    let context = RequestContext::for_url("GET", "/abcdefghijklmnopqrstuvwxyz").unwrap();
    let streamed =
        stream(&set.plan(&context), &RewriteOptions::default(), &b"<html><body>x</body></html>"[..], Vec::new());
    assert!(String::from_utf8(streamed.sink).unwrap().contains("xcheap</body>"));
}

#[test]
fn one_rule_cannot_spend_the_whole_regex_budget() {
    let paths: Vec<String> = (0..5).map(|i| format!(r#"{{"regex":"\\w{{20}}{i}"}}"#)).collect();
    let rule =
        format!(r#"{{"id":"greedy","selector":"body","when":{{"path":[{}]}},"actions":["remove"]}}"#, paths.join(","));
    let (set, errors) = compile(&[("10-greedy", rule)]);
    assert!(set.is_empty());
    assert!(
        errors[0].field.as_deref().is_some_and(|field| field.starts_with("when.path[")),
        "the regex that goes past: {}",
        errors[0]
    );
    // One such regex is past the compile CPU budget (the memory budget, 4 MiB a rule, would
    // stop the fifth).
    assert!(errors[0].reason.contains("compile CPU budget"), "{}", errors[0]);
}

#[test]
fn a_deep_selector_costs_its_rule_and_the_page_is_served() {
    let deep = "div ".repeat(1_200);
    let entry = format!(
        r#"[{{"id":"before","selector":"p","actions":[{{"append":{{"text":"!"}}}}]}},
            {{"id":"deep","selector":"{deep}","actions":["remove"]}},
            {{"id":"after","selector":"p","actions":[{{"prepend":{{"text":"?"}}}}]}}]"#
    );
    let (set, errors) = compile(&[("10-deep", entry)]);
    assert_eq!(set.rule_ids().collect::<Vec<_>>(), ["before", "after"]);
    assert_eq!((errors[0].rule.as_deref(), errors[0].field.as_deref()), (Some("deep"), Some("selector")));
    assert!(errors[0].reason.contains("selector depth budget") && errors[0].reason.contains("1200"), "{}", errors[0]);
    assert_eq!(rewrite(&set, b"<p>x</p>"), b"<p>?x!</p>");
}

#[test]
fn selector_parts_are_a_budget_per_rule_and_for_the_set() {
    // Short parts: the 1,024-character length budget would stop long ones first.
    let list: Vec<&str> = vec!["p"; 300];
    let (_, errors) =
        compile(&[("10-list", format!(r#"{{"id":"list","selector":"{}","actions":["remove"]}}"#, list.join(",")))]);
    assert!(errors[0].reason.contains("selector parts budget") && errors[0].reason.contains("300"), "{}", errors[0]);

    // 30 rules with the same list of 150 ids: the set's 4,096 parts are spent by the 28th.
    // (A repeated selector is matched once, so the page CPU budget lets them through.)
    let ids: Vec<String> = (0..150).map(|i| format!("#x{i}")).collect();
    let rules: Vec<String> =
        (0..30).map(|r| format!(r#"{{"id":"s{r}","selector":"{}","actions":["remove"]}}"#, ids.join(","))).collect();
    let entries: Vec<(&str, String)> = rules.iter().map(|rule| ("10-parts", rule.clone())).collect();
    let (set, errors) = compile(&entries);
    assert_eq!(set.len(), 27);
    assert!(
        errors[0].reason.contains("rule set's selector parts budget") && errors[0].reason.contains("4,200"),
        "{}",
        errors[0]
    );
}

#[test]
fn regex_text_rules_share_one_held_text_budget() {
    let _one = ONE_AT_A_TIME.lock().unwrap();
    // The reported attack: 1,400 regex text rules, each allowed to keep back 64 KiB of a
    // text node; a 10 MB text node then needs 90 MB.
    let rules: Vec<String> = (0..1_400)
        .map(|i| format!(r#"{{"id":"t{i}","actions":[{{"replace_text":{{"regex":"n{i}x","replace":"y"}}}}]}}"#))
        .collect();
    let entries: Vec<(&str, String)> =
        rules.chunks(100).map(|chunk| ("10-text", format!("[{}]", chunk.join(",")))).collect();
    let (set, errors) = compile(&entries);
    // The page CPU budget admits far fewer than the 32 that 2 MiB of held text at 64 KiB a
    // regex rule would: each scans every byte of text.
    assert!(set.len() > 4 && set.len() < 32, "{} admitted", set.len());
    assert!(errors[0].reason.contains("page CPU budget"), "{}", errors[0]);
    assert!(errors.iter().skip(1).all(|err| err.reason.contains("budget")), "each refusal names its budget");
    let page = format!("<html><body><p>{}n3x</p></body></html>", "a".repeat(10_000_000));
    let plan = set.plan(&RequestContext::default());
    let (tail, peak) = peak_mib(|| {
        let streamed = stream(&plan, &RewriteOptions::default(), page.as_bytes(), Tail::default());
        streamed.result.unwrap();
        streamed.sink.0
    });
    println!("10 MB text node through 32 regex text rules: peak {peak:.1} MiB besides the page");
    assert!(String::from_utf8(tail).unwrap().ends_with("y</p></body></html>"));
    assert!(peak < 24.0, "rewriting held {peak:.1} MiB");
}

#[test]
fn literal_text_rules_are_counted_too() {
    // Each scans every byte of text: the page CPU budget stops them before the count does.
    let rules: Vec<String> = (0..100)
        .map(|i| format!(r#"{{"id":"w{i}","actions":[{{"replace_text":{{"find":"word{i}","replace":"x"}}}}]}}"#))
        .collect();
    let (set, errors) = compile(&[("10-words", format!("[{}]", rules.join(",")))]);
    assert!(set.len() > 4 && set.len() < 64, "{} admitted", set.len());
    let first = &errors[0];
    assert_eq!(first.rule.as_deref(), Some(format!("w{}", set.len()).as_str()));
    assert_eq!(first.field.as_deref(), Some("actions[0].replace_text"));
    assert!(first.reason.contains("page CPU budget") && first.reason.contains("on a 256 KB page"), "{first}");
}

#[test]
fn a_set_holds_at_most_a_thousand_rules() {
    let rules: Vec<String> =
        (0..1_001).map(|i| format!(r##"{{"id":"n{i}","selector":"#promo","actions":["remove"]}}"##)).collect();
    let entries: Vec<(&str, String)> =
        rules.chunks(200).map(|chunk| ("10-many", format!("[{}]", chunk.join(",")))).collect();
    let (set, errors) = compile(&entries);
    assert_eq!(set.len(), 1_000);
    assert_eq!((errors[0].rule.as_deref(), errors[0].field.as_deref()), (Some("n1000"), Some("id")));
    assert!(errors[0].reason.contains("rules budget"), "{}", errors[0]);
}

#[test]
fn deeply_nested_conditions_are_refused_before_they_are_read() {
    let mut when = r#"{"path":{"prefix":"/"}}"#.to_owned();
    for _ in 0..40 {
        when = format!(r#"{{"not":{when}}}"#);
    }
    let entry = format!(
        r#"[{{"id":"deep","selector":"p","when":{when},"actions":["remove"]}}, {{"id":"ok","selector":"p","actions":["remove"]}}]"#
    );
    let (set, errors) = compile(&[("10-nested", entry)]);
    assert_eq!(set.rule_ids().collect::<Vec<_>>(), ["ok"]);
    assert_eq!((errors[0].rule.as_deref(), errors[0].field.as_deref()), (Some("deep"), Some("when")));
    assert!(errors[0].reason.contains("JSON depth budget") && errors[0].reason.contains("43 levels"), "{}", errors[0]);
}

#[test]
fn ids_are_names_not_payloads() {
    for (id, why) in [
        ("a\u{7}b", "control character (U+0007)"),
        ("two words", "a space"),
        ("<b>", "character '<'"),
        ("-x", "start with a letter"),
    ] {
        let entry = format!(r#"{{"id":{},"selector":"p","actions":["remove"]}}"#, serde_json::to_string(id).unwrap());
        let (set, errors) = compile(&[("10-id", entry)]);
        assert!(set.is_empty(), "{id:?}");
        assert_eq!((errors[0].rule.as_deref(), errors[0].field.as_deref()), (Some("#1"), Some("id")), "{id:?}");
        assert!(errors[0].reason.contains(why), "{id:?}: {}", errors[0]);
    }
    let long = "x".repeat(65);
    let (_, errors) = compile(&[("10-id", format!(r#"{{"id":"{long}","selector":"p","actions":["remove"]}}"#))]);
    assert!(errors[0].reason.contains("at most 64"), "{}", errors[0]);
}
