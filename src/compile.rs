//! Rules checked and compiled once ([`RuleSet`]), then planned per request ([`Plan`]): the
//! rules whose conditions hold, with their templates filled in, as lol_html handlers.
//!
//! Everything that can be wrong with a rule is found here, before any byte of a page is
//! read: selectors are parsed with `str::parse` (never the panicking `element!` macro),
//! regexes and templates are compiled, names are checked. A rule that fails is reported
//! and left out while the others still apply.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;

use lol_html::html_content::{Comment, ContentType, DocumentEnd, Element};
use lol_html::{DocumentContentHandlers, ElementContentHandlers, Selector, Settings};
use regex::Regex;

use crate::conditions::Condition;
use crate::pattern::compile_regex;
use crate::request::RequestContext;
use crate::rules::{Action, Content, Rule, RuleError, SourcedRule, parse_entry};
use crate::selector::parse_selector;
use crate::template::{Escaping, Template};

/// Rules ready to run: each selector parsed, each action and condition checked. Build it
/// once per rule-set version (the service caches it); [`plan`](Self::plan) it per request.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    disabled: Vec<String>,
}

#[derive(Debug, Clone)]
struct CompiledRule {
    id: String,
    selector: Option<Selector>,
    condition: Condition,
    actions: Vec<CompiledAction>,
}

#[derive(Debug, Clone)]
enum CompiledAction {
    Insert(Slot, CompiledContent),
    Remove,
    Unwrap,
    SetAttribute {
        name: String,
        value: Template,
    },
    RemoveAttribute(String),
    RewriteAttribute {
        name: String,
        pattern: Regex,
        replacement: String,
    },
    RenameTag(String),
    RemoveComments,
    ReplaceComments(CompiledContent),
    AppendToDocument(CompiledContent),
}

/// Where element content goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Before,
    After,
    Prepend,
    Append,
    Replace,
    SetInner,
}

#[derive(Debug, Clone)]
struct CompiledContent {
    template: Template,
    kind: Markup,
}

/// How inserted content is treated (lol_html's `ContentType`, which is not `Debug`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Markup {
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

/// Which part of a page an action works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Elements: needs a selector.
    Element,
    /// Comments: inside the selected elements, or everywhere without a selector.
    Comments,
    /// The end of the document: takes no selector.
    Document,
}

impl RuleSet {
    /// Parses and compiles store entries `(name, text)`, in order.
    pub fn from_entries(entries: &[(String, String)]) -> (RuleSet, Vec<RuleError>) {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for (name, text) in entries {
            let (parsed, parse_errors) = parse_entry(name, text);
            rules.extend(parsed);
            errors.extend(parse_errors);
        }
        let (set, compile_errors) = RuleSet::compile(rules);
        errors.extend(compile_errors);
        (set, errors)
    }

    /// Compiles parsed rules. Disabled rules are left out without an error; a rule whose id
    /// an earlier rule already uses is refused.
    pub fn compile(rules: Vec<SourcedRule>) -> (RuleSet, Vec<RuleError>) {
        let mut set = RuleSet::default();
        let mut errors = Vec::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        for SourcedRule { entry, rule } in rules {
            if let Some(first_entry) = seen.get(&rule.id) {
                let reason = format!(
                    "another rule already has this id (in entry {first_entry:?}); ids must be unique: \
                     logs and hit counts name rules by id"
                );
                errors.push(RuleError::new(entry, rule.id, "id", reason));
                continue;
            }
            seen.insert(rule.id.clone(), entry.clone());
            if !rule.enabled {
                set.disabled.push(rule.id);
                continue;
            }
            match compile_rule(&rule) {
                Ok(compiled) => set.rules.push(compiled),
                Err((field, reason)) => errors.push(RuleError::new(entry, rule.id, field, reason)),
            }
        }
        (set, errors)
    }

    /// The ids of the rules that may run, in order.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|rule| rule.id.as_str())
    }

    /// The ids of rules kept in the store with `"enabled": false`.
    pub fn disabled_ids(&self) -> impl Iterator<Item = &str> {
        self.disabled.iter().map(String::as_str)
    }

    /// How many rules may run.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when no rule may run.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules whose conditions hold for this request, templates filled in.
    pub fn plan(&self, context: &RequestContext) -> Plan<'_> {
        let mut plan = Plan::default();
        for rule in &self.rules {
            if !rule.condition.holds(context, &rule.id) {
                plan.not_applicable.push(&rule.id);
                continue;
            }
            let actions = rule
                .actions
                .iter()
                .map(|action| action.plan(context))
                .collect();
            plan.rules.push(PlannedRule {
                id: &rule.id,
                selector: rule.selector.as_ref(),
                actions,
            });
        }
        plan
    }
}

fn compile_rule(rule: &Rule) -> Result<CompiledRule, (String, String)> {
    if rule.actions.is_empty() {
        return Err((
            "actions".into(),
            "the rule has no actions; add at least one, e.g. [\"remove\"]".into(),
        ));
    }
    let selector = rule
        .selector
        .as_deref()
        .map(parse_selector)
        .transpose()
        .map_err(|reason| ("selector".to_owned(), reason))?;
    let condition = match &rule.when {
        Some(when) => Condition::compile(when, "when")?,
        None => Condition::default(),
    };
    let actions = rule
        .actions
        .iter()
        .enumerate()
        .map(|(index, action)| compile_action(action, index, selector.is_some()))
        .collect::<Result<_, _>>()?;
    Ok(CompiledRule {
        id: rule.id.clone(),
        selector,
        condition,
        actions,
    })
}

fn compile_action(
    action: &Action,
    index: usize,
    has_selector: bool,
) -> Result<CompiledAction, (String, String)> {
    let name = action_name(action);
    let field = |sub: &str| {
        if sub.is_empty() {
            format!("actions[{index}].{name}")
        } else {
            format!("actions[{index}].{name}.{sub}")
        }
    };
    match (scope(action), has_selector) {
        (Scope::Element, false) => {
            return Err((
                "selector".into(),
                format!(
                    "`{name}` acts on elements: give the rule a selector, e.g. \"selector\": \"body\""
                ),
            ));
        }
        (Scope::Document, true) => {
            return Err((
                "selector".into(),
                format!(
                    "`{name}` acts on the whole document: drop the selector, or move the action to a rule of its own"
                ),
            ));
        }
        _ => {}
    }
    let content =
        |content: &Content| compile_content(content).map_err(|(sub, reason)| (field(sub), reason));
    Ok(match action {
        Action::Before(c) => CompiledAction::Insert(Slot::Before, content(c)?),
        Action::After(c) => CompiledAction::Insert(Slot::After, content(c)?),
        Action::Prepend(c) => CompiledAction::Insert(Slot::Prepend, content(c)?),
        Action::Append(c) => CompiledAction::Insert(Slot::Append, content(c)?),
        Action::Replace(c) => CompiledAction::Insert(Slot::Replace, content(c)?),
        Action::SetInner(c) => CompiledAction::Insert(Slot::SetInner, content(c)?),
        Action::Remove => CompiledAction::Remove,
        Action::Unwrap => CompiledAction::Unwrap,
        Action::SetAttribute(set) => {
            check_attribute_name(&set.name).map_err(|reason| (field("name"), reason))?;
            let value = Template::parse(&set.value).map_err(|reason| (field("value"), reason))?;
            CompiledAction::SetAttribute {
                name: set.name.clone(),
                value,
            }
        }
        Action::RemoveAttribute(name) => {
            check_attribute_name(name).map_err(|reason| (field(""), reason))?;
            CompiledAction::RemoveAttribute(name.clone())
        }
        Action::RewriteAttribute(rewrite) => {
            check_attribute_name(&rewrite.name).map_err(|reason| (field("name"), reason))?;
            let pattern =
                compile_regex(&rewrite.pattern).map_err(|reason| (field("pattern"), reason))?;
            check_replacement(&pattern, &rewrite.replacement)
                .map_err(|reason| (field("replacement"), reason))?;
            CompiledAction::RewriteAttribute {
                name: rewrite.name.clone(),
                pattern,
                replacement: rewrite.replacement.clone(),
            }
        }
        Action::RenameTag(tag) => {
            check_tag_name(tag).map_err(|reason| (field(""), reason))?;
            CompiledAction::RenameTag(tag.clone())
        }
        Action::RemoveComments => CompiledAction::RemoveComments,
        Action::ReplaceComments(c) => CompiledAction::ReplaceComments(content(c)?),
        Action::AppendToDocument(c) => CompiledAction::AppendToDocument(content(c)?),
    })
}

fn compile_content(content: &Content) -> Result<CompiledContent, (&'static str, String)> {
    let (text, kind, field) = match content {
        Content::Html(text) => (text, Markup::Html, "html"),
        Content::Text(text) => (text, Markup::Text, "text"),
    };
    let template = Template::parse(text).map_err(|reason| (field, reason))?;
    Ok(CompiledContent { template, kind })
}

/// The action's name as editors write it, for error messages.
fn action_name(action: &Action) -> &'static str {
    match action {
        Action::Before(_) => "before",
        Action::After(_) => "after",
        Action::Prepend(_) => "prepend",
        Action::Append(_) => "append",
        Action::Replace(_) => "replace",
        Action::SetInner(_) => "set_inner",
        Action::Remove => "remove",
        Action::Unwrap => "unwrap",
        Action::SetAttribute(_) => "set_attribute",
        Action::RemoveAttribute(_) => "remove_attribute",
        Action::RewriteAttribute(_) => "rewrite_attribute",
        Action::RenameTag(_) => "rename_tag",
        Action::RemoveComments => "remove_comments",
        Action::ReplaceComments(_) => "replace_comments",
        Action::AppendToDocument(_) => "append_to_document",
    }
}

fn scope(action: &Action) -> Scope {
    match action {
        Action::RemoveComments | Action::ReplaceComments(_) => Scope::Comments,
        Action::AppendToDocument(_) => Scope::Document,
        _ => Scope::Element,
    }
}

/// Attribute names lol_html would refuse at run time are refused here instead.
fn check_attribute_name(name: &str) -> Result<(), String> {
    let bad = |c: char| {
        c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '>' | '/' | '=' | '<')
    };
    if name.is_empty() || name.chars().any(bad) {
        return Err(format!(
            "{name:?} is not an attribute name (no spaces, quotes, `<`, `>`, `/` or `=`)"
        ));
    }
    Ok(())
}

fn check_tag_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(format!(
            "{name:?} is not a tag name (a letter, then letters, digits, `-` or `_`)"
        ));
    }
    Ok(())
}

/// `$2` in a replacement for a regex with one group silently inserts nothing; say so now.
fn check_replacement(pattern: &Regex, replacement: &str) -> Result<(), String> {
    let bytes = replacement.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        let rest = &replacement[i + 1..];
        if rest.starts_with('$') {
            i += 2;
            continue;
        }
        let (reference, used) = if let Some(braced) = rest.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => return Err(format!("`${{` without a closing `}}` in {replacement:?}")),
            }
        } else {
            let len = rest
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            (&rest[..len], len)
        };
        let known = match reference.parse::<usize>() {
            Ok(group) => group < pattern.captures_len(),
            Err(_) => {
                reference.is_empty()
                    || pattern
                        .capture_names()
                        .flatten()
                        .any(|name| name == reference)
            }
        };
        if !known {
            return Err(format!(
                "`${reference}` refers to a capture group the pattern does not have (it has {} numbered group(s){}); write `$$` for a literal `$`",
                pattern.captures_len() - 1,
                named_groups(pattern)
            ));
        }
        i += 1 + used;
    }
    Ok(())
}

fn named_groups(pattern: &Regex) -> String {
    let names: Vec<&str> = pattern.capture_names().flatten().collect();
    if names.is_empty() {
        String::new()
    } else {
        format!(" and named {}", names.join(", "))
    }
}

impl CompiledAction {
    fn plan<'r>(&'r self, context: &RequestContext) -> PlannedAction<'r> {
        let content = |c: &'r CompiledContent| {
            // Markup gets escaped values; text is escaped whole by lol_html on insertion.
            let escaping = if c.kind == Markup::Html {
                Escaping::Html
            } else {
                Escaping::None
            };
            (c.template.render(context, escaping), c.kind)
        };
        match self {
            CompiledAction::Insert(slot, c) => {
                let (text, kind) = content(c);
                PlannedAction::Insert(*slot, text, kind)
            }
            CompiledAction::Remove => PlannedAction::Remove,
            CompiledAction::Unwrap => PlannedAction::Unwrap,
            CompiledAction::SetAttribute { name, value } => {
                PlannedAction::SetAttribute(name, value.render(context, Escaping::Html))
            }
            CompiledAction::RemoveAttribute(name) => PlannedAction::RemoveAttribute(name),
            CompiledAction::RewriteAttribute {
                name,
                pattern,
                replacement,
            } => PlannedAction::RewriteAttribute(name, pattern, replacement),
            CompiledAction::RenameTag(tag) => PlannedAction::RenameTag(tag),
            CompiledAction::RemoveComments => PlannedAction::RemoveComments,
            CompiledAction::ReplaceComments(c) => {
                let (text, kind) = content(c);
                PlannedAction::ReplaceComments(text, kind)
            }
            CompiledAction::AppendToDocument(c) => {
                let (text, kind) = content(c);
                PlannedAction::AppendToDocument(text, kind)
            }
        }
    }
}

/// The rules that apply to one request, in order, ready to become lol_html handlers.
#[derive(Debug, Default)]
pub struct Plan<'r> {
    rules: Vec<PlannedRule<'r>>,
    not_applicable: Vec<&'r str>,
}

#[derive(Debug)]
struct PlannedRule<'r> {
    id: &'r str,
    selector: Option<&'r Selector>,
    actions: Vec<PlannedAction<'r>>,
}

#[derive(Debug)]
enum PlannedAction<'r> {
    Insert(Slot, Cow<'r, str>, Markup),
    Remove,
    Unwrap,
    SetAttribute(&'r str, Cow<'r, str>),
    RemoveAttribute(&'r str),
    RewriteAttribute(&'r str, &'r Regex, &'r str),
    RenameTag(&'r str),
    RemoveComments,
    ReplaceComments(Cow<'r, str>, Markup),
    AppendToDocument(Cow<'r, str>, Markup),
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
    /// the plan acted on (elements, comments, the document end).
    ///
    /// Order: handlers run in rule order, actions in the order written. lol_html puts each
    /// `after` and `prepend` closest to the element, so repeated calls come out reversed,
    /// and runs document-end handlers last registered first; those are therefore registered
    /// in reverse, so several insertions at one place come out in the order editors wrote.
    pub(crate) fn settings<'p>(&'p self, hits: &Rc<[Cell<u64>]>) -> Settings<'p, 'p> {
        let mut settings = Settings::new();
        let mut reversed_handlers = Vec::new();
        let mut document_end_handlers = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let count = Counter {
                hits: Rc::clone(hits),
                index,
            };
            let (element, comments, document) = split_by_scope(&rule.actions);
            let (reversed, in_order): (Vec<_>, Vec<_>) = element
                .into_iter()
                .partition(|action| inserts_in_reverse(action));
            let counted_in_order = !in_order.is_empty();
            if let (Some(selector), true) = (rule.selector, counted_in_order) {
                let count = count.clone();
                settings = settings.append_element_content_handler((
                    Cow::Borrowed(selector),
                    ElementContentHandlers::default().element(move |el: &mut Element| {
                        count.hit();
                        in_order
                            .iter()
                            .try_for_each(|action| apply_to_element(action, el))
                    }),
                ));
            }
            if let (Some(selector), false) = (rule.selector, reversed.is_empty()) {
                reversed_handlers.push((
                    selector,
                    reversed,
                    (!counted_in_order).then(|| count.clone()),
                ));
            }
            if !comments.is_empty() {
                let count = count.clone();
                let handler = move |comment: &mut Comment| {
                    count.hit();
                    comments
                        .iter()
                        .for_each(|action| apply_to_comment(action, comment));
                    Ok(())
                };
                settings = match rule.selector {
                    Some(selector) => settings.append_element_content_handler((
                        Cow::Borrowed(selector),
                        ElementContentHandlers::default().comments(handler),
                    )),
                    None => settings.append_document_content_handler(
                        DocumentContentHandlers::default().comments(handler),
                    ),
                };
            }
            if !document.is_empty() {
                document_end_handlers.push((document, count));
            }
        }
        // lol_html runs document-end handlers last registered first.
        for (actions, count) in document_end_handlers.into_iter().rev() {
            settings = settings.append_document_content_handler(
                DocumentContentHandlers::default().end(move |end: &mut DocumentEnd| {
                    count.hit();
                    actions
                        .iter()
                        .for_each(|action| apply_to_document_end(action, end));
                    Ok(())
                }),
            );
        }
        for (selector, actions, count) in reversed_handlers.into_iter().rev() {
            settings = settings.append_element_content_handler((
                Cow::Borrowed(selector),
                ElementContentHandlers::default().element(move |el: &mut Element| {
                    if let Some(count) = &count {
                        count.hit();
                    }
                    actions
                        .iter()
                        .rev()
                        .try_for_each(|action| apply_to_element(action, el))
                }),
            ));
        }
        settings
    }
}

/// Increments one rule's hit count.
#[derive(Clone)]
struct Counter {
    hits: Rc<[Cell<u64>]>,
    index: usize,
}

impl Counter {
    fn hit(&self) {
        let cell = &self.hits[self.index];
        cell.set(cell.get() + 1);
    }
}

type ActionRefs<'a, 'r> = Vec<&'a PlannedAction<'r>>;

fn split_by_scope<'a, 'r>(
    actions: &'a [PlannedAction<'r>],
) -> (ActionRefs<'a, 'r>, ActionRefs<'a, 'r>, ActionRefs<'a, 'r>) {
    let mut element = Vec::new();
    let mut comments = Vec::new();
    let mut document = Vec::new();
    for action in actions {
        match action {
            PlannedAction::RemoveComments | PlannedAction::ReplaceComments(..) => {
                comments.push(action)
            }
            PlannedAction::AppendToDocument(..) => document.push(action),
            _ => element.push(action),
        }
    }
    (element, comments, document)
}

fn inserts_in_reverse(action: &PlannedAction<'_>) -> bool {
    matches!(
        action,
        PlannedAction::Insert(Slot::After | Slot::Prepend, ..)
    )
}

fn apply_to_element(action: &PlannedAction<'_>, el: &mut Element) -> lol_html::HandlerResult {
    // Once an element is removed or replaced, lol_html would still emit content appended
    // inside it; editors expect it gone with the element. Only before/after still apply.
    if el.removed()
        && !matches!(
            action,
            PlannedAction::Insert(Slot::Before | Slot::After, ..)
        )
    {
        return Ok(());
    }
    match action {
        PlannedAction::Insert(slot, text, kind) => {
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
                && let Cow::Owned(rewritten) = pattern.replace_all(&value, *replacement)
            {
                el.set_attribute(name, &rewritten)?;
            }
        }
        PlannedAction::RenameTag(tag) => el.set_tag_name(tag)?,
        PlannedAction::RemoveComments
        | PlannedAction::ReplaceComments(..)
        | PlannedAction::AppendToDocument(..) => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    fn set(json: &str) -> (RuleSet, Vec<RuleError>) {
        RuleSet::from_entries(&[("test".to_owned(), json.to_owned())])
    }

    #[test]
    fn bad_selectors_are_errors_that_name_the_selector() {
        let (rules, errors) = set(r#"[{"id":"ok","selector":"p","actions":["remove"]},
                {"id":"bad","selector":"p:last-child","actions":["remove"]},
                {"id":"broken","selector":"p[","actions":["remove"]}]"#);
        assert_eq!(rules.rule_ids().collect::<Vec<_>>(), ["ok"]);
        assert_eq!(errors.len(), 2);
        assert_eq!(
            (errors[0].rule.as_str(), errors[0].field.as_str()),
            ("bad", "selector")
        );
        assert!(errors[0].reason.contains("`:last-child`"), "{}", errors[0]);
        assert_eq!(errors[1].rule, "broken");
    }

    #[test]
    fn disabled_rules_are_left_out_quietly() {
        let (rules, errors) =
            set(r#"{"id":"off","enabled":false,"selector":"p","actions":["remove"]}"#);
        assert!(rules.is_empty());
        assert!(errors.is_empty());
        assert_eq!(rules.disabled_ids().collect::<Vec<_>>(), ["off"]);
    }

    #[test]
    fn duplicate_ids_keep_the_first_rule() {
        let (rules, errors) = set(r#"[{"id":"twin","selector":"p","actions":["remove"]},
                {"id":"twin","selector":"div","actions":["remove"]}]"#);
        assert_eq!(rules.len(), 1);
        assert_eq!(errors[0].field, "id");
        assert!(
            errors[0].reason.contains("already has this id"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn plans_keep_only_rules_whose_conditions_hold() {
        let (rules, errors) = set(
            r#"[{"id":"news","selector":"body","when":{"path":{"prefix":"/news/"}},"actions":[{"append":{"text":"n"}}]},
                {"id":"all","selector":"body","actions":[{"append":{"text":"a"}}]}]"#,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let shop = rules.plan(&RequestContext::for_url("GET", "/shop/").unwrap());
        assert_eq!(shop.rule_ids().collect::<Vec<_>>(), ["all"]);
        assert_eq!(shop.not_applicable(), ["news"]);
        let news = rules.plan(&RequestContext::for_url("GET", "/news/x").unwrap());
        assert_eq!(news.rule_ids().collect::<Vec<_>>(), ["news", "all"]);
    }

    #[test]
    fn replacement_references_are_checked() {
        let pattern = compile_regex("^http://(?P<host>[^/]+)(/.*)$").unwrap();
        assert!(check_replacement(&pattern, "https://$host$2").is_ok());
        assert!(check_replacement(&pattern, "https://${host}${2}").is_ok());
        assert!(check_replacement(&pattern, "cost: $$5").is_ok());
        let err = check_replacement(&pattern, "https://$3").unwrap_err();
        assert!(
            err.contains("`$3`") && err.contains("2 numbered group(s) and named host"),
            "{err}"
        );
        assert!(check_replacement(&pattern, "${host").is_err());
    }
}
