//! `rewrite explain`: for a request and a page, which rules apply and how often each fired.
//! Shadow rules are listed apart: they are counted where they would act, and change nothing.

use std::io;

use edge_rewriter::http::format_rfc3339;
use edge_rewriter::{
    Report, RequestContext,
    include::{IncludeOutcome, IncludeResult},
};
use serde::Serialize;

use crate::fragments::LocalFragments;
use crate::inputs::{
    LoadedRules, RULES_OPTION, Rewritten, load_rules, open_page, report_rule_errors, request_context, rewrite_into,
};
use crate::{ExplainArgs, Format, out, schedule};

/// One rule's line: what it is, whether it applies to the request, how often it fired.
#[derive(Debug, Serialize)]
pub(crate) struct Row {
    id: Option<String>,
    entry: String,
    /// `yes`, `no`, `disabled` or `invalid`.
    applies: &'static str,
    /// `live` or `shadow` (would-be hits, the page unchanged).
    mode: &'static str,
    /// Times it acted (a shadow rule: would have acted); `None` when it did not run.
    fired: Option<u64>,
    note: String,
}

impl Row {
    fn name(&self) -> String {
        match &self.id {
            Some(id) => format!("{id} ({})", self.entry),
            None => format!("({})", self.entry),
        }
    }
}

pub fn run(args: &ExplainArgs) -> Result<i32, String> {
    let page_args = &args.page;
    let loaded = load_rules(&page_args.rules.rules, page_args.rules.draft.as_deref(), RULES_OPTION)?;
    report_rule_errors(&loaded);
    let context = request_context(&page_args.request)?;
    let page = open_page(&page_args.page)?;
    let fragments = LocalFragments::from_args(&page_args.request)?;
    let report = match rewrite_into(&loaded.rules, &context, page, io::sink(), &fragments)? {
        Rewritten::Done(done) => Some(done.report),
        Rewritten::PassedThrough(_) => None,
    };
    let rows = rows(&loaded, &context, report.as_ref());
    // Live rules only: a shadow rule that never fires is what its trial is there to find out.
    let never_fired =
        rows.iter().filter(|row| row.mode == "live" && row.applies == "yes" && row.fired == Some(0)).count();
    let rules = loaded.rules.len() + loaded.rules.disabled_ids().count();
    let scheduled = schedule::lines(&loaded.rules, &context);
    let includes: Vec<String> = report.iter().flat_map(|report| &report.includes).map(include_line).collect();
    // The service applies them to every response, rewritten or passed through.
    let header_edits: Vec<String> =
        loaded.rules.plan(&context).header_edits().iter().map(ToString::to_string).collect();
    let source = format!(
        "{}{}",
        page_args.rules.rules.display(),
        if page_args.rules.draft.is_some() { " with its draft" } else { "" }
    );
    match args.format.format {
        Format::Json => out::line(serde_json::json!({
            "method": context.method,
            "host": context.host,
            "path": context.path,
            "rules_from": source,
            "version": loaded.version,
            "entries": loaded.entries,
            "passed_through": report.is_none(),
            "rules": rows,
            "never_fired": never_fired,
            "at": format_rfc3339(context.now),
            "scheduled": scheduled,
            "includes": includes,
            "headers": header_edits,
            "cost": crate::costs::as_json(&loaded.rules),
        })),
        Format::Text => {
            out::line(format!(
                "{} {}{} — {} from {} in {source}",
                context.method,
                context.host,
                context.path,
                out::count(rules, "rule", "rules"),
                out::count(loaded.entries, "entry", "entries")
            ));
            let (live, shadow): (Vec<&Row>, Vec<&Row>) = rows.iter().partition(|row| row.mode == "live");
            print_table(&live, "fired");
            if !shadow.is_empty() {
                out::line("");
                out::line("shadow rules: counted where they would act; the page is unchanged");
                print_table(&shadow, "would fire");
            }
            if never_fired > 0 {
                let (rules, verb) = if never_fired == 1 { ("rule", "applies") } else { ("rules", "apply") };
                out::line(format!("{never_fired} {rules} {verb} to this request but never fired on this page"));
            }
            if !includes.is_empty() {
                out::line("");
                out::line("includes (fragments from --fragment / --fragments):");
                for line in &includes {
                    out::line(format!("  {line}"));
                }
            }
            if !header_edits.is_empty() {
                out::line("");
                out::line("header edits this response gets, in order (`apply --headers` shows the result):");
                for edit in &header_edits {
                    out::line(format!("  {edit}"));
                }
            }
            out::line("");
            crate::costs::print(&loaded.rules);
            if !scheduled.is_empty() {
                out::line("");
                out::line(format!(
                    "time windows, rollouts and experiments on this page, at {}:",
                    format_rfc3339(context.now)
                ));
                for line in &scheduled {
                    out::line(format!("  {line}"));
                }
            }
        }
    }
    Ok(loaded.exit_status())
}

/// What became of one include, for people.
fn include_line(include: &IncludeOutcome) -> String {
    let what = match &include.result {
        IncludeResult::Inserted => format!("inserted, {} bytes", include.bytes),
        IncludeResult::Fallback(why) => format!("fallback ({} bytes): {why}", include.bytes),
        IncludeResult::Cut(why) => format!("cut after {} bytes: {why}", include.bytes),
        IncludeResult::NotPlaced => "not placed: no element matched".to_owned(),
    };
    let places = if include.places > 1 { format!(" (in {} places)", include.places) } else { String::new() };
    format!("{} (rule {}): {what}{places}", include.path, include.rule)
}

/// A row per rule: those that may run in order, then disabled, then invalid ones.
pub(crate) fn rows(loaded: &LoadedRules, context: &RequestContext, report: Option<&Report>) -> Vec<Row> {
    let fired = |id: &str| {
        let report = report?;
        report.hits.iter().chain(&report.shadow_hits).find(|(hit, _)| hit == id).map(|(_, n)| *n)
    };
    let shadow: Vec<&str> = loaded.rules.shadow_ids().collect();
    let mut rows = Vec::new();
    for (id, entry) in loaded.rules.rules_by_entry() {
        let mode = if shadow.contains(&id) { "shadow" } else { "live" };
        let (applies, fired, note) = match (fired(id), loaded.rules.why_not(id, context)) {
            (_, Some(failing)) => ("no", None, format!("{failing} does not hold")),
            (Some(0), None) => {
                ("yes", Some(0), "NEVER FIRED on this page: its selector or pattern matched nothing".to_owned())
            }
            (Some(n), None) => ("yes", Some(n), String::new()),
            (None, None) => ("yes", None, "the response is passed through untouched".to_owned()),
        };
        rows.push(Row { id: Some(id.to_owned()), entry: entry.to_owned(), applies, mode, fired, note });
    }
    for id in loaded.rules.disabled_ids() {
        let note = "\"enabled\": false".to_owned();
        rows.push(Row {
            id: Some(id.to_owned()),
            entry: String::new(),
            applies: "disabled",
            mode: "live",
            fired: None,
            note,
        });
    }
    for error in &loaded.errors {
        // The note is the error as `validate` prints it.
        let note = loaded.source.describe(error);
        rows.push(Row {
            id: error.rule.clone(),
            // Its file, where the entry packs files, as the rules that apply are named.
            entry: error.file.clone().unwrap_or_else(|| error.entry.clone()),
            applies: "invalid",
            mode: "live",
            fired: None,
            note,
        });
    }
    rows
}

fn print_table(rows: &[&Row], fired: &str) {
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|row| {
            let name = if row.entry.is_empty() { row.id.clone().unwrap_or_default() } else { row.name() };
            let count = row.fired.map_or_else(|| "-".to_owned(), |n| n.to_string());
            [name, row.applies.to_owned(), count, row.note.clone()]
        })
        .collect();
    let header = ["rule (entry)".to_owned(), "applies".to_owned(), fired.to_owned()];
    let widths = [0, 1, 2].map(|column| {
        cells.iter().map(|row| row[column].chars().count()).chain([header[column].chars().count()]).max().unwrap_or(0)
    });
    let [w0, w1, w2] = widths;
    out::line(format!("{:<w0$}  {:<w1$}  {:>w2$}  note", header[0], header[1], header[2]));
    for [rule, applies, count, note] in &cells {
        out::line(format!("{rule:<w0$}  {applies:<w1$}  {count:>w2$}  {note}"));
    }
}
