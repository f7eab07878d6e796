//! `replace_text` speed: the engine's cross-chunk replace against the naive per-fragment
//! replace (a lol_html text handler calling `str::replace`, which misses matches split
//! between fragments), on the corpus pages. Prints MB/s, the ratio, and the matches the
//! naive replace missed. Asserts only that the engine's output is right.
//!
//!     cargo bench --bench text_replace

use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant};

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

fn median_time(runs: usize, mut work: impl FnMut()) -> Duration {
    work();
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed()
        })
        .collect();
    samples.sort();
    samples[runs / 2]
}

fn mb_per_s(bytes: usize, time: Duration) -> f64 {
    bytes as f64 / time.as_secs_f64() / 1e6
}

fn main() {
    let runs = std::env::var("BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(15);
    println!("text_replace: medians of {runs} runs; pages fed in chunks like the service's reads");
    println!(
        "{:<24} {:>7} {:>6} {:>11} {:>11} {:>11} {:>8} {:>8} {:>14}",
        "page", "size", "chunk", "naive MB/s", "naive+ta", "engine MB/s", "ratio", "ratio+ta", "naive missed"
    );
    println!("(naive+ta: the naive replace also telling textareas from titles, as the engine does)");
    for (find, replace, all_text_targets) in [("cat", "dog", false), ("the", "THE", false)] {
        println!("-- replace {find:?} with {replace:?} in ordinary text");
        let rule = format!(
            r#"{{"id":"r","actions":[{{"replace_text":{{"find":"{find}","replace":"{replace}"{}}}}}]}}"#,
            if all_text_targets { r#","in":["text","title","textarea","script","style"]"# } else { "" }
        );
        let (rules, errors) = RuleSet::from_entries(&[("bench".into(), rule)]);
        assert!(errors.is_empty(), "{errors:?}");
        let plan = rules.plan(&RequestContext::default());
        for (name, page) in pages() {
            for chunk in [16 << 10, 1 << 10] {
                let options = RewriteOptions { read_buffer: chunk, ..RewriteOptions::default() };
                let mut naive_out = Vec::with_capacity(page.len() * 2);
                let only = std::env::var("BENCH_ONLY").unwrap_or_default();
                let naive_runs = if only == "engine" { 1 } else { runs };
                let naive_time =
                    median_time(naive_runs, || naive(black_box(&page), chunk, find, replace, false, &mut naive_out));
                let fair_time =
                    median_time(naive_runs, || naive(black_box(&page), chunk, find, replace, true, &mut naive_out));
                let mut engine_out = Vec::with_capacity(page.len() * 2);
                let engine_runs = if only == "naive" { 1 } else { runs };
                let engine_time = median_time(engine_runs, || {
                    let done = stream(&plan, &options, black_box(&page[..]), std::mem::take(&mut engine_out));
                    engine_out = done.sink;
                    engine_out.clear();
                });
                let done = stream(&plan, &options, &page[..], Vec::new());
                let whole = stream(
                    &plan,
                    &RewriteOptions { read_buffer: page.len(), ..options.clone() },
                    &page[..],
                    Vec::new(),
                );
                assert_eq!(done.sink, whole.sink, "{name}: the engine's output must not depend on chunking");
                let engine_count = done.report.hits[0].1;
                let naive_count = count(&naive_out, replace) - count(&page, replace);
                println!(
                    "{:<24} {:>5.0}KB {:>5}B {:>11.1} {:>11.1} {:>11.1} {:>8.2} {:>8.2} {:>5} of {:<5}",
                    name,
                    page.len() as f64 / 1024.0,
                    chunk,
                    mb_per_s(page.len(), naive_time),
                    mb_per_s(page.len(), fair_time),
                    mb_per_s(page.len(), engine_time),
                    engine_time.as_secs_f64() / naive_time.as_secs_f64(),
                    engine_time.as_secs_f64() / fair_time.as_secs_f64(),
                    engine_count as i64 - naive_count as i64,
                    engine_count,
                );
            }
        }
    }
}

fn count(haystack: &[u8], needle: &str) -> usize {
    haystack.windows(needle.len()).filter(|w| *w == needle.as_bytes()).count()
}
