//! What a request alone decides about its page, before the origin answers: the edge cache's
//! key is made from this, so that two requests that share a stored page would have been given
//! the same bytes and headers whatever the response turns out to be.
//!
//! The response's facts (status, content type) are unknown here. Each rule's condition is
//! reduced to what the response must still answer ([`Residual`]): settled false, the rule
//! contributes only that; otherwise its residual (the open part of its condition, a formula
//! over the response's facts) and every value its templates read from the request. An
//! experiment whose declaring rule may apply is assigned as if it does: its residual, its
//! consent's residual and the variant(s) the visitor gets either way are in the key, so
//! `when.experiment` and `{{experiment.ID}}` are settled by it.

use super::plan::Plan;
use crate::http::request::RequestContext;
use crate::rules::actions::{CompiledAction, Scope};
use crate::rules::compile::{CompiledRule, RuleSet};
use crate::rules::conditions::Residual;
use crate::rules::experiment::{AssignedBy, Assignment, CompiledExperiment};

/// A request's page as far as the request decides it (see the module's doc).
#[derive(Debug)]
pub struct Prospect<'r> {
    rules: &'r RuleSet,
    request: &'r RequestContext,
    experiments: Vec<ExperimentProspect<'r>>,
    /// Each rule's residual, in rule order.
    residuals: Vec<Residual>,
}

/// An experiment before the response.
#[derive(Debug)]
struct ExperimentProspect<'r> {
    experiment: &'r CompiledExperiment,
    /// Whether the declaring rule's condition admits the request.
    considered: Residual,
    /// Whether the experiment's consent holds (settled true without a consent condition).
    consent: Residual,
    /// The visitor's outcome for each answer consent may still give: one, or two when the
    /// response decides consent.
    outcomes: Vec<Assignment<'r>>,
}

impl<'r> Prospect<'r> {
    /// What `request` alone decides about its page under `rules`.
    pub fn of(rules: &'r RuleSet, request: &'r RequestContext) -> Self {
        let unused = |_: &str, _: Option<&str>| None;
        // Declaring rules and consent conditions test no experiment (refused when compiled).
        let experiments = rules
            .compiled()
            .iter()
            .filter_map(|rule| {
                let experiment = rule.experiment.as_ref()?;
                let considered = rule.condition.residual(request, &rule.id, &unused);
                let consent = experiment
                    .consent()
                    .map_or(Residual::Settled(true), |consent| consent.residual(request, &experiment.id, &unused));
                let outcomes = match consent {
                    Residual::Settled(consented) => vec![experiment.assign_given(request, consented)],
                    Residual::Open(_) => {
                        vec![experiment.assign_given(request, true), experiment.assign_given(request, false)]
                    }
                };
                Some(ExperimentProspect { experiment, considered, consent, outcomes })
            })
            .collect();
        let mut prospect = Prospect { rules, request, experiments, residuals: Vec::new() };
        let in_experiment = |id: &str, variant: Option<&str>| prospect.in_experiment(id, variant);
        let residuals =
            rules.compiled().iter().map(|rule| rule.condition.residual(request, &rule.id, &in_experiment)).collect();
        prospect.residuals = residuals;
        prospect
    }

    /// Whether the request is in the experiment `id` (in `variant`, if given), when the
    /// request alone decides.
    fn in_experiment(&self, id: &str, variant: Option<&str>) -> Option<bool> {
        let Some(prospect) = self.experiments.iter().find(|prospect| prospect.experiment.id == id) else {
            return Some(false);
        };
        let answers = prospect.outcomes.iter().map(|outcome| match outcome {
            Assignment::In { variant: assigned, .. } => variant.is_none_or(|wanted| wanted == assigned.name),
            Assignment::Out(_) => false,
        });
        let (mut any_in, mut all_in) = (false, true);
        for answer in answers {
            any_in |= answer;
            all_in &= answer;
        }
        match &prospect.considered {
            Residual::Settled(false) => Some(false),
            _ if !any_in => Some(false),
            Residual::Settled(true) if all_in => Some(true),
            _ => None,
        }
    }

    /// The request the prospect is for.
    pub(crate) fn request(&self) -> &RequestContext {
        self.request
    }

    /// The rule set it was made with.
    pub(crate) fn rules(&self) -> &RuleSet {
        self.rules
    }

    /// Why the page must never be kept in the edge cache, whatever the response: a rule that
    /// may apply includes fragments (which keep their own freshness), or QA forced a variant.
    pub fn never_cached(&self) -> Option<&'static str> {
        let forced = self.experiments.iter().any(|prospect| {
            prospect.considered.may_hold()
                && prospect
                    .outcomes
                    .iter()
                    .any(|outcome| matches!(outcome, Assignment::In { by: AssignedBy::Forced, .. }))
        });
        if forced {
            return Some("a variant is forced (QA)");
        }
        let includes = self.live_rules().any(|(rule, _)| {
            self.possible_actions(rule).iter().flat_map(|actions| actions.iter()).any(|(_, action)| action.is_include())
        });
        includes.then_some("a rule that may apply includes fragments, which keep their own freshness")
    }

    /// Whether an experiment may consider the request: then only the plan made with the
    /// response says which variants it shows and whether the visitor gets a cookie.
    pub fn may_assign(&self) -> bool {
        self.experiments.iter().any(|prospect| prospect.considered.may_hold())
    }

    /// The rules that change the page and may apply, with their residuals. Shadow rules
    /// change nothing (an experiment they declare is among the experiments).
    fn live_rules(&self) -> impl Iterator<Item = (&'r CompiledRule, &Residual)> + '_ {
        self.rules.compiled().iter().zip(&self.residuals).filter(|(rule, residual)| !rule.shadow && residual.may_hold())
    }

    /// The actions `rule` may take: its own, or the variants' the visitor may get.
    fn possible_actions(&self, rule: &'r CompiledRule) -> Vec<&'r [(Scope, CompiledAction)]> {
        let Some(experiment) = &rule.experiment else { return vec![&rule.actions] };
        self.experiments
            .iter()
            .filter(|prospect| std::ptr::eq(prospect.experiment, experiment))
            .flat_map(|prospect| &prospect.outcomes)
            .filter_map(|outcome| match outcome {
                Assignment::In { variant, .. } => Some(variant.actions.as_slice()),
                Assignment::Out(_) => None,
            })
            .collect()
    }

    /// Feeds `field` everything the page may depend on besides the URL and the rule set:
    /// each experiment's residuals and outcomes, each live rule's residual and the request
    /// values its templates read. Equal fields, equal page for any response.
    pub(crate) fn key_fields(&self, field: &mut dyn FnMut(&[u8])) {
        for prospect in &self.experiments {
            field(prospect.experiment.id.as_bytes());
            residual_field(&prospect.considered, field);
            if !prospect.considered.may_hold() {
                continue;
            }
            residual_field(&prospect.consent, field);
            for outcome in &prospect.outcomes {
                match outcome {
                    Assignment::In { variant, by } => {
                        field(variant.name.as_bytes());
                        field(if *by == AssignedBy::Forced { b"forced" } else { b"assigned" });
                    }
                    Assignment::Out(_) => field(b"out"),
                }
            }
        }
        for (index, rule) in self.rules.compiled().iter().enumerate() {
            if rule.shadow {
                continue;
            }
            let residual = &self.residuals[index];
            field(&(index as u64).to_le_bytes());
            residual_field(residual, field);
            if !residual.may_hold() {
                continue;
            }
            for actions in self.possible_actions(rule) {
                for template in actions.iter().flat_map(|(_, action)| action.templates()) {
                    template.request_values(self.request, &mut |value| field(value.as_bytes()));
                }
            }
        }
    }

    /// The plan the page will be rewritten with if the response is `status` and
    /// `content_type` (a stored page's, on a hit: its experiments and the visitor's cookie).
    pub fn plan_for(&self, status: u16, content_type: Option<&str>) -> Plan<'r> {
        let context = RequestContext { status, content_type: content_type.map(str::to_owned), ..self.request.clone() };
        Plan::new(self.rules, &context)
    }
}

fn residual_field(residual: &Residual, field: &mut dyn FnMut(&[u8])) {
    match residual {
        Residual::Settled(false) => field(b"0"),
        Residual::Settled(true) => field(b"1"),
        Residual::Open(formula) => field(format!("?{formula}").as_bytes()),
    }
}
