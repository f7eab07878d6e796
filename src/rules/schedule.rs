//! What makes a rule's effect on a page depend on when and for whom: time windows, rollouts
//! and experiments, listed for editors (`rewrite explain`, the QA report) rather than run.

use super::StickyKey;
use super::compile::RuleSet;
use crate::http::request::RequestContext;

/// One thing a rule's effect depends on besides the request itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// `when.time`: from `start` (included) until `end` (excluded), in seconds since the Unix
    /// epoch.
    Window {
        /// When the window opens, if it has a start.
        start: Option<i64>,
        /// When it closes, if it has an end.
        end: Option<i64>,
    },
    /// `when.rollout`: a sticky share of clients.
    Rollout {
        /// The share, in percent.
        percent: f64,
        /// What tells clients apart.
        sticky_by: StickyKey,
    },
    /// The rule declares this experiment.
    Experiment {
        /// The experiment's id.
        id: String,
        /// Each variant's name and share of the experiment's visitors, in percent.
        variants: Vec<(String, f64)>,
        /// The namespace and the range of it (percent) the experiment takes, if it has one.
        namespace: Option<(String, [f64; 2])>,
    },
    /// `when.experiment`: the rule applies in this experiment, or in one of its variants.
    InExperiment {
        /// The experiment's id.
        id: String,
        /// The variant, if the rule names one.
        variant: Option<String>,
    },
}

/// A rule whose effect depends on time windows, rollouts or experiments.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled<'r> {
    /// The rule's id.
    pub rule: &'r str,
    /// The store entry it came from.
    pub entry: &'r str,
    /// What it depends on, in the order its conditions are written, an experiment it declares
    /// last.
    pub schedule: Vec<Schedule>,
}

impl RuleSet {
    /// The rules that may apply to this request at some time or for some visitor, but not
    /// always to everyone: the time windows, rollouts and experiments that affect its page.
    /// Rules that the request itself rules out (another path, another country) are left out.
    pub fn scheduled(&self, context: &RequestContext) -> Vec<Scheduled<'_>> {
        self.compiled()
            .iter()
            .filter(|rule| rule.condition.could_hold(context, &rule.id))
            .filter_map(|rule| {
                let mut schedule = rule.condition.schedule();
                if let Some(experiment) = &rule.experiment {
                    schedule.push(Schedule::Experiment {
                        id: experiment.id.clone(),
                        variants: experiment.variants.iter().map(|v| (v.name.clone(), v.percent)).collect(),
                        namespace: experiment.namespace.as_ref().map(|ns| (ns.name.clone(), ns.range)),
                    });
                }
                (!schedule.is_empty()).then_some(Scheduled { rule: &rule.id, entry: &rule.entry, schedule })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_that_depend_on_time_or_visitor_and_could_apply_are_listed() {
        let (rules, errors) = RuleSet::from_entries(&[(
            "e".into(),
            r#"[{"id": "sale", "selector": "body", "actions": ["remove"],
                 "when": {"path": {"prefix": "/shop/"}, "time": {"end": "2026-12-01T00:00:00Z"}}},
                {"id": "news-only", "selector": "body", "actions": ["remove"],
                 "when": {"path": {"prefix": "/news/"}, "rollout": {"percent": 10}}},
                {"id": "not-in-window", "selector": "body", "actions": ["remove"],
                 "when": {"not": {"any": [{"time": {"start": "2026-12-01T00:00:00Z"}}, {"host": {"equals": "x"}}]}}},
                {"id": "plain", "selector": "body", "actions": ["remove"]},
                {"id": "hero", "selector": "body", "experiment": {"id": "hero-2026",
                 "namespace": {"name": "home", "range": [0, 40]},
                 "variants": [{"name": "control", "weight": 1}, {"name": "big", "weight": 3, "actions": ["remove"]}]}},
                {"id": "hero-css", "selector": "head", "actions": ["remove"],
                 "when": {"experiment": {"id": "hero-2026", "variant": "big"}}}]"#
                .into(),
        )]);
        assert!(errors.is_empty(), "{errors:?}");
        let context = RequestContext::for_url("GET", "https://example.com/shop/hats").unwrap();
        let scheduled = rules.scheduled(&context);
        let ids: Vec<&str> = scheduled.iter().map(|s| s.rule).collect();
        assert_eq!(ids, ["sale", "not-in-window", "hero", "hero-css"], "news-only is for another path");
        assert_eq!(scheduled[0].schedule, [Schedule::Window { start: None, end: Some(1_796_083_200) }]);
        assert_eq!(
            scheduled[2].schedule,
            [Schedule::Experiment {
                id: "hero-2026".into(),
                variants: vec![("control".into(), 25.0), ("big".into(), 75.0)],
                namespace: Some(("home".into(), [0.0, 40.0])),
            }]
        );
        assert_eq!(
            scheduled[3].schedule,
            [Schedule::InExperiment { id: "hero-2026".into(), variant: Some("big".into()) }]
        );
        // On the host the `not` rules out, the unknown window no longer matters.
        let other = RequestContext::for_url("GET", "https://x/shop/").unwrap();
        assert!(!rules.scheduled(&other).iter().any(|s| s.rule == "not-in-window"));
    }
}
