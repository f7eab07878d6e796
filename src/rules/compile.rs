//! Rules checked and compiled once ([`RuleSet`]), to be planned per request
//! ([`crate::rewrite::plan`]).
//!
//! Everything that can be wrong with a rule is found here, before any byte of a page is
//! read: selectors are parsed with `str::parse` (never the panicking `element!` macro),
//! regexes and templates are compiled, names are checked. A rule that fails is reported
//! and left out while the others still apply.

use std::collections::HashMap;

use lol_html::Selector;
use sha2::{Digest, Sha256};

use super::actions::{CompiledAction, Scope, compile_action};
use super::budget::{Cost, Spent};
use super::conditions::Condition;
use super::dependence::Dependence;
use super::selector::parse_selector;
use super::{Action, FieldError, Mode, Rule, RuleError, RuleWarning, SourcedRule, parse_entry};
use crate::http::request::RequestContext;
use crate::rewrite::plan::Plan;

/// Rules ready to run: each selector parsed, each action and condition checked. Build it
/// once per rule-set version (the service caches it); [`plan`](Self::plan) it per request.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    disabled: Vec<String>,
    /// SHA-256 of the entries the set was compiled from: names a rule-set version in cache
    /// keys, the same on every instance and machine.
    digest: [u8; 32],
    dependence: Dependence,
    warnings: Vec<RuleWarning>,
}

/// One rule, compiled.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub id: String,
    pub entry: String,
    pub selector: Option<Selector>,
    /// The selector as written, to tell rules with the same scope.
    pub selector_source: Option<String>,
    pub condition: Condition,
    /// Each action with the part of the page it works on.
    pub actions: Vec<(Scope, CompiledAction)>,
    /// Counts what it would change without changing the page (`"mode": "shadow"`).
    pub shadow: bool,
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
        let (mut set, compile_errors) = RuleSet::compile(rules);
        errors.extend(compile_errors);
        let mut hasher = Sha256::new();
        for (name, text) in entries {
            for part in [name, text] {
                hasher.update((part.len() as u64).to_le_bytes());
                hasher.update(part.as_bytes());
            }
        }
        set.digest = hasher.finalize().into();
        (set, errors)
    }

    /// Compiles parsed rules. Disabled rules are left out without an error; a rule whose id
    /// an earlier rule already uses is refused.
    pub(crate) fn compile(rules: Vec<SourcedRule>) -> (RuleSet, Vec<RuleError>) {
        let mut set = RuleSet::default();
        let mut errors = Vec::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut spent = Spent::default();
        for SourcedRule { entry, rule, warnings } in rules {
            if let Some(first_entry) = seen.get(&rule.id) {
                let reason = format!(
                    "another rule already has this id (in entry {first_entry:?}); ids must be unique: \
                     logs and hit counts name rules by id"
                );
                errors.push(FieldError::new("id", reason).in_rule(entry, rule.id));
                continue;
            }
            seen.insert(rule.id.clone(), entry.clone());
            set.warnings.extend(warnings);
            if !rule.enabled {
                set.disabled.push(rule.id);
                continue;
            }
            let admitted = compile_rule(&rule, &entry, &spent).and_then(|(compiled, cost)| {
                cost.check_rule().and_then(|()| spent.admit(&cost))?;
                Ok(compiled)
            });
            match admitted {
                Ok(compiled) => {
                    compiled.condition.depend(&mut set.dependence);
                    compiled.actions.iter().for_each(|(_, action)| action.depend(&mut set.dependence));
                    set.rules.push(compiled);
                }
                Err(err) => errors.push(err.in_rule(entry, rule.id)),
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

    /// The ids of the shadow rules (`"mode": "shadow"`): they count, they change nothing.
    pub fn shadow_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().filter(|rule| rule.shadow).map(|rule| rule.id.as_str())
    }

    /// Why the rule `id` does not apply to this request: the first of its conditions that
    /// does not hold (`when.path`), or `None` when they all hold (or there is no such rule).
    pub fn why_not(&self, id: &str, context: &RequestContext) -> Option<String> {
        let rule = self.rules.iter().find(|rule| rule.id == id)?;
        rule.condition.first_failing(context, &rule.id)
    }

    /// What looks wrong in rules that are valid (they still apply): a regex with a JSON
    /// backspace for `\b`, inserted HTML that leaves an element open.
    pub fn warnings(&self) -> &[RuleWarning] {
        &self.warnings
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
        Plan::new(self, context)
    }

    /// SHA-256 of the store entries the set was read from.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    /// What the set's output may depend on besides the URL (headers and cookies its
    /// conditions read, facts downstream caches cannot see, the clock).
    pub fn dependence(&self) -> &Dependence {
        &self.dependence
    }

    /// The compiled rules, in order.
    pub(crate) fn compiled(&self) -> &[CompiledRule] {
        &self.rules
    }
}

/// Compiles one rule and says what it costs against the budgets.
fn compile_rule(rule: &Rule, entry: &str, spent: &Spent) -> Result<(CompiledRule, Cost), FieldError> {
    if rule.actions.is_empty() {
        return Err(FieldError::new("actions", "the rule has no actions; add at least one, e.g. [\"remove\"]"));
    }
    let mut cost = Cost::default();
    let selector = match rule.selector.as_deref().map(parse_selector).transpose() {
        Ok(Some((selector, shape))) => {
            cost.selector_parts.add("selector", shape.parts);
            Some(selector)
        }
        Ok(None) => None,
        Err(err) => return Err(FieldError::new("selector", err)),
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
        compiled.add_cost(&format!("actions[{index}].{}", action.name()), &mut cost);
    }
    let actions = rule.actions.iter().map(Action::scope).zip(actions).collect();
    let compiled = CompiledRule {
        id: rule.id.clone(),
        entry: entry.to_owned(),
        selector_source: rule.selector.clone(),
        selector,
        condition,
        actions,
        shadow: rule.mode == Mode::Shadow,
    };
    Ok((compiled, cost))
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
        assert_eq!((errors[0].rule.as_deref(), errors[0].field.as_deref()), (Some("bad"), Some("selector")));
        assert!(errors[0].reason.contains("`:last-child`"), "{}", errors[0]);
        assert_eq!(errors[1].rule.as_deref(), Some("broken"));
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
        assert_eq!(errors[0].field.as_deref(), Some("id"));
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
}
