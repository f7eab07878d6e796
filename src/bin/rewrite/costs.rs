//! What each rule costs the guest by the cost model (`validate` and `explain` print it):
//! per MB of a typical page and to compile, and the set's totals against its budgets, so
//! editors see the price before publishing.

use edge_rewriter::{
    RuleSet,
    cost::{BUDGETS, REASONABLE_PAGE_BYTES, format_ms},
};
use serde_json::json;

/// The set's budget named `name`, in guest nanoseconds.
fn budget_ns(name: &str) -> u64 {
    BUDGETS.iter().find(|budget| budget.name == name).and_then(|budget| budget.per_set).unwrap_or(0) as u64
}

/// Prints each rule's estimated CPU under a heading (nothing for a set without valid rules).
pub fn print(rules: &RuleSet) {
    let lines = lines(rules);
    if !lines.is_empty() {
        crate::out::line("estimated CPU, by the cost model (docs/RULES.md, Budgets):");
        for line in lines {
            crate::out::line(format!("  {line}"));
        }
    }
}

/// One line per rule, then the set's totals; nothing for a set without valid rules.
fn lines(rules: &RuleSet) -> Vec<String> {
    if rules.costs().next().is_none() {
        return Vec::new();
    }
    let mut lines: Vec<String> = rules
        .costs()
        .zip(rules.rules_by_entry())
        .map(|((id, cost), (_, entry))| format!("{id} [{entry}]: {}", estimate(cost.page_ns_per_mb(), cost.compile_ns)))
        .collect();
    let (page, compile) = totals(rules);
    let on_page = |ns_per_mb: u64| format_ms(ns_per_mb * REASONABLE_PAGE_BYTES / 1_000_000);
    lines.push(format!(
        "the set: {} per MB ({} on a {} KB page; it may cost {} per MB), {} to compile (it may take {})",
        format_ms(page),
        on_page(page),
        REASONABLE_PAGE_BYTES >> 10,
        format_ms(budget_ns("page CPU")),
        format_ms(compile),
        format_ms(budget_ns("compile CPU"))
    ));
    lines
}

/// One rule's estimate in words: `0.3 ms per MB of a typical page, 0.01 ms to compile`.
pub fn estimate(page_ns_per_mb: u64, compile_ns: u64) -> String {
    format!("{} per MB of a typical page, {} to compile", format_ms(page_ns_per_mb), format_ms(compile_ns))
}

/// The same as JSON: each rule's milliseconds, and the set's.
pub fn as_json(rules: &RuleSet) -> serde_json::Value {
    let ms = |ns: u64| (ns as f64 / 1e4).round() / 1e2;
    let each: Vec<serde_json::Value> = rules
        .costs()
        .map(
            |(id, cost)| json!({ "id": id, "ms_per_mb": ms(cost.page_ns_per_mb()), "compile_ms": ms(cost.compile_ns) }),
        )
        .collect();
    let (page, compile) = totals(rules);
    json!({ "rules": each, "ms_per_mb": ms(page), "compile_ms": ms(compile) })
}

fn totals(rules: &RuleSet) -> (u64, u64) {
    rules.costs().fold((0, 0), |(page, compile), (_, cost)| (page + cost.page_ns_per_mb(), compile + cost.compile_ns))
}
