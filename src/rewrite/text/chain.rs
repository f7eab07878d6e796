//! All text rules of a plan, run as one chain per text chunk: each rule sees the text as the
//! previous ones left it, within its scope and the kinds of text it takes.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use lol_html::html_content::{ContentType, Element, TextChunk, TextType};
use lol_html::{DocumentContentHandlers, ElementContentHandlers, HandlerResult, Settings};

use super::{TextReplacer, TextSyntax};
use crate::rewrite::handlers::{Counter, same_scope};
use crate::rewrite::meter::{CpuMeter, Go};
use crate::rewrite::plan::PlannedRule;
use crate::rules::TextTarget;
use crate::rules::actions::TextRule;
use crate::rules::cost::HANDLER_NS;

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
pub(crate) struct TextPipeline<'p> {
    stages: Vec<TextStage<'p>>,
    owner: Rc<RawTextOwner>,
    /// Per stage: set by the stage's selector handler when this chunk is in its scope.
    in_scope: Rc<[Cell<bool>]>,
    /// Per stage: set by the handlers of its `exclude` selectors when this chunk is inside
    /// an element whose text the stage leaves alone.
    excluded: Rc<[Cell<bool>]>,
    /// Asked before each chunk: past the deadline the chain lets text through as it came.
    meter: Rc<CpuMeter>,
}

struct TextStage<'p> {
    rule_id: &'p str,
    scoped: bool,
    /// Counts its would-be replacements; its output is dropped, so later stages and the
    /// page see the text as the stages before it left it.
    shadow: bool,
    /// Bit `1 << target as u8` for each target the rule takes.
    targets: u8,
    replacer: TextReplacer<'p>,
    count: Counter,
    overflows_logged: u64,
    /// Its cost per byte of text, in picoseconds (the cost model).
    ps_per_byte: u32,
}

impl<'p> TextPipeline<'p> {
    pub(crate) fn register(
        mut settings: Settings<'p, 'p>,
        stages: Vec<(&'p PlannedRule<'p>, &'p TextRule, Counter)>,
        meter: &Rc<CpuMeter>,
    ) -> Settings<'p, 'p> {
        let owner = Rc::new(RawTextOwner::default());
        let in_scope: Rc<[Cell<bool>]> = stages.iter().map(|_| Cell::new(false)).collect();
        let excluded: Rc<[Cell<bool>]> = stages.iter().map(|_| Cell::new(false)).collect();
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
            let meter = Rc::clone(meter);
            settings = settings.append_element_content_handler((
                Cow::Owned(watched.parse().expect("a fixed, valid selector")),
                ElementContentHandlers::default().element(move |el: &mut Element| {
                    // Past the deadline no text rule runs: whose text it is no longer matters.
                    if meter.element(HANDLER_NS)? == Go::Skip {
                        return Ok(());
                    }
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
        // Exclusions are marks too, which only a document-level chain is sure to see set.
        let shared_scope = stages
            .iter()
            .all(|(rule, text_rule, _)| same_scope(rule, stages[0].0) && text_rule.exclude.is_empty())
            .then(|| stages[0].0.selector);
        let mut pipeline = TextPipeline {
            stages: Vec::with_capacity(stages.len()),
            owner,
            in_scope: Rc::clone(&in_scope),
            excluded: Rc::clone(&excluded),
            meter: Rc::clone(meter),
        };
        for (index, (rule, text_rule, count)) in stages.into_iter().enumerate() {
            // lol_html gives an element's text handlers the text of its descendants too: a
            // mark from `pre` covers the text of a `code` inside it.
            for (selector, _) in &text_rule.exclude {
                let excluded = Rc::clone(&excluded);
                let meter = Rc::clone(meter);
                settings = settings.append_element_content_handler((
                    Cow::Borrowed(selector),
                    ElementContentHandlers::default().text(move |_: &mut TextChunk| {
                        meter.text(HANDLER_NS);
                        excluded[index].set(true);
                        Ok(())
                    }),
                ));
            }
            if let (Some(selector), None) = (rule.selector, shared_scope) {
                let in_scope = Rc::clone(&in_scope);
                let meter = Rc::clone(meter);
                settings = settings.append_element_content_handler((
                    Cow::Borrowed(selector),
                    ElementContentHandlers::default().text(move |_: &mut TextChunk| {
                        meter.text(HANDLER_NS);
                        in_scope[index].set(true);
                        Ok(())
                    }),
                ));
            }
            pipeline.stages.push(TextStage {
                rule_id: rule.id,
                scoped: rule.selector.is_some() && shared_scope.is_none(),
                shadow: rule.shadow,
                targets: text_rule.targets.iter().fold(0, |bits, target| bits | (1 << *target as u8)),
                replacer: TextReplacer::new(&text_rule.finder, &text_rule.replacement, text_rule.max),
                count,
                overflows_logged: 0,
                ps_per_byte: rule.cost.text_ps_per_byte,
            });
        }
        // On a graceful bail-out (the page needs more parser memory than allowed) what the
        // rules hold back must still reach the page, before lol_html's raw flush of the rest.
        let pipeline = Rc::new(RefCell::new(pipeline));
        let held = Rc::clone(&pipeline);
        settings = settings.append_bail_out_handler(lol_html::bail_out!(move |_, bail_out| {
            bail_out.append(&held.borrow_mut().release_held(), ContentType::Html);
        }));
        let chain = move |chunk: &mut TextChunk| pipeline.borrow_mut().run(chunk);
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

    /// What the rules hold back, in page order, given up: a rule later in the chain holds
    /// text that reached it earlier.
    fn release_held(&mut self) -> String {
        // A shadow stage holds a copy of text that went on without it: nothing to give back.
        let held: Vec<String> = self.stages.iter_mut().map(|stage| stage.replacer.release_held()).collect();
        self.stages.iter().zip(held).rev().filter(|(stage, _)| !stage.shadow).map(|(_, text)| text).collect()
    }

    fn forget_marks(&self) {
        self.in_scope.iter().chain(self.excluded.iter()).for_each(|mark| mark.set(false));
    }

    /// What running every stage over `len` bytes costs, by the cost model (for the meter).
    fn work_ns(&self, len: usize) -> u32 {
        let bytes = u32::try_from(len).unwrap_or(u32::MAX);
        let per_byte: u32 = self.stages.iter().map(|stage| stage.ps_per_byte).sum();
        crate::rules::cost::TEXT_CHUNK_NS.saturating_add(bytes.saturating_mul(per_byte) / 1_000)
    }

    fn run(&mut self, chunk: &mut TextChunk) -> HandlerResult {
        let last = chunk.last_in_text_node();
        if last && matches!(chunk.text_type(), TextType::RCData | TextType::RawText) {
            self.owner.clear();
        }
        // lol_html ends every text node with an empty fragment: half the calls. With nothing
        // held back there is nothing to do but forget this fragment's scope marks.
        if chunk.as_str().is_empty() && self.stages.iter().all(|stage| !stage.replacer.holds()) {
            self.forget_marks();
            return Ok(());
        }
        if self.meter.text(self.work_ns(chunk.as_str().len())) == Go::Skip {
            // Past the deadline: what the rules held goes out as it came, then the chunk.
            let held = self.release_held();
            if !held.is_empty() {
                chunk.set_str(held + chunk.as_str());
            }
            self.forget_marks();
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
            let excluded = self.excluded[index].replace(false);
            let applies =
                (!stage.scoped || marked) && !excluded && target.is_some_and(|t| stage.targets & (1 << t as u8) != 0);
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
                        crate::rules::finder::REGEX_HOLD_LIMIT >> 10,
                        crate::rules::finder::REGEX_HOLD_LIMIT >> 10
                    );
                }
            }
            if let (Some(output), false) = (output, stage.shadow) {
                changed = Some(output);
            }
        }
        if let Some(text) = changed {
            chunk.set_str(text);
        }
        Ok(())
    }
}
