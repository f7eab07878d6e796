//! `rewrite validate`: the service's own checks, with messages that say where to look.

use serde_json::json;

use crate::inputs::{LoadedRules, load_rules};
use crate::{Format, ValidateArgs, out};

pub fn run(args: &ValidateArgs) -> Result<i32, String> {
    let loaded = load_rules(&args.path, args.draft.as_deref(), "PATH (`rewrite validate PATH`)")?;
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
            crate::costs::print(&loaded.rules);
            let warnings = loaded.rules.warnings().len();
            let place = match loaded.files {
                Some(files) => format!(
                    "{} ({} once packed)",
                    out::count(files, "file", "files"),
                    out::count(loaded.entries, "store entry", "store entries")
                ),
                None => out::count(loaded.entries, "entry", "entries"),
            };
            out::line(format!(
                "{}{}: {} in {place}, {}{}",
                args.path.display(),
                if args.draft.is_some() { " with its draft" } else { "" },
                out::count(rules, "valid rule", "valid rules"),
                out::count(problems, "problem", "problems"),
                if warnings == 0 {
                    String::new()
                } else {
                    format!(", {}", out::count(warnings, "warning", "warnings"))
                }
            ));
        }
    }
    Ok(if problems > 0 { 1 } else { 0 })
}

/// The result as one JSON document: counts, then each problem and warning by its parts.
fn as_json(args: &ValidateArgs, loaded: &LoadedRules, rules: usize) -> serde_json::Value {
    let (errors, warnings) = findings(loaded);
    json!({
        "path": args.path.display().to_string(),
        "draft": args.draft.is_some(),
        "version": loaded.version,
        "entries": loaded.entries,
        "files": loaded.files,
        "rules": rules,
        "ok": errors.is_empty(),
        "errors": errors,
        "warnings": warnings,
        "cost": crate::costs::as_json(&loaded.rules),
    })
}

/// Each problem and each warning by its parts (file, entry, rule, field, reason) and the
/// line `validate` prints for it.
pub(crate) fn findings(loaded: &LoadedRules) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let source = &loaded.source;
    let errors: Vec<serde_json::Value> = loaded
        .errors
        .iter()
        .map(|e| {
            finding(
                source.locate(&e.entry, e.file.as_deref()),
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
                source.locate(&w.entry, w.file.as_deref()),
                &w.entry,
                Some(&w.rule),
                Some(&w.field),
                &w.reason,
                source.describe_warning(w),
            )
        })
        .collect();
    (errors, warnings)
}

/// One problem or warning: where (file, entry, rule, field), why, and the line `validate`
/// prints for it.
fn finding(
    path: String,
    entry: &str,
    rule: Option<&str>,
    field: Option<&str>,
    reason: &str,
    message: String,
) -> serde_json::Value {
    json!({ "file": path, "entry": entry, "rule": rule, "field": field, "reason": reason, "message": message })
}
