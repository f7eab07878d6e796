//! `rewrite explain`: for a request and a page, which rules apply and how often each fired.

use std::io;

use edge_rewriter::format_rfc3339;

use crate::PageArgs;
use crate::inputs::{Rewritten, load_rules, open_page, request_context, rewrite_into};
use crate::schedule;

pub fn run(args: &PageArgs) -> Result<i32, String> {
    let loaded = load_rules(&args.rules.rules)?;
    let context = request_context(&args.request)?;
    let page = open_page(&args.page)?;
    let hits = match rewrite_into(&loaded.rules, &context, page, io::sink())? {
        Rewritten::Done(done) => Some(done.report.hits),
        Rewritten::PassedThrough(_) => None,
    };
    println!(
        "{} {}{} — {} rules from {} entries in {}",
        context.method,
        context.host,
        context.path,
        loaded.rules.len() + loaded.rules.disabled_ids().count(),
        loaded.entries,
        args.rules.rules.display()
    );
    let mut rows: Vec<[String; 4]> = Vec::new();
    let mut never_fired = 0;
    for (id, entry) in loaded.rules.rules_by_entry() {
        let fired = hits.as_ref().and_then(|hits| hits.iter().find(|(hit, _)| hit == id)).map(|(_, n)| *n);
        let (applies, count, note) = match (fired, loaded.rules.why_not(id, &context)) {
            (_, Some(failing)) => ("no".to_owned(), "-".to_owned(), format!("{failing} does not hold")),
            (Some(0), None) => {
                never_fired += 1;
                (
                    "yes".to_owned(),
                    "0".to_owned(),
                    "NEVER FIRED on this page: its selector or pattern matched nothing".to_owned(),
                )
            }
            (Some(n), None) => ("yes".to_owned(), n.to_string(), String::new()),
            (None, None) => ("yes".to_owned(), "-".to_owned(), "the response is passed through untouched".to_owned()),
        };
        rows.push([format!("{id} ({entry})"), applies, count, note]);
    }
    for id in loaded.rules.disabled_ids() {
        rows.push([id.to_owned(), "disabled".to_owned(), "-".to_owned(), "\"enabled\": false".to_owned()]);
    }
    for error in &loaded.errors {
        // The row is named like the others, `rule (entry)`; the note is the error as
        // `validate` prints it.
        let name = match &error.rule {
            Some(rule) => format!("{rule} ({})", error.entry),
            None => format!("({})", error.entry),
        };
        rows.push([name, "invalid".to_owned(), "-".to_owned(), loaded.source.describe(error)]);
    }
    let widths = [0, 1, 2].map(|column| rows.iter().map(|row| row[column].chars().count()).max().unwrap_or(0).max(5));
    println!(
        "{:<w0$}  {:<w1$}  {:>w2$}  note",
        "rule (entry)",
        "applies",
        "fired",
        w0 = widths[0],
        w1 = widths[1],
        w2 = widths[2]
    );
    for [rule, applies, count, note] in &rows {
        println!("{rule:<w0$}  {applies:<w1$}  {count:>w2$}  {note}", w0 = widths[0], w1 = widths[1], w2 = widths[2]);
    }
    if never_fired > 0 {
        println!("{never_fired} rule(s) apply to this request but never fired on this page");
    }
    let scheduled = schedule::lines(&loaded.rules, &context);
    if !scheduled.is_empty() {
        println!("\ntime windows, rollouts and experiments on this page, at {}:", format_rfc3339(context.now));
        for line in scheduled {
            println!("  {line}");
        }
    }
    Ok(0)
}
