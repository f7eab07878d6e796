//! Rule sets built from many small, expensive parts: heavy regexes and globs, long selector
//! chains and lists, nested conditions, many text rules, spread over entries. Whatever the
//! mix, compiling never holds much more heap than the budgets allow (a counting allocator
//! measures it), every refusal past a budget names the rule, a field and the figure, and
//! what is admitted stays within every set budget and rewrites a page.

#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use arbitrary::Arbitrary;
use edge_rewriter::{RequestContext, RewriteOptions, RuleSet, stream};
use libfuzzer_sys::fuzz_target;

struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

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

/// Regexes that are cheap to write and dear to compile or run.
const HEAVY_REGEXES: [&str; 8] =
    [r"\w{20}", r"\p{L}{12}", r"(a|b|c|d|e)*x{3,30}", r"[\s\S]{50}", r"\d{4}\w{6}", r"(?i)[a-z]{9}\b", r".{64}", r"\W+\w+\W+"];

#[derive(Debug, Arbitrary)]
enum Part {
    /// A path regex, `copies` times in one rule.
    PathRegexes { which: u8, copies: u8 },
    /// A glob with many stars.
    Glob { stars: u8 },
    /// A selector chaining `depth` compound selectors.
    DeepSelector { depth: u16 },
    /// A selector list of `items` items.
    SelectorList { items: u16 },
    /// A `not` nested `levels` deep.
    Nested { levels: u8 },
    /// A regex text rule.
    TextRegex { which: u8 },
    /// A literal text rule.
    TextLiteral { len: u8 },
}

impl Part {
    fn rule(&self, id: usize) -> String {
        let regex = |which: &u8| serde_json::to_string(HEAVY_REGEXES[*which as usize % HEAVY_REGEXES.len()]).unwrap();
        match self {
            Part::PathRegexes { which, copies } => {
                let paths = vec![format!(r#"{{"regex":{}}}"#, regex(which)); (*copies as usize % 40) + 1].join(",");
                format!(r#"{{"id":"r{id}","selector":"p","when":{{"path":[{paths}]}},"actions":["remove"]}}"#)
            }
            Part::Glob { stars } => {
                let glob = "*a".repeat(*stars as usize % 60 + 1);
                format!(r#"{{"id":"r{id}","selector":"p","when":{{"host":{{"glob":"{glob}"}}}},"actions":["remove"]}}"#)
            }
            Part::DeepSelector { depth } => {
                let selector = vec!["div"; *depth as usize % 1_500 + 1].join(" ");
                format!(r#"{{"id":"r{id}","selector":"{selector}","actions":["remove"]}}"#)
            }
            Part::SelectorList { items } => {
                let selector = vec!["b"; *items as usize % 800 + 1].join(",");
                format!(r#"{{"id":"r{id}","selector":"{selector}","actions":["unwrap"]}}"#)
            }
            Part::Nested { levels } => {
                let mut when = r#"{"path":{"prefix":"/"}}"#.to_owned();
                for _ in 0..(*levels as usize % 120) {
                    when = format!(r#"{{"not":{when}}}"#);
                }
                format!(r#"{{"id":"r{id}","selector":"p","when":{when},"actions":["remove"]}}"#)
            }
            Part::TextRegex { which } => {
                format!(r#"{{"id":"r{id}","actions":[{{"replace_text":{{"regex":{},"replace":"x"}}}}]}}"#, regex(which))
            }
            Part::TextLiteral { len } => {
                let find = "c".repeat(*len as usize % 200 + 1);
                format!(r#"{{"id":"r{id}","actions":[{{"replace_text":{{"find":"{find}","replace":"x"}}}}]}}"#)
            }
        }
    }
}

const PAGE: &[u8] = b"<!doctype html><html><body><div><div><p>a cat ccc <b>b</b></p></div></div></body></html>";

fuzz_target!(|parts: Vec<(Part, u8)>| {
    // Each part `repeat` times, packed into entries as a store would hold them.
    let rules: Vec<String> = parts
        .iter()
        .flat_map(|(part, repeat)| std::iter::repeat_n(part, *repeat as usize % 64 + 1))
        .take(1_500)
        .enumerate()
        .map(|(id, part)| part.rule(id))
        .collect();
    let entries: Vec<(String, String)> =
        rules.chunks(50).enumerate().map(|(i, chunk)| (format!("e{i}"), format!("[{}]", chunk.join(",")))).collect();

    let base = HELD.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let (set, errors) = RuleSet::from_entries(&entries);
    let peak = PEAK.load(Ordering::Relaxed) - base;
    // The regex budget is 24 MiB for the set; with what the rules themselves hold and one
    // regex being compiled past it, far below the 128 MiB wasm heap.
    assert!(peak < 64 << 20, "compiling held {} MiB", peak >> 20);
    assert!(set.len() <= 1_000);
    for error in &errors {
        if error.reason.contains("budget") {
            let rule = error.rule.as_deref().unwrap_or_default();
            assert!(rule.starts_with('r') && error.field.is_some(), "{error}");
            assert!(error.reason.contains("may have") || error.reason.contains("may nest") || error.reason.contains("may chain"), "{error}");
        }
    }
    let context = RequestContext::for_url("GET", "https://aaaa.example/abcdefghijklmnopqrstuvwxyz").unwrap();
    let streamed = stream(&set.plan(&context), &RewriteOptions::default(), PAGE, Vec::new());
    streamed.result.expect("a page in memory into a Vec always completes");
});
