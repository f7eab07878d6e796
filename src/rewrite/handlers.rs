//! A request's [`Plan`] as lol_html handlers: which handler runs each action, in what order,
//! and one chain for all text rules ([`super::text::chain`]).

use std::borrow::Cow;
use std::cell::Cell;
use std::rc::Rc;

use lol_html::html_content::{Comment, DocumentEnd, Element};
use lol_html::{DocumentContentHandlers, ElementContentHandlers, HandlerResult, Settings};

use super::meter::{CpuMeter, Go};
use super::plan::{Plan, PlannedRule};
use super::text::chain::TextPipeline;
use crate::rules::actions::{
    PlannedAction, Scope, TextRule, apply_to_comment, apply_to_document_end, apply_to_element, inserts_in_reverse,
};
use crate::rules::cost::HANDLER_NS;

impl<'r> Plan<'r> {
    /// lol_html settings whose handlers apply this plan; `hits[i]` counts what rule `i` of
    /// the plan acted on (elements, comments, replaced texts, the document end), or for a
    /// shadow rule what it would have acted on: its handlers count and change nothing.
    ///
    /// Order: handlers run in rule order, actions in the order written. lol_html puts each
    /// `after` and `prepend` closest to the element, so repeated calls come out reversed,
    /// and runs document-end handlers last registered first; those are therefore registered
    /// in reverse, so several insertions at one place come out in the order editors wrote.
    ///
    /// Every handler asks the CPU `meter` first, with the work it is about to do: past the
    /// deadline it skips, or stops lol_html at a sound point ([`super::meter`]). Elements
    /// a rule removes, replaces, renames or unwraps are watched to their end tag, so a stop
    /// never leaves one half-done. Once stopping, comment and document-end handlers leave the
    /// page as it is: a comment cut by the stop must not be removed, nor content appended
    /// mid-page.
    pub(crate) fn settings<'p>(&'p self, hits: &Rc<[Cell<u64>]>, meter: &Rc<CpuMeter>) -> Settings<'p, 'p> {
        let mut settings = Settings::new();
        let mut reversed_handlers = Vec::new();
        let mut document_end_handlers = Vec::new();
        let mut text_stages = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let count = Counter { hits: Rc::clone(hits), index };
            let split = ByScope::of(&rule.actions);
            // A rule's element handlers (one in order, one reversed) see each match; the
            // first to run for it decides whether it is within `max`.
            let first_n = FirstN::new(rule.max);
            // A shadow rule is counted wherever it would act, and applies nothing.
            let live = !rule.shadow;
            if let (true, Some(selector), false) = (rule.shadow, rule.selector, split.element.is_empty()) {
                let count = count.clone();
                let first_n = Rc::clone(&first_n);
                let meter = Rc::clone(meter);
                settings = settings.append_element_content_handler((
                    Cow::Borrowed(selector),
                    ElementContentHandlers::default().element(move |_: &mut Element| {
                        if meter.element(HANDLER_NS)? == Go::Skip {
                            return Ok(());
                        }
                        if first_n.enter() {
                            count.add(1);
                        }
                        Ok(())
                    }),
                ));
            }
            let element = if live { split.element } else { Vec::new() };
            let (reversed, in_order): (Vec<_>, Vec<_>) =
                element.into_iter().partition(|action| inserts_in_reverse(action));
            let counted_in_order = !in_order.is_empty();
            let work = rule.cost.match_work_ns();
            if let (Some(selector), true) = (rule.selector, counted_in_order) {
                let count = count.clone();
                let first_n = Rc::clone(&first_n);
                let meter = Rc::clone(meter);
                let changes_end_tag = in_order.iter().any(|action| action.changes_end_tag());
                settings = settings.append_element_content_handler((
                    Cow::Borrowed(selector),
                    ElementContentHandlers::default().element(move |el: &mut Element| {
                        if meter.element(work)? == Go::Skip || !first_n.enter() {
                            return Ok(());
                        }
                        count.add(1);
                        let removed_before = el.removed();
                        in_order.iter().try_for_each(|action| apply_to_element(action, el))?;
                        if changes_end_tag && !removed_before {
                            watch_to_end_tag(&meter, el)?;
                        }
                        Ok(())
                    }),
                ));
            }
            if let (Some(selector), false) = (rule.selector, reversed.is_empty()) {
                let entered = if counted_in_order { Entered::Already } else { Entered::Here(count.clone()) };
                reversed_handlers.push((selector, reversed, entered, Rc::clone(&first_n), work));
            }
            if !split.comments.is_empty() {
                let count = count.clone();
                let comments = split.comments;
                let meter = Rc::clone(meter);
                let work = rule.cost.per_comment_ns.max(HANDLER_NS);
                let handler = move |comment: &mut Comment| {
                    // lol_html reports `<?xml ...?>` as a (bogus) comment; it is not one.
                    if meter.element(work)? == Go::Skip || comment.text().starts_with('?') {
                        return Ok(());
                    }
                    count.add(1);
                    if live {
                        comments.iter().for_each(|action| apply_to_comment(action, comment));
                    }
                    Ok(())
                };
                settings = match rule.selector {
                    Some(selector) => settings.append_element_content_handler((
                        Cow::Borrowed(selector),
                        ElementContentHandlers::default().comments(handler),
                    )),
                    None => {
                        settings.append_document_content_handler(DocumentContentHandlers::default().comments(handler))
                    }
                };
            }
            for text_rule in split.text {
                text_stages.push((rule, text_rule, count.clone()));
            }
            // Header edits happen once, before the page is read: one hit (shadow or live).
            if split.headers {
                count.add(1);
            }
            if !split.document.is_empty() {
                document_end_handlers.push((split.document, count, live));
            }
        }
        let csp_additions = self.csp_additions();
        if !csp_additions.is_empty() {
            settings = super::csp_meta::register(settings, csp_additions, meter);
        }
        if !text_stages.is_empty() {
            settings = TextPipeline::register(settings, text_stages, meter);
        }
        // lol_html runs document-end handlers last registered first.
        for (actions, count, live) in document_end_handlers.into_iter().rev() {
            let meter = Rc::clone(meter);
            settings = settings.append_document_content_handler(DocumentContentHandlers::default().end(
                move |end: &mut DocumentEnd| {
                    if meter.stopping() {
                        return Ok(());
                    }
                    count.add(1);
                    if live {
                        actions.iter().for_each(|action| apply_to_document_end(action, end));
                    }
                    Ok(())
                },
            ));
        }
        for (selector, actions, entered, first_n, work) in reversed_handlers.into_iter().rev() {
            let meter = Rc::clone(meter);
            settings = settings.append_element_content_handler((
                Cow::Borrowed(selector),
                ElementContentHandlers::default().element(move |el: &mut Element| {
                    if meter.element(work)? == Go::Skip {
                        return Ok(());
                    }
                    let within = match &entered {
                        // The rule's in-order handler ran first for this element and decided.
                        Entered::Already => first_n.current(),
                        Entered::Here(count) => {
                            let within = first_n.enter();
                            if within {
                                count.add(1);
                            }
                            within
                        }
                    };
                    if !within {
                        return Ok(());
                    }
                    actions.iter().rev().try_for_each(|action| apply_to_element(action, el))
                }),
            ));
        }
        settings
    }
}

/// Counts `el` as open until its end tag: a rule removes, replaces, renames or unwraps it,
/// and a stop before its end tag would leave it half-done. Elements without an end tag
/// (`<img>`, `<path/>`) are done at once.
fn watch_to_end_tag(meter: &Rc<CpuMeter>, el: &mut Element) -> HandlerResult {
    if !el.can_have_content() {
        return Ok(());
    }
    meter.opened();
    let meter = Rc::clone(meter);
    el.on_end_tag(lol_html::end_tag!(move |_| {
        meter.closed();
        Ok(())
    }))
}

/// Adds to one rule's hit count.
#[derive(Clone)]
pub(crate) struct Counter {
    hits: Rc<[Cell<u64>]>,
    index: usize,
}

impl Counter {
    pub(crate) fn add(&self, n: u64) {
        let cell = &self.hits[self.index];
        cell.set(cell.get() + n);
    }
}

/// Which of a rule's element handlers counts a match and decides whether it is within `max`.
enum Entered {
    /// The rule's in-order handler, which runs first.
    Already,
    /// This one, counting with this counter.
    Here(Counter),
}

/// A rule's `max`: how many of its selector's matches it acts on. Each match is entered
/// once (by the rule's first handler to see it); later handlers read the decision.
struct FirstN {
    max: Option<u64>,
    entered: Cell<u64>,
    within: Cell<bool>,
}

impl FirstN {
    fn new(max: Option<u64>) -> Rc<Self> {
        Rc::new(Self { max, entered: Cell::new(0), within: Cell::new(true) })
    }

    /// A new match: whether the rule acts on it.
    fn enter(&self) -> bool {
        self.entered.set(self.entered.get() + 1);
        self.within.set(self.max.is_none_or(|max| self.entered.get() <= max));
        self.within.get()
    }

    /// Whether the rule acts on the match its first handler entered last.
    fn current(&self) -> bool {
        self.within.get()
    }
}

/// A rule's actions, by the part of the page they work on.
struct ByScope<'a, 'r> {
    element: Vec<&'a PlannedAction<'r>>,
    comments: Vec<&'a PlannedAction<'r>>,
    text: Vec<&'r TextRule>,
    document: Vec<&'a PlannedAction<'r>>,
    /// Whether the rule changes headers (applied by the adapter, see [`Plan::header_edits`]).
    headers: bool,
}

impl<'a, 'r> ByScope<'a, 'r> {
    fn of(actions: &'a [(Scope, PlannedAction<'r>)]) -> Self {
        let mut split = ByScope {
            element: Vec::new(),
            comments: Vec::new(),
            text: Vec::new(),
            document: Vec::new(),
            headers: false,
        };
        for (scope, action) in actions {
            match (scope, action) {
                (Scope::Comments, _) => split.comments.push(action),
                (Scope::Document, _) => split.document.push(action),
                (Scope::Text, PlannedAction::ReplaceText(rule)) => split.text.push(rule),
                (Scope::Text, _) => {}
                (Scope::Element, _) => split.element.push(action),
                (Scope::Headers, _) => split.headers = true,
            }
        }
        split
    }
}

/// Whether two rules act on the same text: both on the whole page, or on the same selector.
pub(crate) fn same_scope(a: &PlannedRule<'_>, b: &PlannedRule<'_>) -> bool {
    match (a.selector_source, b.selector_source) {
        (None, None) => true,
        (Some(a), Some(b)) => a.trim() == b.trim(),
        _ => false,
    }
}
