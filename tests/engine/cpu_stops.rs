//! Stops at the CPU deadline land at a sound point, whatever the page, the rules and the
//! moment: on generated pages and rule sets, with the deadline at every reading of a
//! pretend CPU clock, each completed output is as well-formed as its input (every end tag
//! closes the element open, none is left open) and nothing a rule removed comes back: an
//! element a rule removes, replaces or empties is either left whole (the stop came first)
//! or gone with all it held; none is half-done.
//!
//! The pages are made of elements that are always closed explicitly, each with a marker
//! `[N]` as its first text and `id=eN`, so what became of each is readable in the output.

#![cfg(not(target_arch = "wasm32"))]

use std::cell::Cell;

use devstack::html::balanced;
use edge_rewriter::{CpuDeadline, RequestContext, RewriteOptions, RuleSet, StreamError, stream};
use proptest::prelude::*;

thread_local! {
    /// The pretend clock: one millisecond more at every reading.
    static READINGS: Cell<u64> = const { Cell::new(0) };
}

fn ticking_clock() -> u64 {
    READINGS.with(|readings| {
        readings.set(readings.get() + 1);
        readings.get()
    })
}

const TAGS: [&str; 5] = ["div", "span", "section", "b", "em"];
const CLASSES: usize = 4;

/// One generated element: its tag, classes, and children (elements, texts, comments).
#[derive(Debug, Clone)]
struct Node {
    tag: usize,
    classes: Vec<usize>,
    children: Vec<Child>,
}

#[derive(Debug, Clone)]
enum Child {
    Element(Node),
    Text,
    Comment,
}

/// What a rule does to the elements of its class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Remove,
    Replace,
    SetInner,
    Unwrap,
    Rename,
    SetAttribute,
    Append,
}

const ACTS: [Act; 7] =
    [Act::Remove, Act::Replace, Act::SetInner, Act::Unwrap, Act::Rename, Act::SetAttribute, Act::Append];

impl Act {
    fn json(self) -> &'static str {
        match self {
            Act::Remove => r#""remove""#,
            Act::Replace => r#"{"replace":{"html":"<i>R</i>"}}"#,
            Act::SetInner => r#"{"set_inner":{"html":"<i>S</i>"}}"#,
            Act::Unwrap => r#""unwrap""#,
            Act::Rename => r#"{"rename_tag":"article"}"#,
            Act::SetAttribute => r#"{"set_attribute":{"name":"data-x","value":"1"}}"#,
            Act::Append => r#"{"append":{"html":"<i>A</i>"}}"#,
        }
    }
}

fn node(depth: u32) -> impl Strategy<Value = Node> {
    let leaf = (0..TAGS.len(), prop::collection::vec(0..CLASSES, 0..3)).prop_map(|(tag, classes)| Node {
        tag,
        classes,
        children: vec![Child::Text],
    });
    leaf.prop_recursive(depth, 48, 5, |inner| {
        (
            0..TAGS.len(),
            prop::collection::vec(0..CLASSES, 0..3),
            prop::collection::vec(
                prop_oneof![
                    3 => inner.prop_map(Child::Element),
                    1 => Just(Child::Text),
                    1 => Just(Child::Comment),
                ],
                0..5,
            ),
        )
            .prop_map(|(tag, classes, children)| Node { tag, classes, children })
    })
}

/// The page, numbering elements in document order.
fn render(nodes: &[Node]) -> (String, Vec<Placed>) {
    let mut html = String::from("<!doctype html><html><head><meta charset=utf-8></head><body>");
    let mut placed = Vec::new();
    for node in nodes {
        render_node(node, None, &mut html, &mut placed);
    }
    html.push_str("</body></html>");
    (html, placed)
}

/// An element as rendered: its number, classes and ancestors' numbers.
#[derive(Debug, Clone)]
struct Placed {
    classes: Vec<usize>,
    ancestors: Vec<usize>,
}

fn render_node(node: &Node, parent: Option<usize>, html: &mut String, placed: &mut Vec<Placed>) {
    let n = placed.len();
    let mut ancestors = parent.map(|p| placed[p].ancestors.clone()).unwrap_or_default();
    ancestors.extend(parent);
    placed.push(Placed { classes: node.classes.clone(), ancestors });
    let classes: Vec<String> = node.classes.iter().map(|c| format!("c{c}")).collect();
    let tag = TAGS[node.tag];
    html.push_str(&format!("<{tag} id=e{n} class=\"{}\">[{n}]", classes.join(" ")));
    for child in &node.children {
        match child {
            Child::Element(child) => render_node(child, Some(n), html, placed),
            Child::Text => html.push_str("a cat sat "),
            Child::Comment => html.push_str("<!-- note -->"),
        }
    }
    html.push_str(&format!("</{tag}>"));
}

fn rules_json(rules: &[(usize, Act)]) -> String {
    let rules: Vec<String> = rules
        .iter()
        .enumerate()
        .map(|(i, (class, act))| format!(r#"{{"id":"r{i}","selector":".c{class}","actions":[{}]}}"#, act.json()))
        .chain([
            r#"{"id":"cats","actions":[{"replace_text":{"find":"cat","replace":"dog"}}]}"#.to_owned(),
            r#"{"id":"notes","actions":["remove_comments"]}"#.to_owned(),
        ])
        .collect();
    format!("[{}]", rules.join(","))
}

/// What the rules do to element `n`, in rule order: the first rule that removes, replaces
/// or unwraps it decides (lol_html's element is removed then, and later rules' actions on
/// it are skipped); a `set_inner` before that empties it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fate {
    /// `Remove`, `Replace` or `Unwrap`, if a rule does one.
    taken: Option<Act>,
    emptied: bool,
}

fn fate(n: usize, placed: &[Placed], rules: &[(usize, Act)]) -> Fate {
    let mut fate = Fate { taken: None, emptied: false };
    for (class, act) in rules {
        if !placed[n].classes.contains(class) {
            continue;
        }
        match act {
            Act::Remove | Act::Replace | Act::Unwrap => {
                fate.taken = Some(*act);
                return fate;
            }
            Act::SetInner => fate.emptied = true,
            _ => {}
        }
    }
    fate
}

/// Nothing a rule removed comes back, and nothing comes twice.
fn whole_or_gone(html: &str, placed: &[Placed], rules: &[(usize, Act)]) -> Result<(), String> {
    let fates: Vec<Fate> = (0..placed.len()).map(|n| fate(n, placed, rules)).collect();
    let removes = |fate: &Fate| matches!(fate.taken, Some(Act::Remove | Act::Replace));
    for (n, element) in placed.iter().enumerate() {
        let marker = format!("[{n}]");
        let count = html.matches(&marker).count();
        if count > 1 {
            return Err(format!("{marker} appears {count} times"));
        }
        let start_kept = html.contains(&format!("id=e{n} "));
        // Its start tag goes with a remove or replace (its own or an ancestor's), or with an
        // ancestor's set_inner.
        let gone_with =
            element.ancestors.iter().chain([&n]).find(|&&a| removes(&fates[a]) || (a != n && fates[a].emptied));
        if !start_kept {
            if gone_with.is_none() && fates[n].taken != Some(Act::Unwrap) {
                return Err(format!("element {n} lost its start tag to no rule"));
            }
            if gone_with.is_some() && count > 0 {
                return Err(format!("element {n} was removed, yet its content {marker} is there"));
            }
        } else if count == 0 && !fates[n].emptied && !element.ancestors.iter().any(|&a| fates[a].emptied) {
            // Kept, so its own text is there, unless a set_inner emptied it.
            return Err(format!("element {n} is there without its text {marker}"));
        }
    }
    Ok(())
}

/// Checks every stop of `rules` on the page of `nodes`, read `read` bytes at a time, with
/// `allowance` readings past the deadline to finish changed elements.
fn check(nodes: &[Node], rules: &[(usize, Act)], read: usize, allowance: u64) -> Result<(), TestCaseError> {
    let (page, placed) = render(nodes);
    let (set, errors) = RuleSet::from_entries(&[("generated".into(), rules_json(rules))]);
    prop_assert!(errors.is_empty(), "{errors:?}");
    let plan = set.plan(&RequestContext::default());
    prop_assert_eq!(balanced(&page), Ok(()), "the generated page is balanced");
    // A deadline at every reading, until one falls after the end of the page.
    for after in 1..2_000 {
        READINGS.with(|readings| readings.set(0));
        // The clock is read before every handler's work and every slice.
        let deadline = CpuDeadline { check_every_ns: 0, ..CpuDeadline::new(ticking_clock, after, after + allowance) };
        let options = RewriteOptions { read_buffer: read, cpu_deadline: Some(deadline), ..RewriteOptions::default() };
        let mut input = page.as_bytes();
        let streamed = stream(&plan, &options, &mut input, Vec::new());
        if let Err(err) = &streamed.result {
            // Visibly incomplete, only when finishing did not fit: the client is told.
            prop_assert!(matches!(err, StreamError::Cpu(_)), "{err}");
            continue;
        }
        let whole = [streamed.sink, input.to_vec()].concat();
        let whole = String::from_utf8(whole).unwrap();
        prop_assert_eq!(balanced(&whole), Ok(()), "stop at reading {}: {}\nfrom {}", after, whole, page);
        let kept = whole_or_gone(&whole, &placed, rules);
        prop_assert_eq!(kept, Ok(()), "stop at reading {}: {}\nfrom {}", after, whole, page);
        if !streamed.report.cpu_stop {
            break;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn a_stop_at_any_point_leaves_a_sound_page(
        nodes in prop::collection::vec(node(4), 1..4),
        rules in prop::collection::vec((0..CLASSES, prop::sample::select(ACTS.to_vec())), 1..5),
        read in 1usize..40,
        allowance in prop_oneof![1u64..20, Just(1_000)],
    ) {
        check(&nodes, &rules, read, allowance)?;
    }
}

#[test]
fn a_stop_inside_a_replaced_element_never_lets_its_content_back() {
    let page = Node {
        tag: 0,
        classes: vec![],
        children: vec![Child::Element(Node {
            tag: 0,
            classes: vec![0],
            children: vec![Child::Text, Child::Element(Node { tag: 1, classes: vec![], children: vec![Child::Text] })],
        })],
    };
    check(&[page], &[(0, Act::Replace)], 4, 1_000).unwrap();
}
