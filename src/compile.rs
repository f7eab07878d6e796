//! Rules, checked and turned into lol_html handlers.
//!
//! Everything that can be wrong with a rule is found here, once, before any byte of a page
//! is read: selectors are parsed with `str::parse` (never the panicking `element!` macro),
//! and a rule that fails is reported and left out while the others still apply.

use std::borrow::Cow;
use std::cell::Cell;
use std::rc::Rc;

use lol_html::html_content::{ContentType, Element};
use lol_html::{ElementContentHandlers, Selector, Settings};

use crate::rules::{Action, Content, RuleError, SourcedRule, parse_entry};

/// Rules ready to drive a rewriter: each selector parsed, each action checked.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<CompiledRule>,
}

#[derive(Debug, Clone)]
struct CompiledRule {
    id: String,
    selector: Selector,
    actions: Vec<Action>,
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

    /// Compiles parsed rules. Disabled rules are left out without an error.
    pub fn compile(rules: Vec<SourcedRule>) -> (RuleSet, Vec<RuleError>) {
        let mut compiled = Vec::with_capacity(rules.len());
        let mut errors = Vec::new();
        for SourcedRule { entry, rule } in rules {
            if !rule.enabled {
                continue;
            }
            if rule.actions.is_empty() {
                errors.push(RuleError::new(
                    entry,
                    rule.id,
                    "actions",
                    "the rule has no actions; add at least one, e.g. [\"remove\"]",
                ));
                continue;
            }
            let selector = match rule.selector.parse::<Selector>() {
                Ok(selector) => selector,
                Err(err) => {
                    let reason = format!("{:?} cannot be used: {err}", rule.selector);
                    errors.push(RuleError::new(entry, rule.id, "selector", reason));
                    continue;
                }
            };
            compiled.push(CompiledRule {
                id: rule.id,
                selector,
                actions: rule.actions,
            });
        }
        (RuleSet { rules: compiled }, errors)
    }

    /// The ids of the rules that will run, in order.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|rule| rule.id.as_str())
    }

    /// How many rules will run.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when no rule will run.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// lol_html settings whose handlers apply these rules; `hits[i]` counts the elements
    /// rule `i` acted on.
    ///
    /// lol_html puts each `after` and `prepend` call closest to the element, so repeated calls
    /// come out in reverse. Those actions are therefore registered in reverse, after all the
    /// others, and several insertions at one place come out in the order editors wrote them.
    pub(crate) fn settings<'r>(&'r self, hits: &Rc<[Cell<u64>]>) -> Settings<'r, 'r> {
        let mut settings = Settings::new();
        let mut reversed_handlers = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let (reversed, in_order): (Vec<&Action>, Vec<&Action>) = rule
                .actions
                .iter()
                .partition(|action| inserts_in_reverse(action));
            let count_here = !in_order.is_empty();
            if count_here {
                let hits = Rc::clone(hits);
                let handler = move |el: &mut Element| {
                    hits[index].set(hits[index].get() + 1);
                    in_order.iter().for_each(|action| apply(action, el));
                    Ok(())
                };
                settings = settings.append_element_content_handler((
                    Cow::Borrowed(&rule.selector),
                    ElementContentHandlers::default().element(handler),
                ));
            }
            if !reversed.is_empty() {
                reversed_handlers.push((index, &rule.selector, reversed, !count_here));
            }
        }
        for (index, selector, actions, count_here) in reversed_handlers.into_iter().rev() {
            let hits = Rc::clone(hits);
            let handler = move |el: &mut Element| {
                if count_here {
                    hits[index].set(hits[index].get() + 1);
                }
                actions.iter().rev().for_each(|action| apply(action, el));
                Ok(())
            };
            settings = settings.append_element_content_handler((
                Cow::Borrowed(selector),
                ElementContentHandlers::default().element(handler),
            ));
        }
        settings
    }
}

fn inserts_in_reverse(action: &Action) -> bool {
    matches!(action, Action::After(_) | Action::Prepend(_))
}

fn apply(action: &Action, el: &mut Element) {
    match action {
        Action::Before(content) => el.before(content.body(), content.kind()),
        Action::After(content) => el.after(content.body(), content.kind()),
        Action::Prepend(content) => el.prepend(content.body(), content.kind()),
        Action::Append(content) => el.append(content.body(), content.kind()),
        Action::Replace(content) => el.replace(content.body(), content.kind()),
        Action::SetInner(content) => el.set_inner_content(content.body(), content.kind()),
        Action::Remove => el.remove(),
    }
}

impl Content {
    fn body(&self) -> &str {
        match self {
            Content::Html(body) | Content::Text(body) => body,
        }
    }

    fn kind(&self) -> ContentType {
        match self {
            Content::Html(_) => ContentType::Html,
            Content::Text(_) => ContentType::Text,
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
        assert_eq!(
            (errors[0].rule.as_str(), errors[0].field.as_str()),
            ("bad", "selector")
        );
        assert!(
            errors[0].reason.contains("\"p:last-child\""),
            "{}",
            errors[0]
        );
        assert_eq!(errors[1].rule, "broken");
    }

    #[test]
    fn disabled_rules_are_left_out_quietly() {
        let (rules, errors) =
            set(r#"{"id":"off","enabled":false,"selector":"p","actions":["remove"]}"#);
        assert!(rules.is_empty());
        assert!(errors.is_empty());
    }

    #[test]
    fn a_rule_without_actions_is_an_error() {
        let (rules, errors) = set(r#"{"id":"idle","selector":"p","actions":[]}"#);
        assert!(rules.is_empty());
        assert_eq!(errors[0].field, "actions");
    }
}
