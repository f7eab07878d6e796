//! A request's [`Plan`]: the rules whose conditions hold for it, in order, each action with
//! its templates filled in for this request, and the experiment variants it was assigned.

use std::borrow::Cow;

use lol_html::Selector;

use super::assign::Assignments;
use super::include::{self, PlannedInclude, new_token};
use crate::http::header_edit::HeaderEdit;
use crate::http::request::RequestContext;
use crate::rules::actions::{CompiledAction, PlannedAction, Scope};
use crate::rules::compile::{CompiledRule, RuleSet};
use crate::rules::cost::{PARSE_NS_PER_BYTE, RuleCost};
use crate::rules::experiment::AssignedBy;

/// The rules that apply to one request, in order, ready to become lol_html handlers.
#[derive(Debug, Default)]
pub struct Plan<'r> {
    pub(crate) rules: Vec<PlannedRule<'r>>,
    pub(crate) not_applicable: Vec<&'r str>,
    /// `(experiment, variant, how)` for each experiment the request is in.
    experiments: Vec<(&'r str, &'r str, AssignedBy)>,
    per_visitor: bool,
    new_visitor_id: Option<String>,
    /// The includes of live rules, numbered as their markers say.
    includes: Vec<PlannedInclude>,
    /// The random token in this page's include markers (empty without includes).
    include_token: String,
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
    /// Element actions act on the first this many matches only.
    pub max: Option<u64>,
    /// What it costs, by the cost model: the CPU meter's weights for its handlers.
    pub cost: &'r RuleCost,
}

/// Planning is the rewrite layer's: it lives here, beside [`Plan`], so that `rules` never
/// imports `rewrite`.
impl RuleSet {
    /// The rules whose conditions hold for this request, templates filled in.
    pub fn plan(&self, context: &RequestContext) -> Plan<'_> {
        Plan::new(self, context)
    }

    /// Why the rule `id` does not apply to this request: the first of its conditions that
    /// does not hold (`when.path`), or what keeps the visitor out of the experiment it
    /// declares (`experiment.consent`); `None` when it applies (or there is no such rule).
    pub fn why_not(&self, id: &str, context: &RequestContext) -> Option<String> {
        let rule = self.compiled().iter().find(|rule| rule.id == id)?;
        let assignments = Assignments::of(self, context);
        let context = assignments.context(context);
        if let Some(failing) = rule.condition.first_failing(&context, &rule.id) {
            return Some(failing);
        }
        assignments.outside(&rule.id).map(|outside| outside.field().to_owned())
    }
}

impl<'r> Plan<'r> {
    /// The rules of `rules` whose conditions hold for this request, templates filled in.
    pub(crate) fn new(rules: &'r RuleSet, context: &RequestContext) -> Plan<'r> {
        let assignments = Assignments::of(rules, context);
        let context = assignments.context(context);
        let mut plan = Plan {
            experiments: assignments.assigned().collect(),
            per_visitor: assignments.per_visitor(),
            ..Plan::default()
        };
        if plan.experiments.iter().any(|(_, _, by)| *by == AssignedBy::NewVisitor) {
            plan.new_visitor_id.clone_from(&context.new_visitor_id);
        }
        for rule in rules.compiled() {
            match planned_actions(rule, &assignments, &context) {
                Some(mut actions) => {
                    if !rule.shadow {
                        plan.number_includes(rule, &mut actions);
                    }
                    plan.rules.push(PlannedRule {
                        id: &rule.id,
                        selector: rule.selector.as_ref(),
                        selector_source: rule.selector_source.as_deref(),
                        actions,
                        shadow: rule.shadow,
                        max: rule.max,
                        cost: &rule.cost,
                    })
                }
                None => plan.not_applicable.push(&rule.id),
            }
        }
        plan
    }

    /// Gives each include of a rule its number and marker, and keeps it for the fetches.
    fn number_includes(&mut self, rule: &CompiledRule, actions: &mut [(Scope, PlannedAction<'r>)]) {
        for (_, action) in actions {
            if let PlannedAction::Include(_, include, marker) = action {
                if self.include_token.is_empty() {
                    self.include_token = new_token();
                }
                include.rule.clone_from(&rule.id);
                include.repeats = rule.max != Some(1);
                *marker = include::marker(&self.include_token, self.includes.len());
                self.includes.push(PlannedInclude::clone(include));
            }
        }
    }

    /// The fragments this page includes, in the order their markers are numbered: the
    /// adapter sends their requests as soon as the plan is known.
    pub fn includes(&self) -> &[PlannedInclude] {
        &self.includes
    }

    /// The token of this page's include markers.
    pub(crate) fn include_token(&self) -> &str {
        &self.include_token
    }

    /// The experiments this request is in and the variant of each, in rule order: what the
    /// page shows and the log line records, and what a cache of rewritten pages keys on (the
    /// variant, never the visitor).
    pub fn experiments(&self) -> impl Iterator<Item = (&'r str, &'r str)> + '_ {
        self.experiments.iter().map(|(experiment, variant, _)| (*experiment, *variant))
    }

    /// Whether a variant was forced (QA): the page is not what a visitor would get.
    pub fn forced(&self) -> bool {
        self.experiments.iter().any(|(_, _, by)| *by == AssignedBy::Forced)
    }

    /// Whether the page depends on who asks: an experiment considered this request, whether
    /// or not the visitor ended up in it. Shared caches must not keep such a page
    /// (`Cache-Control: private`).
    pub fn per_visitor(&self) -> bool {
        self.per_visitor
    }

    /// The new visitor id ([`RequestContext::new_visitor_id`]) a variant was assigned by: the
    /// response must give the visitor the cookie holding it, so it keeps its variants.
    pub fn new_visitor_id(&self) -> Option<&str> {
        self.new_visitor_id.as_deref()
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

    /// The changes the live rules make to the response's headers, in rule order, values
    /// filled in: for whoever holds the response to apply before its headers leave
    /// ([`crate::http::apply_header_edits`]). Shadow rules make none.
    pub fn header_edits(&self) -> Vec<HeaderEdit> {
        self.live_header_edits().cloned().collect()
    }

    /// Whether a live rule gives the visitor a cookie: the response is then that visitor's
    /// own, and no cache of rewritten pages may keep it.
    pub fn sets_cookie(&self) -> bool {
        self.live_header_edits().any(HeaderEdit::sets_cookie)
    }

    /// Estimated guest nanoseconds per byte of typical page, lol_html's parsing and every
    /// rule's work (the cost model): what sizes the slices the CPU meter feeds lol_html.
    pub(crate) fn ns_per_byte(&self) -> u64 {
        let rules: u64 = self.rules.iter().map(|rule| rule.cost.page_ns_per_mb()).sum();
        u64::from(PARSE_NS_PER_BYTE) + rules / 1_000_000
    }

    /// Every source the live rules' `csp_add` adds, for the page's `<meta>` policies.
    pub(crate) fn csp_additions(&self) -> Vec<(String, Vec<String>)> {
        self.live_header_edits()
            .filter_map(|edit| match edit {
                HeaderEdit::CspAdd { additions } => Some(additions.iter().cloned()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    fn live_header_edits(&self) -> impl Iterator<Item = &HeaderEdit> {
        self.rules.iter().filter(|rule| !rule.shadow).flat_map(|rule| &rule.actions).filter_map(|(_, action)| {
            match action {
                PlannedAction::Header(edit) => Some(edit),
                _ => None,
            }
        })
    }
}

/// The actions `rule` takes for this request with their templates filled in, or `None` when
/// it does not apply: its conditions fail, or it declares an experiment the visitor is not
/// in. An experiment's rule takes its variant's actions, after marking its elements with the
/// variant's name if asked to.
fn planned_actions<'r>(
    rule: &'r CompiledRule,
    assignments: &Assignments<'r>,
    context: &RequestContext,
) -> Option<Vec<(Scope, PlannedAction<'r>)>> {
    let plan =
        |actions: &'r [(Scope, CompiledAction)]| actions.iter().map(|(scope, action)| (*scope, action.plan(context)));
    let Some(experiment) = &rule.experiment else {
        return rule.condition.holds(context, &rule.id).then(|| plan(&rule.actions).collect());
    };
    let variant = assignments.variant_of(&rule.id)?;
    let mark = experiment
        .attribute
        .as_deref()
        .map(|name| (Scope::Element, PlannedAction::SetAttribute(name, Cow::Borrowed(variant.name.as_str()))));
    Some(mark.into_iter().chain(plan(&variant.actions)).collect())
}
