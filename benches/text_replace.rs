//! `replace_text` speed, with divan: the engine's cross-chunk replace against the naive
//! per-fragment replace (a lol_html text handler calling `str::replace`, which misses
//! matches split between fragments), on the corpus pages. First prints the matches the
//! naive replace missed (asserting only that the engine's output is right: the same
//! whatever the chunking), then, per rule, page and chunk size, three rows side by side in
//! MB/s: (1) naive, (2) naive+ta (the naive replace also telling textareas from titles, as
//! the engine does) and (3) the engine. The ratios are the medians of (3) over (1) and (2).
//!
//!     cargo bench --bench text_replace                          everything
//!     cargo bench --bench text_replace -- --sample-count 15     fewer runs
//!     cargo bench --bench text_replace -- engine                the engine's rows alone

use std::cell::Cell;
use std::hint::black_box;
use std::sync::LazyLock;

use divan::Bencher;
use divan::counter::BytesCount;
use edge_rewriter::{RequestContext, RewriteOptions, RuleSet, stream};
use lol_html::html_content::{ContentType, TextChunk, TextType};
use lol_html::{DocumentContentHandlers, HtmlRewriter, Settings};

/// The corpus pages, smallest first (a bench without them has nothing to measure).
fn pages() -> Vec<(String, Vec<u8>)> {
    let pages = devstack::project::corpus_pages();
    assert!(!pages.is_empty(), "no corpus pages to measure (set EDGE_REWRITER_CORPUS)");
    pages
}

/// Feeds `page` in `chunk`-byte pieces to lol_html with a per-fragment `str::replace` of
/// ordinary text and titles (like the engine's default, never scripts or styles). With
/// `skip_textareas`, it also leaves textareas alone, as the engine does: lol_html reports
/// titles and textareas alike, so telling them apart takes an element handler.
fn naive(page: &[u8], chunk: usize, find: &str, replace: &str, skip_textareas: bool, out: &mut Vec<u8>) {
    out.clear();
    let in_textarea = Cell::new(false);
    let handler = |text: &mut TextChunk| {
        let ordinary = match text.text_type() {
            TextType::Data => true,
            TextType::RCData => !in_textarea.get(),
            _ => false,
        };
        if text.last_in_text_node() {
            in_textarea.set(false);
        }
        if ordinary && text.as_str().contains(find) {
            let replaced = text.as_str().replace(find, replace);
            text.replace(&replaced, ContentType::Html);
        }
        Ok(())
    };
    let mut settings = Settings::new();
    if skip_textareas {
        settings = settings.append_element_content_handler(lol_html::element!("textarea", |_| {
            in_textarea.set(true);
            Ok(())
        }));
    }
    let settings = settings.append_document_content_handler(DocumentContentHandlers::default().text(handler));
    let mut rewriter = HtmlRewriter::new(settings, |bytes: &[u8]| out.extend_from_slice(bytes));
    for piece in page.chunks(chunk) {
        rewriter.write(piece).unwrap();
    }
    rewriter.end().unwrap();
}

static PAGES: LazyLock<Vec<(String, Vec<u8>)>> = LazyLock::new(pages);

/// The two replacements measured: a rare word and a common one, in ordinary text.
const REPLACEMENTS: [(&str, &str); 2] = [("cat", "dog"), ("the", "THE")];
/// The service's read size, and a small one that cuts more matches.
const CHUNKS: [usize; 2] = [16 << 10, 1 << 10];

fn rules(find: &str, replace: &str, all_text_targets: bool) -> RuleSet {
    let rule = format!(
        r#"{{"id":"r","actions":[{{"replace_text":{{"find":"{find}","replace":"{replace}"{}}}}}]}}"#,
        if all_text_targets { r#","in":["text","title","textarea","script","style"]"# } else { "" }
    );
    let (rules, errors) = RuleSet::from_entries(&[("bench".into(), rule)]);
    assert!(errors.is_empty(), "{errors:?}");
    rules
}

/// What the naive replace (telling textareas from titles, as the engine does) missed of the
/// engine's matches, per page and chunk size; asserts that the engine's output does not
/// depend on the chunking.
fn print_missed() {
    println!(
        "text_replace: matches the naive per-fragment replace missed; pages fed in chunks like the service's reads"
    );
    println!("{:<24} {:>7} {:>6} {:>14}", "page", "size", "chunk", "naive missed");
    for (find, replace) in REPLACEMENTS {
        println!("-- replace {find:?} with {replace:?} in ordinary text");
        let rules = rules(find, replace, false);
        let plan = rules.plan(&RequestContext::default());
        for (name, page) in PAGES.iter() {
            for chunk in CHUNKS {
                let options = RewriteOptions { read_buffer: chunk, ..RewriteOptions::default() };
                let done = stream(&plan, &options, &page[..], Vec::new());
                let whole = stream(
                    &plan,
                    &RewriteOptions { read_buffer: page.len(), ..options.clone() },
                    &page[..],
                    Vec::new(),
                );
                assert_eq!(done.sink, whole.sink, "{name}: the engine's output must not depend on chunking");
                let mut naive_out = Vec::with_capacity(page.len() * 2);
                naive(page, chunk, find, replace, true, &mut naive_out);
                let engine_count = done.report.hits[0].1;
                let naive_count = count(&naive_out, replace) - count(page, replace);
                println!(
                    "{:<24} {:>5.0}KB {:>5}B {:>5} of {:<5}",
                    name,
                    page.len() as f64 / 1024.0,
                    chunk,
                    engine_count as i64 - naive_count as i64,
                    engine_count,
                );
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Side {
    Naive,
    NaiveTextareas,
    Engine,
}

/// One page, chunk size and replace: divan's argument, named so that the three sides of a
/// page and chunk size sort together: `116KB cloudflare.com.html 1KiB chunks (3) engine`.
struct Case {
    name: &'static str,
    page: &'static [u8],
    chunk: usize,
    side: Side,
}

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = match self.side {
            Side::Naive => "(1) naive",
            Side::NaiveTextareas => "(2) naive+ta",
            Side::Engine => "(3) engine",
        };
        write!(f, "{}KB {} {}KiB chunks {side}", self.page.len() / 1024, self.name, self.chunk >> 10)
    }
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (name, page) in PAGES.iter() {
        for chunk in CHUNKS {
            for side in [Side::Naive, Side::NaiveTextareas, Side::Engine] {
                cases.push(Case { name, page, chunk, side });
            }
        }
    }
    cases
}

fn replace_text(bencher: Bencher, case: &Case, (find, replace): (&str, &str)) {
    let page = case.page;
    let bencher = bencher.counter(BytesCount::of_slice(page));
    let mut out = Vec::with_capacity(page.len() * 2);
    match case.side {
        Side::Naive => bencher.bench_local(|| naive(black_box(page), case.chunk, find, replace, false, &mut out)),
        Side::NaiveTextareas => {
            bencher.bench_local(|| naive(black_box(page), case.chunk, find, replace, true, &mut out))
        }
        Side::Engine => {
            let rules = rules(find, replace, false);
            let plan = rules.plan(&RequestContext::default());
            let options = RewriteOptions { read_buffer: case.chunk, ..RewriteOptions::default() };
            bencher.bench_local(|| {
                let done = stream(&plan, &options, black_box(page), std::mem::take(&mut out));
                out = done.sink;
                out.clear();
            });
        }
    }
}

/// Replace "cat" with "dog" in ordinary text.
#[divan::bench(args = cases())]
fn cat_to_dog(bencher: Bencher, case: &Case) {
    replace_text(bencher, case, REPLACEMENTS[0]);
}

/// Replace "the" with "THE" in ordinary text.
#[divan::bench(args = cases())]
fn the_to_upper_case(bencher: Bencher, case: &Case) {
    replace_text(bencher, case, REPLACEMENTS[1]);
}

fn main() {
    print_missed();
    divan::main();
}

fn count(haystack: &[u8], needle: &str) -> usize {
    haystack.windows(needle.len()).filter(|w| *w == needle.as_bytes()).count()
}
