//! Rules checked and compiled once ([`RuleSet`]), then planned per request ([`Plan`]): the
//! rules whose conditions hold, with their templates filled in, as lol_html handlers.
//!
//! Everything that can be wrong with a rule is found here, before any byte of a page is
//! read: selectors are parsed with `str::parse` (never the panicking `element!` macro),
//! regexes and templates are compiled, names are checked. A rule that fails is reported
//! and left out while the others still apply.

use std::collections::HashMap;

use lol_html::Selector;

use crate::rules::budget::{Cost, RegexRoom, Spent};
use crate::rules::conditions::Condition;
use crate::rewrite::handlers::{Markup, Plan, PlannedAction, PlannedRule, Slot, TextRule};
use crate::http::csp::with_nonce;
use crate::rules::pattern::{Pattern, Use};
use crate::http::request::RequestContext;
use crate::rules::{Action, Content, ReplaceText, Rule, RuleError, SourcedRule, TextTarget, parse_entry};
use crate::rules::selector::parse_selector;
use crate::rules::template::{Landing, Template};
use crate::rewrite::text::{Finder, MAX_REFERENCE_LEN, REGEX_HOLD_LIMIT};

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
    entry: String,
    selector: Option<Selector>,
    selector_source: Option<String>,
    condition: Condition,
    actions: Vec<CompiledAction>,
}

#[derive(Debug, Clone)]
enum CompiledAction {
    Insert(Slot, CompiledContent),
    Remove,
    Unwrap,
    SetAttribute { name: String, value: Template },
    RemoveAttribute(String),
    RewriteAttribute { name: String, pattern: Pattern, replacement: String },
    RenameTag(String),
    RemoveComments,
    ReplaceComments(CompiledContent),
    AppendToDocument(CompiledContent),
    ReplaceText(Box<TextRule>),
}

#[derive(Debug, Clone)]
struct CompiledContent {
    template: Template,
    kind: Markup,
}

/// Which part of a page an action works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Elements: needs a selector.
    Element,
    /// Comments and text: inside the selected elements, or everywhere without a selector.
    Content,
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
        let mut spent = Spent::default();
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
            let admitted = compile_rule(&rule, &entry, &spent).and_then(|(compiled, cost)| {
                cost.check_rule().and_then(|()| spent.admit(&cost)).map_err(|over| (over.field, over.reason))?;
                Ok(compiled)
            });
            match admitted {
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

    /// Each rule that may run, in order: its id and the store entry it came from.
    pub fn rules_by_entry(&self) -> impl Iterator<Item = (&str, &str)> {
        self.rules.iter().map(|rule| (rule.id.as_str(), rule.entry.as_str()))
    }

    /// Why the rule `id` does not apply to this request: the first of its conditions that
    /// does not hold (`when.path`), or `None` when they all hold (or there is no such rule).
    pub fn why_not(&self, id: &str, context: &RequestContext) -> Option<String> {
        let rule = self.rules.iter().find(|rule| rule.id == id)?;
        rule.condition.first_failing(context, &rule.id)
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
            let actions = rule.actions.iter().map(|action| action.plan(context)).collect();
            plan.rules.push(PlannedRule {
                id: &rule.id,
                selector: rule.selector.as_ref(),
                selector_source: rule.selector_source.as_deref(),
                actions,
            });
        }
        plan
    }
}

/// Compiles one rule and says what it costs against the budgets.
fn compile_rule(rule: &Rule, entry: &str, spent: &Spent) -> Result<(CompiledRule, Cost), (String, String)> {
    if rule.actions.is_empty() {
        return Err(("actions".into(), "the rule has no actions; add at least one, e.g. [\"remove\"]".into()));
    }
    let mut cost = Cost::default();
    let selector = match rule.selector.as_deref().map(parse_selector).transpose() {
        Ok(Some((selector, shape))) => {
            cost.selector_parts.add("selector", shape.parts);
            Some(selector)
        }
        Ok(None) => None,
        Err(reason) => return Err(("selector".to_owned(), reason)),
    };
    let mut room = spent.regex_room();
    let condition = match &rule.when {
        Some(when) => Condition::compile(when, "when", &mut room)?,
        None => Condition::default(),
    };
    let actions: Vec<CompiledAction> = rule
        .actions
        .iter()
        .enumerate()
        .map(|(index, action)| compile_action(action, index, selector.is_some(), &mut room))
        .collect::<Result<_, _>>()?;
    cost.regex_memory = room.into_spend();
    for (index, (action, compiled)) in rule.actions.iter().zip(&actions).enumerate() {
        compiled.add_cost(&format!("actions[{index}].{}", action_name(action)), &mut cost);
    }
    let compiled = CompiledRule {
        id: rule.id.clone(),
        entry: entry.to_owned(),
        selector_source: rule.selector.clone(),
        selector,
        condition,
        actions,
    };
    Ok((compiled, cost))
}

fn compile_action(
    action: &Action,
    index: usize,
    has_selector: bool,
    room: &mut RegexRoom,
) -> Result<CompiledAction, (String, String)> {
    let name = action_name(action);
    let field = |sub: &str| {
        if sub.is_empty() { format!("actions[{index}].{name}") } else { format!("actions[{index}].{name}.{sub}") }
    };
    match (scope(action), has_selector) {
        (Scope::Element, false) => {
            return Err((
                "selector".into(),
                format!("`{name}` acts on elements: give the rule a selector, e.g. \"selector\": \"body\""),
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
    let content = |content: &Content| compile_content(content).map_err(|(sub, reason)| (field(sub), reason));
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
            let value = Template::parse(&set.value, &Landing::Attribute(set.name.clone()))
                .map_err(|reason| (field("value"), reason))?;
            CompiledAction::SetAttribute { name: set.name.clone(), value }
        }
        Action::RemoveAttribute(name) => {
            check_attribute_name(name).map_err(|reason| (field(""), reason))?;
            CompiledAction::RemoveAttribute(name.clone())
        }
        Action::RewriteAttribute(rewrite) => {
            check_attribute_name(&rewrite.name).map_err(|reason| (field("name"), reason))?;
            let pattern = Pattern::regex(&rewrite.pattern, Use::Page).map_err(|reason| (field("pattern"), reason))?;
            room.take(&field("pattern"), pattern.memory()).map_err(|over| (over.field, over.reason))?;
            check_replacement(&pattern, &rewrite.replacement).map_err(|reason| (field("replacement"), reason))?;
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
        Action::ReplaceText(replace) => {
            let rule = compile_text_rule(replace).map_err(|(sub, reason)| (field(sub), reason))?;
            let regex = match &rule.finder {
                Finder::Exact { .. } => None,
                Finder::AnyCase { regex, .. } => Some(("find", regex)),
                Finder::Pattern { regex } => Some(("regex", regex)),
            };
            if let Some((sub, regex)) = regex {
                room.take(&field(sub), regex.memory()).map_err(|over| (over.field, over.reason))?;
            }
            CompiledAction::ReplaceText(Box::new(rule))
        }
    })
}

/// The text kinds `replace_text` changes when the rule does not say.
const DEFAULT_TEXT_TARGETS: [TextTarget; 2] = [TextTarget::Text, TextTarget::Title];

fn compile_text_rule(rule: &ReplaceText) -> Result<TextRule, (&'static str, String)> {
    let flags = if rule.case_insensitive { "(?i)" } else { "" };
    let finder = match (&rule.find, &rule.regex) {
        (Some(find), None) => {
            if find.is_empty() {
                return Err(("find", "the text to find is empty".into()));
            }
            Finder::literal(find, rule.case_insensitive).map_err(|reason| ("find", reason))?
        }
        (None, Some(pattern)) => {
            let regex = Pattern::regex(&format!("{flags}{pattern}"), Use::Page)
                .map_err(|reason| ("regex", reason.replace(&format!("{flags}{pattern}"), pattern)))?;
            if regex.is_match("") {
                return Err((
                    "regex",
                    format!(
                        "the regex {pattern:?} matches empty text, so it would insert the replacement between every character; make it match at least one character"
                    ),
                ));
            }
            check_replacement(&regex, &rule.replace).map_err(|reason| ("replace", reason))?;
            Finder::Pattern { regex }
        }
        (Some(_), Some(_)) => {
            return Err(("", "give `find` (literal text) or `regex`, not both".into()));
        }
        (None, None) => {
            return Err(("", "say what to look for: `find` (literal text) or `regex`".into()));
        }
    };
    if rule.max == Some(0) {
        return Err(("max", "0 replacements would do nothing; leave `max` out to replace every match".into()));
    }
    let targets = match &rule.targets {
        Some(targets) if targets.is_empty() => {
            return Err(("in", "an empty list changes nothing; leave `in` out for text and titles".into()));
        }
        Some(targets) => targets.clone(),
        None => DEFAULT_TEXT_TARGETS.to_vec(),
    };
    Ok(TextRule { finder, replacement: rule.replace.clone(), max: rule.max, targets })
}

fn compile_content(content: &Content) -> Result<CompiledContent, (&'static str, String)> {
    let (text, kind, field, landing) = match content {
        Content::Html(text) => (text, Markup::Html, "html", Landing::Markup),
        Content::Text(text) => (text, Markup::Text, "text", Landing::Text),
    };
    let template = Template::parse(text, &landing).map_err(|reason| (field, reason))?;
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
        Action::ReplaceText(_) => "replace_text",
    }
}

fn scope(action: &Action) -> Scope {
    match action {
        Action::RemoveComments | Action::ReplaceComments(_) | Action::ReplaceText(_) => Scope::Content,
        Action::AppendToDocument(_) => Scope::Document,
        _ => Scope::Element,
    }
}

/// Attribute names lol_html would refuse at run time are refused here instead.
fn check_attribute_name(name: &str) -> Result<(), String> {
    let bad = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '>' | '/' | '=' | '<');
    if name.is_empty() || name.chars().any(bad) {
        return Err(format!("{name:?} is not an attribute name (no spaces, quotes, `<`, `>`, `/` or `=`)"));
    }
    Ok(())
}

fn check_tag_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(format!("{name:?} is not a tag name (a letter, then letters, digits, `-` or `_`)"));
    }
    Ok(())
}

/// `$2` in a replacement for a regex with one group silently inserts nothing; say so now.
fn check_replacement(pattern: &Pattern, replacement: &str) -> Result<(), String> {
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
            let len = rest.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
            (&rest[..len], len)
        };
        let known = match reference.parse::<usize>() {
            Ok(group) => group < pattern.group_count(),
            Err(_) => reference.is_empty() || pattern.group_names().any(|name| name == reference),
        };
        if !known {
            return Err(format!(
                "`${reference}` refers to a capture group the pattern does not have (it has {} numbered group(s){}); write `$$` for a literal `$`",
                pattern.group_count() - 1,
                named_groups(pattern)
            ));
        }
        i += 1 + used;
    }
    Ok(())
}

fn named_groups(pattern: &Pattern) -> String {
    let names: Vec<&str> = pattern.group_names().collect();
    if names.is_empty() { String::new() } else { format!(" and named {}", names.join(", ")) }
}

impl CompiledAction {
    /// Adds what this action costs against the budgets; `field` is where it is written.
    fn add_cost(&self, field: &str, cost: &mut Cost) {
        if let CompiledAction::ReplaceText(rule) = self {
            let held = match &rule.finder {
                Finder::Exact { pattern, .. } => pattern.len() + MAX_REFERENCE_LEN,
                Finder::AnyCase { pattern, .. } => pattern.len() * 4 + MAX_REFERENCE_LEN,
                Finder::Pattern { .. } => REGEX_HOLD_LIMIT,
            };
            cost.held_text.add(field, held);
            cost.text_rules.add(field, 1);
        }
    }

    fn plan<'r>(&'r self, context: &RequestContext) -> PlannedAction<'r> {
        let content = |c: &'r CompiledContent| match c.kind {
            // Markup gets values escaped where they land, and the page's CSP nonce on the
            // scripts and styles an editor wrote.
            Markup::Html => {
                let html = c.template.render(context);
                let html = match &context.csp_nonce {
                    Some(nonce) => with_nonce(html, nonce),
                    None => html,
                };
                (html, Markup::Html)
            }
            // Text is escaped whole by lol_html on insertion.
            Markup::Text => (c.template.render(context), Markup::Text),
        };
        match self {
            CompiledAction::Insert(slot, c) => {
                let (text, kind) = content(c);
                PlannedAction::Insert(*slot, text, kind, c.template.has_variables())
            }
            CompiledAction::Remove => PlannedAction::Remove,
            CompiledAction::Unwrap => PlannedAction::Unwrap,
            CompiledAction::SetAttribute { name, value } => PlannedAction::SetAttribute(name, value.render(context)),
            CompiledAction::RemoveAttribute(name) => PlannedAction::RemoveAttribute(name),
            CompiledAction::RewriteAttribute { name, pattern, replacement } => {
                PlannedAction::RewriteAttribute(name, pattern, replacement)
            }
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
            CompiledAction::ReplaceText(rule) => PlannedAction::ReplaceText(rule),
        }
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
        assert_eq!((errors[0].rule.as_str(), errors[0].field.as_str()), ("bad", "selector"));
        assert!(errors[0].reason.contains("`:last-child`"), "{}", errors[0]);
        assert_eq!(errors[1].rule, "broken");
    }

    #[test]
    fn disabled_rules_are_left_out_quietly() {
        let (rules, errors) = set(r#"{"id":"off","enabled":false,"selector":"p","actions":["remove"]}"#);
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
        assert!(errors[0].reason.contains("already has this id"), "{}", errors[0]);
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
        let pattern = Pattern::regex("^http://(?P<host>[^/]+)(/.*)$", Use::Page).unwrap();
        assert!(check_replacement(&pattern, "https://$host$2").is_ok());
        assert!(check_replacement(&pattern, "https://${host}${2}").is_ok());
        assert!(check_replacement(&pattern, "cost: $$5").is_ok());
        let err = check_replacement(&pattern, "https://$3").unwrap_err();
        assert!(err.contains("`$3`") && err.contains("2 numbered group(s) and named host"), "{err}");
        assert!(check_replacement(&pattern, "${host").is_err());
    }
}
