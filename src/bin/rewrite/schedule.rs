//! What `explain` and the QA report say about the time windows, rollouts and experiments
//! that affect a page: when each window opens and closes, whom each rollout and experiment
//! takes, what this request gets, and when the page changes next.

use edge_rewriter::http::format_rfc3339;
use edge_rewriter::{
    RequestContext, RuleSet,
    language::{Schedule, StickyKey},
};

/// One line per rule whose effect on this page depends on time or visitor, then the next
/// instant a time window opens or closes, if one is ahead.
pub fn lines(rules: &RuleSet, context: &RequestContext) -> Vec<String> {
    let plan = rules.plan(context);
    let applying: Vec<&str> = plan.rule_ids().collect();
    let assigned: Vec<(&str, &str)> = plan.experiments().collect();
    let mut lines = Vec::new();
    let mut next_change: Option<(i64, String)> = None;
    for scheduled in rules.scheduled(context) {
        let parts: Vec<String> =
            scheduled.schedule.iter().map(|schedule| describe(schedule, context.now, &assigned)).collect();
        let verdict = match rules.why_not(scheduled.rule, context) {
            None if applying.contains(&scheduled.rule) => "applies".to_owned(),
            None => "does not apply".to_owned(),
            Some(failing) => format!("does not apply ({failing} does not hold)"),
        };
        lines.push(format!("{} ({}): {}; {verdict}", scheduled.rule, scheduled.entry, parts.join("; ")));
        for schedule in &scheduled.schedule {
            if let Schedule::Window { start, end } = schedule {
                let ahead = [(start, "opens"), (end, "closes")]
                    .into_iter()
                    .filter_map(|(at, what)| Some((at.filter(|at| *at > context.now)?, what)));
                for (at, what) in ahead {
                    if next_change.as_ref().is_none_or(|(next, _)| at < *next) {
                        next_change = Some((at, format!("{}'s window {what}", scheduled.rule)));
                    }
                }
            }
        }
    }
    if let Some((at, what)) = next_change {
        lines.push(format!("next change: {} ({what}); see it with --at {}", format_rfc3339(at), format_rfc3339(at)));
    }
    lines
}

/// One thing a rule depends on, as editors read it, at the instant `now`; `assigned` are
/// the request's `(experiment, variant)` pairs.
fn describe(schedule: &Schedule, now: i64, assigned: &[(&str, &str)]) -> String {
    match schedule {
        Schedule::Window { start, end } => {
            let from = start.map_or(String::new(), |start| format!(" from {}", format_rfc3339(start)));
            let until = end.map_or(String::new(), |end| format!(" until {}", format_rfc3339(end)));
            let state = match (start, end) {
                (Some(start), _) if now < *start => "not open yet",
                (_, Some(end)) if now >= *end => "closed",
                _ => "open",
            };
            format!("time window{from}{until}, {state}")
        }
        Schedule::Rollout { percent, sticky_by } => {
            let key = match sticky_by {
                StickyKey::ClientIp => "the client's IP".to_owned(),
                StickyKey::Cookie(name) => format!("the cookie {name}"),
                StickyKey::Header(name) => format!("the header {name}"),
            };
            format!("rollout to {}% of clients by {key}", percent_text(*percent))
        }
        Schedule::Experiment { id, variants, namespace } => {
            let split: Vec<String> =
                variants.iter().map(|(name, percent)| format!("{name} {}%", percent_text(*percent))).collect();
            let namespace = namespace.as_ref().map_or(String::new(), |(name, [from, to])| {
                format!(", {}% to {}% of namespace {name}", percent_text(*from), percent_text(*to))
            });
            let gets = match assigned.iter().find(|(experiment, _)| experiment == id) {
                Some((_, variant)) => format!("this request gets {variant}"),
                None => "this request is not in it".to_owned(),
            };
            format!("experiment {id} ({}{namespace}), {gets}", split.join(", "))
        }
        Schedule::InExperiment { id, variant } => match variant {
            Some(variant) => format!("only in variant {variant} of experiment {id}"),
            None => format!("only in experiment {id}"),
        },
    }
}

/// `12.5`, `33.33`, `50`: two decimals at most, no trailing zeros.
fn percent_text(percent: f64) -> String {
    let text = format!("{percent:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}
