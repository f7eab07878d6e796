//! `rewrite validate`: the service's own checks, with messages that say where to look.

use serde_json::json;

use crate::inputs::{LoadedRules, load_rules};
use crate::{Format, ValidateArgs, out};

pub fn run(args: &ValidateArgs) -> Result<i32, String> {
    let loaded = load_rules(&args.path, args.draft.as_deref())?;
    let rules = loaded.rules.len() + loaded.rules.disabled_ids().count();
    let problems = loaded.errors.len();
    match args.format.format {
        Format::Json => out::line(as_json(args, &loaded, rules)),
        Format::Text => {
            for error in &loaded.errors {
                out::line(loaded.source.describe(error));
            }
            // Warnings do not fail the check: the rules apply, though likely not as meant.
            for warning in loaded.rules.warnings() {
                out::line(format!("warning: {}", loaded.source.describe_warning(warning)));
            }
            out::line("estimated CPU, by the cost model (docs/RULES.md, Budgets):");
            for line in crate::costs::lines(&loaded.rules) {
                out::line(format!("  {line}"));
            }
            let warnings = loaded.rules.warnings().len();
            out::line(format!(
                "{}{}: {rules} valid rule(s) in {} entr{}, {problems} problem{}{}",
                args.path.display(),
                if args.draft.is_some() { " with its draft" } else { "" },
                loaded.entries,
                if loaded.entries == 1 { "y" } else { "ies" },
                if problems == 1 { "" } else { "s" },
                match warnings {
                    0 => String::new(),
                    1 => ", 1 warning".to_owned(),
                    n => format!(", {n} warnings"),
                }
            ));
        }
    }
    Ok(if problems > 0 { 1 } else { 0 })
}

/// The result as one JSON document: counts, then each problem and warning by its parts.
fn as_json(args: &ValidateArgs, loaded: &LoadedRules, rules: usize) -> serde_json::Value {
    let source = &loaded.source;
    let errors: Vec<serde_json::Value> = loaded
        .errors
        .iter()
        .map(|e| {
            finding(
                source.locate(&e.entry),
                &e.entry,
                e.rule.as_deref(),
                e.field.as_deref(),
                &e.reason,
                source.describe(e),
            )
        })
        .collect();
    let warnings: Vec<serde_json::Value> = loaded
        .rules
        .warnings()
        .iter()
        .map(|w| {
            finding(
                source.locate(&w.entry),
                &w.entry,
                Some(&w.rule),
                Some(&w.field),
                &w.reason,
                source.describe_warning(w),
            )
        })
        .collect();
    json!({
        "path": args.path.display().to_string(),
        "draft": args.draft.is_some(),
        "version": loaded.version,
        "entries": loaded.entries,
        "rules": rules,
        "ok": errors.is_empty(),
        "errors": errors,
        "warnings": warnings,
        "cost": crate::costs::as_json(&loaded.rules),
    })
}

/// One problem or warning: where (file, entry, rule, field), why, and the line `validate`
/// prints for it.
fn finding(
    file: String,
    entry: &str,
    rule: Option<&str>,
    field: Option<&str>,
    reason: &str,
    message: String,
) -> serde_json::Value {
    json!({ "file": file, "entry": entry, "rule": rule, "field": field, "reason": reason, "message": message })
}
