//! The engine against bare lol_html and against its peers, on the corpus pages, with divan.
//!
//! Per page, side by side (the five rows of a page sort together), throughput in MB/s and
//! the peak heap of one run (divan's `max alloc`), for:
//!   (a) lol_html, no handlers: the floor;
//!   (b) hand-written lol_html handlers doing the standard set: banner prepended to body,
//!       analytics appended to head, `a[href^="http:"]` upgraded to https, cat -> dog in
//!       body text (per fragment, as usually written), comments removed;
//!   (c) edge-rewriter running the same set as rules (its cat -> dog is correct across
//!       chunk boundaries);
//!   (d) buffer everything: the page into a String, then `replace` and a regex;
//!   (e) a DOM rewrite: html5ever into a tree, mutate, serialize.
//! The ratio to watch is c/b, the medians of rows (c) and (b) of a page (target: at most
//! 1.10). Pages are fed in 16 KiB pieces, as the service reads them; (a) to (c) write into a
//! buffer allocated beforehand, so their peak heap is their own working memory.
//!
//!     cargo bench --bench engine                           every page, every side
//!     cargo bench --bench engine -- --sample-count 21      fewer runs
//!     cargo bench --bench engine -- '\(c\)'                one side alone (for profiling)

use std::cell::RefCell;
use std::hint::black_box;
use std::sync::LazyLock;

use divan::counter::BytesCount;
use divan::{AllocProfiler, Bencher};
use edge_rewriter::{RequestContext, RewriteOptions, RuleSet, stream};
use html5ever::tendril::TendrilSink;
use html5ever::{QualName, local_name, ns, parse_document, serialize};
use lol_html::html_content::{ContentType, TextType};
use lol_html::{HtmlRewriter, Settings, doc_comments, element, text};
use markup5ever_rcdom::{Handle, Node, NodeData, RcDom, SerializableHandle};

/// Counts allocations and the peak of live heap bytes, for divan's `max alloc` rows.
#[global_allocator]
static ALLOCATOR: AllocProfiler = AllocProfiler::system();

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

/// The corpus pages, smallest first (a bench without them has nothing to measure).
fn pages() -> Vec<(String, Vec<u8>)> {
    let pages = devstack::project::corpus_pages();
    assert!(!pages.is_empty(), "no corpus pages to measure (set EDGE_REWRITER_CORPUS)");
    pages
}

static PAGES: LazyLock<Vec<(String, Vec<u8>)>> = LazyLock::new(pages);

#[derive(Clone, Copy)]
enum Side {
    Bare,
    Hand,
    Ours,
    Buffer,
    Dom,
}

/// One page rewritten one way: divan's argument. Named so that a page's five sides sort
/// together, smallest page first: `116KB cloudflare.com.html (c) edge-rewriter`.
struct Case {
    name: &'static str,
    page: &'static [u8],
    side: Side,
}

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = match self.side {
            Side::Bare => "(a) lol_html bare",
            Side::Hand => "(b) lol_html by hand",
            Side::Ours => "(c) edge-rewriter",
            Side::Buffer => "(d) buffer + replace",
            Side::Dom => "(e) html5ever DOM",
        };
        write!(f, "{}KB {} {side}", self.page.len() / 1024, self.name)
    }
}

fn cases() -> Vec<Case> {
    PAGES
        .iter()
        .flat_map(|(name, page)| {
            [Side::Bare, Side::Hand, Side::Ours, Side::Buffer, Side::Dom].map(|side| Case { name, page, side })
        })
        .collect()
}

/// One run per sample, so that `max alloc` is the peak of one run.
#[divan::bench(args = cases(), sample_size = 1)]
fn rewrite(bencher: Bencher, case: &Case) {
    let page = case.page;
    let bencher = bencher.counter(BytesCount::of_slice(page));
    let mut out = Vec::with_capacity(page.len() * 2);
    match case.side {
        Side::Bare => bencher.bench_local(|| lol_html(black_box(page), false, &mut out)),
        Side::Hand => bencher.bench_local(|| lol_html(black_box(page), true, &mut out)),
        Side::Ours => {
            let (rules, context) = (standard_rules(), RequestContext::default());
            bencher.bench_local(|| engine(&rules, &context, black_box(page), &mut out));
        }
        Side::Buffer => {
            let comments = regex::Regex::new("(?s)<!--.*?-->").unwrap();
            bencher.bench_local(|| buffer_everything(black_box(page), &comments));
        }
        Side::Dom => bencher.bench_local(|| dom(black_box(page))),
    }
}

fn main() {
    println!("engine: the standard set on the corpus pages, fed in 16 KiB pieces; rows in MB/s; max alloc = peak heap");
    divan::main();
    println!("(a)-(c) stream: their peak is working memory; (d) and (e) hold the whole page, and more");
}
