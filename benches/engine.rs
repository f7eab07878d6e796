//! The engine against bare lol_html and against its peers, on the corpus pages.
//!
//! Per page, MB/s (medians) and peak heap for:
//!   (a) lol_html, no handlers: the floor;
//!   (b) hand-written lol_html handlers doing the standard set: banner prepended to body,
//!       analytics appended to head, `a[href^="http:"]` upgraded to https, cat -> dog in
//!       body text (per fragment, as usually written), comments removed;
//!   (c) edge-rewriter running the same set as rules (its cat -> dog is correct across
//!       chunk boundaries);
//!   (d) buffer everything: the page into a String, then `replace` and a regex;
//!   (e) a DOM rewrite: html5ever into a tree, mutate, serialize.
//! and the ratio c/b (target: at most 1.10). Pages are fed in 16 KiB pieces, as the service
//! reads them.
//!
//!     cargo bench --bench engine            BENCH_RUNS=N to change the number of runs

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::RefCell;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use edge_rewriter::{RequestContext, RewriteOptions, RuleSet, stream};
use html5ever::tendril::TendrilSink;
use html5ever::{QualName, local_name, ns, parse_document, serialize};
use lol_html::html_content::{ContentType, TextType};
use lol_html::{HtmlRewriter, Settings, doc_comments, element, text};
use markup5ever_rcdom::{Handle, Node, NodeData, RcDom, SerializableHandle};

/// Counts live heap bytes and their high-water mark, for peak memory per approach.
struct CountingAllocator;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only counters move.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            let live = LIVE.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Heap used at the peak of `work`, above what was live before it.
fn peak_heap(work: impl FnOnce()) -> usize {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    work();
    PEAK.load(Ordering::Relaxed) - base
}

const CHUNK: usize = 16 << 10;
const BANNER: &str = "<div class=\"banner\">Winter sale: 20% off</div>";
const ANALYTICS: &str = "<script async src=\"https://analytics.example.com/t.js\"></script>";

/// The standard set as editors write it (the service benchmark uses the same file).
fn standard_rules() -> RuleSet {
    let (rules, errors) = RuleSet::from_entries(&[("standard".into(), include_str!("standard-set.json").into())]);
    assert!(errors.is_empty(), "{errors:?}");
    rules
}

/// (a) and (b): lol_html fed in pieces, with or without the hand-written standard set.
fn lol_html(page: &[u8], handlers: bool, out: &mut Vec<u8>) {
    out.clear();
    lol_html_into(page, handlers, |bytes| out.extend_from_slice(bytes));
}

fn lol_html_into(page: &[u8], handlers: bool, sink: impl FnMut(&[u8])) {
    let mut settings = Settings::new();
    if handlers {
        settings = settings
            .append_element_content_handler(element!("body", |el| {
                el.prepend(BANNER, ContentType::Html);
                Ok(())
            }))
            .append_element_content_handler(element!("head", |el| {
                el.append(ANALYTICS, ContentType::Html);
                Ok(())
            }))
            .append_element_content_handler(element!("a[href^=\"http:\"]", |el| {
                if let Some(href) = el.get_attribute("href") {
                    el.set_attribute("href", &href.replacen("http:", "https:", 1))?;
                }
                Ok(())
            }))
            .append_element_content_handler(text!("body", |t| {
                if matches!(t.text_type(), TextType::Data) && t.as_str().contains("cat") {
                    let replaced = t.as_str().replace("cat", "dog");
                    t.replace(&replaced, ContentType::Html);
                }
                Ok(())
            }))
            .append_document_content_handler(doc_comments!(|c| {
                c.remove();
                Ok(())
            }));
    }
    let mut rewriter = HtmlRewriter::new(settings, sink);
    // Read into a buffer, as a service reads a body and as the engine's `stream` does, so
    // the three sides pay the same copy.
    let (mut input, mut buffer) = (page, vec![0; CHUNK]);
    loop {
        let read = std::io::Read::read(&mut input, &mut buffer).unwrap();
        if read == 0 {
            break;
        }
        rewriter.write(&buffer[..read]).unwrap();
    }
    rewriter.end().unwrap();
}

/// (c): the engine, reading in the same pieces as (a) and (b).
fn engine(rules: &RuleSet, context: &RequestContext, page: &[u8], out: &mut Vec<u8>) {
    let plan = rules.plan(context);
    let options = RewriteOptions { read_buffer: CHUNK, ..RewriteOptions::default() };
    let done = stream(&plan, &options, page, std::mem::take(out));
    done.result.unwrap();
    *out = done.sink;
    out.clear();
}

/// (d): the whole page in memory, rewritten with string operations.
fn buffer_everything(page: &[u8], comments: &regex::Regex) -> String {
    let mut html = String::from_utf8_lossy(page).into_owned();
    if let Some(body) = html.find("<body")
        && let Some(end) = html[body..].find('>')
    {
        html.insert_str(body + end + 1, BANNER);
    }
    html = html.replacen("</head>", &format!("{ANALYTICS}</head>"), 1);
    html = html.replace("href=\"http:", "href=\"https:");
    html = html.replace("cat", "dog");
    comments.replace_all(&html, "").into_owned()
}

/// (e): parse to a DOM, mutate it, serialize it.
fn dom(page: &[u8]) -> Vec<u8> {
    let dom = parse_document(RcDom::default(), Default::default()).from_utf8().read_from(&mut &page[..]).unwrap();
    mutate(&dom.document, false);
    let mut out = Vec::with_capacity(page.len() + 256);
    let opts = html5ever::serialize::SerializeOpts {
        traversal_scope: html5ever::serialize::TraversalScope::ChildrenOnly(None),
        ..Default::default()
    };
    serialize(&mut out, &SerializableHandle::from(dom.document.clone()), opts).unwrap();
    out
}

fn mutate(node: &Handle, in_body: bool) {
    let mut children = node.children.borrow_mut();
    children.retain(|child| !matches!(child.data, NodeData::Comment { .. }));
    for child in children.iter() {
        match &child.data {
            NodeData::Element { name, attrs, .. } => {
                let tag = name.local.clone();
                if tag == local_name!("body") {
                    child.children.borrow_mut().insert(0, element_with_text("div", "Winter sale: 20% off"));
                } else if tag == local_name!("head") {
                    child.children.borrow_mut().push(element_with_text("script", ""));
                } else if tag == local_name!("a") {
                    for attr in attrs.borrow_mut().iter_mut() {
                        if attr.name.local == local_name!("href") && attr.value.starts_with("http:") {
                            attr.value = format!("https:{}", &attr.value[5..]).into();
                        }
                    }
                }
                let skip = tag == local_name!("script") || tag == local_name!("style");
                if !skip {
                    mutate(child, in_body || tag == local_name!("body"));
                }
            }
            NodeData::Text { contents } if in_body => {
                let replaced = contents.borrow().replace("cat", "dog");
                *contents.borrow_mut() = replaced.into();
            }
            _ => {}
        }
    }
}

fn element_with_text(tag: &str, text: &str) -> Handle {
    let name = QualName::new(None, ns!(html), tag.into());
    let element = Node::new(NodeData::Element {
        name,
        attrs: RefCell::new(Vec::new()),
        template_contents: RefCell::new(None),
        mathml_annotation_xml_integration_point: false,
    });
    if !text.is_empty() {
        element.children.borrow_mut().push(Node::new(NodeData::Text { contents: RefCell::new(text.into()) }));
    }
    element
}

fn median(runs: usize, mut work: impl FnMut()) -> Duration {
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

/// The corpus pages, smallest first (a bench without them has nothing to measure).
fn pages() -> Vec<(String, Vec<u8>)> {
    let pages = devstack::project::corpus_pages();
    assert!(!pages.is_empty(), "no corpus pages to measure (set EDGE_REWRITER_CORPUS)");
    pages
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(21);
    let rules = standard_rules();
    let context = RequestContext::default();
    let comments = regex::Regex::new("(?s)<!--.*?-->").unwrap();
    println!("engine: MB/s, medians of {runs} runs; peak heap of one run; pages fed in 16 KiB pieces");
    println!(
        "{:<24} {:>7} | {:>9} {:>9} {:>9} {:>6} | {:>9} {:>9} | peak heap KiB: {:>5} {:>5} {:>5} {:>6} {:>6}",
        "page", "size", "(a) bare", "(b) hand", "(c) ours", "c/b", "(d) buf", "(e) DOM", "a", "b", "c", "d", "e"
    );
    for (name, page) in pages() {
        let mut out = Vec::with_capacity(page.len() * 2);
        // For profiling one side alone (under callgrind, say): BENCH_ONLY=b or BENCH_ONLY=c.
        match std::env::var("BENCH_ONLY").as_deref() {
            Ok("b") => {
                median(runs, || lol_html(black_box(&page), true, &mut out));
                continue;
            }
            Ok("c") => {
                median(runs, || engine(&rules, &context, black_box(&page), &mut out));
                continue;
            }
            _ => {}
        }
        let a = median(runs, || lol_html(black_box(&page), false, &mut out));
        let b = median(runs, || lol_html(black_box(&page), true, &mut out));
        let c = median(runs, || engine(&rules, &context, black_box(&page), &mut out));
        let d = median(runs.min(11), || drop(black_box(buffer_everything(&page, &comments))));
        let e = median(runs.min(5), || drop(black_box(dom(&page))));
        // Streaming approaches write to a sink that keeps nothing: what is measured is their
        // own working memory.
        let peaks = [
            peak_heap(|| {
                lol_html_into(&page, false, |bytes| {
                    black_box(bytes);
                })
            }),
            peak_heap(|| {
                lol_html_into(&page, true, |bytes| {
                    black_box(bytes);
                })
            }),
            peak_heap(|| {
                let plan = rules.plan(&context);
                let options = RewriteOptions { read_buffer: CHUNK, ..RewriteOptions::default() };
                stream(&plan, &options, &page[..], std::io::sink()).result.unwrap();
            }),
            peak_heap(|| drop(buffer_everything(&page, &comments))),
            peak_heap(|| drop(dom(&page))),
        ];
        let mb = |time: Duration| page.len() as f64 / time.as_secs_f64() / 1e6;
        println!(
            "{:<24} {:>5}KB | {:>9.1} {:>9.1} {:>9.1} {:>6.2} | {:>9.1} {:>9.1} | {:>19} {:>5} {:>5} {:>6} {:>6}",
            name,
            page.len() / 1024,
            mb(a),
            mb(b),
            mb(c),
            c.as_secs_f64() / b.as_secs_f64(),
            mb(d),
            mb(e),
            peaks[0] / 1024,
            peaks[1] / 1024,
            peaks[2] / 1024,
            peaks[3] / 1024,
            peaks[4] / 1024,
        );
    }
    println!("(a)-(c) stream: their peak is working memory; (d) and (e) hold the whole page, and more");
}
