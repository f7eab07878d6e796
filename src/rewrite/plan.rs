//! A request's [`Plan`]: the rules whose conditions hold for it, in order, each action with
//! its templates filled in for this request.

use lol_html::Selector;

use crate::http::request::RequestContext;
use crate::rules::actions::{PlannedAction, Scope};
use crate::rules::compile::RuleSet;

/// The rules that apply to one request, in order, ready to become lol_html handlers.
#[derive(Debug, Default)]
pub struct Plan<'r> {
    pub(crate) rules: Vec<PlannedRule<'r>>,
    pub(crate) not_applicable: Vec<&'r str>,
}

/// One rule that applies.
#[derive(Debug)]
pub(crate) struct PlannedRule<'r> {
    pub id: &'r str,
    pub selector: Option<&'r Selector>,
    /// The selector as written, to tell rules with the same scope.
    pub selector_source: Option<&'r str>,
    /// Each action, with the part of the page it works on.
    pub actions: Vec<(Scope, PlannedAction<'r>)>,
    /// Counted where it would act, never applied (`"mode": "shadow"`).
    pub shadow: bool,
}

impl<'r> Plan<'r> {
    /// The rules of `rules` whose conditions hold for this request, templates filled in.
    pub(crate) fn new(rules: &'r RuleSet, context: &RequestContext) -> Plan<'r> {
        let mut plan = Plan::default();
        for rule in rules.compiled() {
            if !rule.condition.holds(context, &rule.id) {
                plan.not_applicable.push(&rule.id);
                continue;
            }
            let actions = rule.actions.iter().map(|(scope, action)| (*scope, action.plan(context))).collect();
            plan.rules.push(PlannedRule {
                id: &rule.id,
                selector: rule.selector.as_ref(),
                selector_source: rule.selector_source.as_deref(),
                actions,
                shadow: rule.shadow,
            });
        }
        plan
    }

    /// The ids of the rules that apply and change the page, in order.
    pub fn rule_ids(&self) -> impl Iterator<Item = &'r str> + '_ {
        self.rules.iter().filter(|rule| !rule.shadow).map(|rule| rule.id)
    }

    /// The ids of the shadow rules that apply: counted, never changing the page.
    pub fn shadow_ids(&self) -> impl Iterator<Item = &'r str> + '_ {
        self.rules.iter().filter(|rule| rule.shadow).map(|rule| rule.id)
    }

    /// The ids of the rules whose conditions do not hold for this request.
    pub fn not_applicable(&self) -> &[&'r str] {
        &self.not_applicable
    }

    /// How many rules apply, shadow rules included.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when no rule applies.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}
