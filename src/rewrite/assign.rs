//! Which variant of each experiment one request gets, before any rule is planned: conditions
//! (`when.experiment`) and templates (`{{experiment.ID}}`) of every rule see the same answer.

use std::borrow::Cow;

use crate::http::request::RequestContext;
use crate::rules::compile::RuleSet;
use crate::rules::experiment::{AssignedBy, Assignment, CompiledExperiment, CompiledVariant, Outside};

/// Every experiment whose rule's conditions hold for one request, and its outcome, in rule
/// order.
#[derive(Debug, Default)]
pub(crate) struct Assignments<'r> {
    outcomes: Vec<Outcome<'r>>,
}

#[derive(Debug)]
struct Outcome<'r> {
    rule: &'r str,
    experiment: &'r CompiledExperiment,
    assignment: Assignment<'r>,
}

impl<'r> Assignments<'r> {
    /// Assigns this request in each experiment of `rules` whose declaring rule's conditions
    /// hold (those conditions name no experiment, so the order does not matter).
    pub(crate) fn of(rules: &'r RuleSet, context: &RequestContext) -> Self {
        let outcomes = rules
            .compiled()
            .iter()
            .filter_map(|rule| {
                let experiment = rule.experiment.as_ref()?;
                rule.condition.holds(context, &rule.id).then(|| Outcome {
                    rule: &rule.id,
                    experiment,
                    assignment: experiment.assign(context),
                })
            })
            .collect();
        Assignments { outcomes }
    }

    /// The request as conditions and templates see it once assigned: its
    /// [`variants`](RequestContext::variants) are the ones assigned (forced ones included),
    /// and nothing else. A copy only when they differ from the request's.
    pub(crate) fn context<'c>(&self, context: &'c RequestContext) -> Cow<'c, RequestContext> {
        let variants: Vec<(String, String)> =
            self.assigned().map(|(experiment, variant, _)| (experiment.to_owned(), variant.to_owned())).collect();
        if variants == context.variants {
            return Cow::Borrowed(context);
        }
        Cow::Owned(RequestContext { variants, ..context.clone() })
    }

    /// `(experiment id, variant, how)` for each experiment this request is in.
    pub(crate) fn assigned(&self) -> impl Iterator<Item = (&'r str, &'r str, AssignedBy)> + '_ {
        self.outcomes.iter().filter_map(|outcome| match outcome.assignment {
            Assignment::In { variant, by } => Some((outcome.experiment.id.as_str(), variant.name.as_str(), by)),
            Assignment::Out(_) => None,
        })
    }

    /// The variant the rule `rule` (which declares an experiment) applies for this request.
    pub(crate) fn variant_of(&self, rule: &str) -> Option<&'r CompiledVariant> {
        self.outcomes.iter().find(|outcome| outcome.rule == rule).and_then(|outcome| match outcome.assignment {
            Assignment::In { variant, .. } => Some(variant),
            Assignment::Out(_) => None,
        })
    }

    /// What keeps this request out of the experiment the rule `rule` declares, when its
    /// conditions hold but the visitor is not in it.
    pub(crate) fn outside(&self, rule: &str) -> Option<Outside> {
        self.outcomes.iter().find(|outcome| outcome.rule == rule).and_then(|outcome| match outcome.assignment {
            Assignment::Out(outside) => Some(outside),
            Assignment::In { .. } => None,
        })
    }

    /// Whether any experiment considered this request: its page then depends on who asks,
    /// even when the visitor is outside every experiment (another would not be).
    pub(crate) fn per_visitor(&self) -> bool {
        !self.outcomes.is_empty()
    }
}
