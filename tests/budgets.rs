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
    // compiles to about a megabyte; together they would hold more than the wasm heap.
    let rules: Vec<String> = (0..160)
        .map(|i| format!(r#"{{"id":"r{i}","selector":"body","when":{{"path":{{"regex":"\\w{{20}}"}}}},"actions":[{{"append":{{"text":"{i};"}}}}]}}"#))
        .collect();
    let ((set, errors), peak) = peak_mib(|| compile(&[("10-paths", format!("[{}]", rules.join(",")))]));
    let admitted = set.len();
    assert!(admitted > 0 && admitted < 160, "{admitted} admitted");
    assert_eq!(errors.len(), 160 - admitted);
    let first = &errors[0];
    assert_eq!(
        (first.rule.as_deref(), first.field.as_deref()),
        (Some(format!("r{admitted}").as_str()), Some("when.path"))
    );
    assert!(
        first.reason.contains("regex memory budget") && first.reason.contains("the set may have 24 MiB"),
        "{first}"
    );
    println!("{admitted} of 160 admitted; compiling peaked at {peak:.1} MiB");
    assert!(peak < 40.0, "compiling the set held {peak:.1} MiB");
    // The rules that fit still apply.
    let context = RequestContext::for_url("GET", "/abcdefghijklmnopqrstuvwxyz").unwrap();
    let streamed =
        stream(&set.plan(&context), &RewriteOptions::default(), &b"<html><body>x</body></html>"[..], Vec::new());
    let page = streamed.sink;
    let expected: String = (0..admitted).map(|i| format!("{i};")).collect();
    assert!(String::from_utf8(page).unwrap().contains(&format!("x{expected}</body>")));
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
    assert!(errors[0].reason.contains("a rule may have 4 MiB"), "{}", errors[0]);
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

    // 20 rules of 250 parts each: the set's 4,096 are spent by the 17th.
    let rules: Vec<String> = (0..20)
        .map(|r| {
            let list: Vec<&str> = vec!["b"; 250];
            format!(r#"{{"id":"s{r}","selector":"{}","actions":["remove"]}}"#, list.join(","))
        })
        .collect();
    let entries: Vec<(&str, String)> = rules.iter().map(|rule| ("10-parts", rule.clone())).collect();
    let (set, errors) = compile(&entries);
    assert_eq!(set.len(), 16);
    assert!(
        errors[0].reason.contains("rule set's selector parts budget") && errors[0].reason.contains("4,250"),
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
    assert_eq!(set.len(), 32, "2 MiB of held text at 64 KiB a regex rule");
    assert!(errors[0].reason.contains("held text budget") && errors[0].reason.contains("2 MiB"), "{}", errors[0]);
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
    let rules: Vec<String> = (0..100)
        .map(|i| format!(r#"{{"id":"w{i}","actions":[{{"replace_text":{{"find":"word{i}","replace":"x"}}}}]}}"#))
        .collect();
    let (set, errors) = compile(&[("10-words", format!("[{}]", rules.join(",")))]);
    assert_eq!(set.len(), 64);
    assert!(errors[0].reason.contains("text rules budget") && errors[0].reason.contains("cat|kitten"), "{}", errors[0]);
}

#[test]
fn a_set_holds_at_most_a_thousand_rules() {
    let rules: Vec<String> =
        (0..1_001).map(|i| format!(r#"{{"id":"n{i}","selector":"p","actions":["remove"]}}"#)).collect();
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
