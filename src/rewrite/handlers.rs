//! A request's [`Plan`] as lol_html handlers: where each action lands, in what order, and
//! how text rules see the page's text.

use std::borrow::Cow;
use std::cell::Cell;
use std::rc::Rc;

use lol_html::html_content::{Comment, ContentType, DocumentEnd, Element, TextChunk, TextType};
use lol_html::{DocumentContentHandlers, ElementContentHandlers, HandlerResult, Selector, Settings};

use crate::rules::pattern::Pattern;
use crate::rules::TextTarget;
use crate::rewrite::text::{Finder, TextReplacer, TextSyntax};

/// The rules that apply to one request, in order, ready to become lol_html handlers.
#[derive(Debug, Default)]
pub struct Plan<'r> {
    pub(crate) rules: Vec<PlannedRule<'r>>,
    pub(crate) not_applicable: Vec<&'r str>,
}

#[derive(Debug)]
pub(crate) struct PlannedRule<'r> {
    pub id: &'r str,
    pub selector: Option<&'r Selector>,
    /// The selector as written, to tell rules with the same scope.
    pub selector_source: Option<&'r str>,
    pub actions: Vec<PlannedAction<'r>>,
}

/// An action with its templates filled in for this request.
#[derive(Debug)]
pub(crate) enum PlannedAction<'r> {
    /// Content for a slot; `true` when it holds request values (from template variables).
    Insert(Slot, Cow<'r, str>, Markup, bool),
    Remove,
    Unwrap,
    SetAttribute(&'r str, Cow<'r, str>),
    RemoveAttribute(&'r str),
    RewriteAttribute(&'r str, &'r Pattern, &'r str),
    RenameTag(&'r str),
    RemoveComments,
    ReplaceComments(Cow<'r, str>, Markup),
    AppendToDocument(Cow<'r, str>, Markup),
    ReplaceText(&'r TextRule),
}

/// Where element content goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Before,
    After,
    Prepend,
    Append,
    Replace,
    SetInner,
}

/// How inserted content is treated (lol_html's `ContentType`, which is not `Debug`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Markup {
    Html,
    Text,
}

impl Markup {
    fn content_type(self) -> ContentType {
        match self {
            Markup::Html => ContentType::Html,
            Markup::Text => ContentType::Text,
        }
    }
}

/// A compiled `replace_text`.
#[derive(Debug, Clone)]
pub(crate) struct TextRule {
    pub finder: Finder,
    pub replacement: String,
    pub max: Option<u64>,
    pub targets: Vec<TextTarget>,
}

impl<'r> Plan<'r> {
    /// The ids of the rules that apply, in order.
    pub fn rule_ids(&self) -> impl Iterator<Item = &'r str> + '_ {
        self.rules.iter().map(|rule| rule.id)
    }

    /// The ids of the rules whose conditions do not hold for this request.
    pub fn not_applicable(&self) -> &[&'r str] {
        &self.not_applicable
    }

    /// How many rules apply.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when no rule applies.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// lol_html settings whose handlers apply this plan; `hits[i]` counts what rule `i` of
    /// the plan acted on (elements, comments, replaced texts, the document end).
    ///
    /// Order: handlers run in rule order, actions in the order written. lol_html puts each
    /// `after` and `prepend` closest to the element, so repeated calls come out reversed,
    /// and runs document-end handlers last registered first; those are therefore registered
    /// in reverse, so several insertions at one place come out in the order editors wrote.
    pub(crate) fn settings<'p>(&'p self, hits: &Rc<[Cell<u64>]>) -> Settings<'p, 'p> {
        let mut settings = Settings::new();
        let mut reversed_handlers = Vec::new();
        let mut document_end_handlers = Vec::new();
        let mut text_stages = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let count = Counter { hits: Rc::clone(hits), index };
            let split = ByScope::of(&rule.actions);
            let (reversed, in_order): (Vec<_>, Vec<_>) =
                split.element.into_iter().partition(|action| inserts_in_reverse(action));
            let counted_in_order = !in_order.is_empty();
            if let (Some(selector), true) = (rule.selector, counted_in_order) {
                let count = count.clone();
                settings = settings.append_element_content_handler((
                    Cow::Borrowed(selector),
                    ElementContentHandlers::default().element(move |el: &mut Element| {
                        count.add(1);
                        in_order.iter().try_for_each(|action| apply_to_element(action, el))
                    }),
                ));
            }
            if let (Some(selector), false) = (rule.selector, reversed.is_empty()) {
                reversed_handlers.push((selector, reversed, (!counted_in_order).then(|| count.clone())));
            }
            if !split.comments.is_empty() {
                let count = count.clone();
                let comments = split.comments;
                let handler = move |comment: &mut Comment| {
                    // lol_html reports `<?xml ...?>` as a (bogus) comment; it is not one.
                    if comment.text().starts_with('?') {
                        return Ok(());
                    }
                    count.add(1);
                    comments.iter().for_each(|action| apply_to_comment(action, comment));
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
            if !split.document.is_empty() {
                document_end_handlers.push((split.document, count));
            }
        }
        if !text_stages.is_empty() {
            settings = TextPipeline::register(settings, text_stages);
        }
        // lol_html runs document-end handlers last registered first.
        for (actions, count) in document_end_handlers.into_iter().rev() {
            settings = settings.append_document_content_handler(DocumentContentHandlers::default().end(
                move |end: &mut DocumentEnd| {
                    count.add(1);
                    actions.iter().for_each(|action| apply_to_document_end(action, end));
                    Ok(())
                },
            ));
        }
        for (selector, actions, count) in reversed_handlers.into_iter().rev() {
            settings = settings.append_element_content_handler((
                Cow::Borrowed(selector),
                ElementContentHandlers::default().element(move |el: &mut Element| {
                    if let Some(count) = &count {
                        count.add(1);
                    }
                    actions.iter().rev().try_for_each(|action| apply_to_element(action, el))
                }),
            ));
        }
        settings
    }
}

/// Adds to one rule's hit count.
#[derive(Clone)]
struct Counter {
    hits: Rc<[Cell<u64>]>,
    index: usize,
}

impl Counter {
    fn add(&self, n: u64) {
        let cell = &self.hits[self.index];
        cell.set(cell.get() + n);
    }
}

/// A rule's actions, by the part of the page they work on.
struct ByScope<'a, 'r> {
    element: Vec<&'a PlannedAction<'r>>,
    comments: Vec<&'a PlannedAction<'r>>,
    text: Vec<&'r TextRule>,
    document: Vec<&'a PlannedAction<'r>>,
}

impl<'a, 'r> ByScope<'a, 'r> {
    fn of(actions: &'a [PlannedAction<'r>]) -> Self {
        let mut split = ByScope { element: Vec::new(), comments: Vec::new(), text: Vec::new(), document: Vec::new() };
        for action in actions {
            match action {
                PlannedAction::RemoveComments | PlannedAction::ReplaceComments(..) => split.comments.push(action),
                PlannedAction::AppendToDocument(..) => split.document.push(action),
                PlannedAction::ReplaceText(rule) => split.text.push(rule),
                _ => split.element.push(action),
            }
        }
        split
    }
}

fn inserts_in_reverse(action: &PlannedAction<'_>) -> bool {
    matches!(action, PlannedAction::Insert(Slot::After | Slot::Prepend, ..))
}

fn apply_to_element(action: &PlannedAction<'_>, el: &mut Element) -> HandlerResult {
    // Once an element is removed or replaced, lol_html would still emit content appended
    // inside it; editors expect it gone with the element. Only before/after still apply.
    if el.removed() && !matches!(action, PlannedAction::Insert(Slot::Before | Slot::After, ..)) {
        return Ok(());
    }
    match action {
        PlannedAction::Insert(slot, text, kind, from_request) => {
            // Inside a script or style, text is code: request values escaped for markup or
            // text could still end a string there. Such content is not inserted.
            if *from_request
                && matches!(slot, Slot::Prepend | Slot::Append | Slot::SetInner)
                && matches!(el.tag_name().as_str(), "script" | "style")
            {
                log::warn!(
                    "content with template values was not inserted into a <{}>: values there would be code",
                    el.tag_name()
                );
                return Ok(());
            }
            let kind = kind.content_type();
            match slot {
                Slot::Before => el.before(text, kind),
                Slot::After => el.after(text, kind),
                Slot::Prepend => el.prepend(text, kind),
                Slot::Append => el.append(text, kind),
                Slot::Replace => el.replace(text, kind),
                Slot::SetInner => el.set_inner_content(text, kind),
            }
        }
        PlannedAction::Remove => el.remove(),
        PlannedAction::Unwrap => el.remove_and_keep_content(),
        PlannedAction::SetAttribute(name, value) => el.set_attribute(name, value)?,
        PlannedAction::RemoveAttribute(name) => el.remove_attribute(name),
        PlannedAction::RewriteAttribute(name, pattern, replacement) => {
            if let Some(value) = el.get_attribute(name)
                && let Cow::Owned(rewritten) = pattern.replace_all(&value, replacement)
            {
                el.set_attribute(name, &rewritten)?;
            }
        }
        PlannedAction::RenameTag(tag) => el.set_tag_name(tag)?,
        PlannedAction::RemoveComments
        | PlannedAction::ReplaceComments(..)
        | PlannedAction::AppendToDocument(..)
        | PlannedAction::ReplaceText(..) => {}
    }
    Ok(())
}

fn apply_to_comment(action: &PlannedAction<'_>, comment: &mut Comment) {
    match action {
        PlannedAction::RemoveComments => comment.remove(),
        PlannedAction::ReplaceComments(text, kind) => comment.replace(text, kind.content_type()),
        _ => {}
    }
}

fn apply_to_document_end(action: &PlannedAction<'_>, end: &mut DocumentEnd) {
    if let PlannedAction::AppendToDocument(text, kind) = action {
        end.append(text, kind.content_type());
    }
}

/// Whether two rules act on the same text: both on the whole page, or on the same selector.
fn same_scope(a: &PlannedRule<'_>, b: &PlannedRule<'_>) -> bool {
    match (a.selector_source, b.selector_source) {
        (None, None) => true,
        (Some(a), Some(b)) => a.trim() == b.trim(),
        _ => false,
    }
}

/// Which element the current raw-text node belongs to. lol_html says "RCDATA" for both
/// `<title>` and `<textarea>`, and "raw text" for `<style>` and a few others; rules tell them
/// apart. Such elements cannot contain other elements, so the start tag seen last is the
/// node's: a handler notes `<textarea>` (and `<style>`, when a rule targets style) and the
/// note is cleared when the node ends.
#[derive(Debug, Default)]
struct RawTextOwner {
    textarea: Cell<bool>,
    style: Cell<bool>,
}

impl RawTextOwner {
    fn clear(&self) {
        self.textarea.set(false);
        self.style.set(false);
    }
}

/// All text rules of a plan, run as one chain per text chunk: each rule sees the text as
/// the previous ones left it. (Separate lol_html text handlers cannot chain: each would see
/// the original chunk and the last one's replacement would win.)
struct TextPipeline<'p> {
    stages: Vec<TextStage<'p>>,
    owner: Rc<RawTextOwner>,
    /// Per stage: set by the stage's selector handler when this chunk is in its scope.
    in_scope: Rc<[Cell<bool>]>,
}

struct TextStage<'p> {
    rule_id: &'p str,
    scoped: bool,
    /// Bit `1 << target as u8` for each target the rule takes.
    targets: u8,
    replacer: TextReplacer<'p>,
    count: Counter,
    overflows_logged: u64,
}

impl<'p> TextPipeline<'p> {
    fn register(
        mut settings: Settings<'p, 'p>,
        stages: Vec<(&'p PlannedRule<'p>, &'p TextRule, Counter)>,
    ) -> Settings<'p, 'p> {
        let owner = Rc::new(RawTextOwner::default());
        let in_scope: Rc<[Cell<bool>]> = stages.iter().map(|_| Cell::new(false)).collect();
        // Which raw-text owners matter: titles against textareas when a rule takes one but
        // not the other, styles against other raw text when a rule takes styles. Watching
        // any element switches on lol_html's element tracking, so only what is needed.
        let wants = |target: TextTarget| stages.iter().any(|(_, rule, _)| rule.targets.contains(&target));
        let watched = match (wants(TextTarget::Title) != wants(TextTarget::Textarea), wants(TextTarget::Style)) {
            (true, true) => Some("textarea, style"),
            (true, false) => Some("textarea"),
            (false, true) => Some("style"),
            (false, false) => None,
        };
        if let Some(watched) = watched {
            let owner = Rc::clone(&owner);
            settings = settings.append_element_content_handler((
                Cow::Owned(watched.parse().expect("a fixed, valid selector")),
                ElementContentHandlers::default().element(move |el: &mut Element| {
                    let is_textarea = el.tag_name() == "textarea";
                    owner.textarea.set(is_textarea);
                    owner.style.set(!is_textarea);
                    // An empty element has no text node whose end would clear the note.
                    let owner = Rc::clone(&owner);
                    el.on_end_tag(lol_html::end_tag!(move |_| {
                        owner.clear();
                        Ok(())
                    }))
                }),
            ));
        }
        // When every text rule has the same scope (all the whole page, or all one selector),
        // the chain can run as that scope's own handler: one lol_html call per chunk, and no
        // marks. Otherwise selector handlers mark their scope for a document-level chain.
        let shared_scope = stages.iter().all(|(rule, ..)| same_scope(rule, stages[0].0)).then(|| stages[0].0.selector);
        let mut pipeline =
            TextPipeline { stages: Vec::with_capacity(stages.len()), owner, in_scope: Rc::clone(&in_scope) };
        for (index, (rule, text_rule, count)) in stages.into_iter().enumerate() {
            if let (Some(selector), None) = (rule.selector, shared_scope) {
                let in_scope = Rc::clone(&in_scope);
                settings = settings.append_element_content_handler((
                    Cow::Borrowed(selector),
                    ElementContentHandlers::default().text(move |_: &mut TextChunk| {
                        in_scope[index].set(true);
                        Ok(())
                    }),
                ));
            }
            pipeline.stages.push(TextStage {
                rule_id: rule.id,
                scoped: rule.selector.is_some() && shared_scope.is_none(),
                targets: text_rule.targets.iter().fold(0, |bits, target| bits | (1 << *target as u8)),
                replacer: TextReplacer::new(&text_rule.finder, &text_rule.replacement, text_rule.max),
                count,
                overflows_logged: 0,
            });
        }
        let chain = move |chunk: &mut TextChunk| pipeline.run(chunk);
        match shared_scope {
            Some(Some(selector)) => settings.append_element_content_handler((
                Cow::Borrowed(selector),
                ElementContentHandlers::default().text(chain),
            )),
            // Document-level text handlers run after the selector ones for the same chunk,
            // so the scope marks are set by the time the chain runs.
            _ => settings.append_document_content_handler(DocumentContentHandlers::default().text(chain)),
        }
    }

    fn run(&mut self, chunk: &mut TextChunk) -> HandlerResult {
        let last = chunk.last_in_text_node();
        if last && matches!(chunk.text_type(), TextType::RCData | TextType::RawText) {
            self.owner.clear();
        }
        // lol_html ends every text node with an empty fragment: half the calls. With nothing
        // held back there is nothing to do but forget this fragment's scope marks.
        if chunk.as_str().is_empty() && self.stages.iter().all(|stage| !stage.replacer.holds()) {
            self.in_scope.iter().for_each(|mark| mark.set(false));
            return Ok(());
        }
        let target = match chunk.text_type() {
            TextType::Data => Some(TextTarget::Text),
            TextType::RCData if self.owner.textarea.get() => Some(TextTarget::Textarea),
            TextType::RCData => Some(TextTarget::Title),
            TextType::ScriptData => Some(TextTarget::Script),
            TextType::RawText if self.owner.style.get() => Some(TextTarget::Style),
            _ => None,
        };
        let syntax = match target {
            Some(TextTarget::Script | TextTarget::Style) => TextSyntax::Raw,
            _ => TextSyntax::Markup,
        };
        let mut changed: Option<String> = None;
        for (index, stage) in self.stages.iter_mut().enumerate() {
            let marked = self.in_scope[index].replace(false);
            let applies = (!stage.scoped || marked) && target.is_some_and(|t| stage.targets & (1 << t as u8) != 0);
            if !applies {
                continue;
            }
            let input = changed.as_deref().unwrap_or(chunk.as_str());
            let before = stage.replacer.replaced;
            let output = stage.replacer.feed(input, last, syntax).map(str::to_owned);
            stage.replacer.trim();
            if stage.replacer.replaced > before {
                stage.count.add(stage.replacer.replaced - before);
            }
            if stage.replacer.overflows > stage.overflows_logged {
                stage.overflows_logged = stage.replacer.overflows;
                if stage.overflows_logged == 1 {
                    log::warn!(
                        "text rule {:?}: a text node is longer than {} KiB; a match across each {} KiB boundary may be missed",
                        stage.rule_id,
                        crate::rewrite::text::REGEX_HOLD_LIMIT >> 10,
                        crate::rewrite::text::REGEX_HOLD_LIMIT >> 10
                    );
                }
            }
            if let Some(output) = output {
                changed = Some(output);
            }
        }
        if let Some(text) = changed {
            chunk.set_str(text);
        }
        Ok(())
    }
}
