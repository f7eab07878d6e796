//! The HTML report `rewrite check --html` writes: for each fixture, the page as the origin
//! sent it and as rewritten, rendered side by side, then the source side by side with the
//! changed lines and words marked.

use edge_rewriter::escape_html as escape;
use similar::{ChangeTag, TextDiff};

use crate::diff::display_text;
use crate::outcome::{Outcome, Verdict};

const STYLE: &str = "
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f4f4f5; color: #18181b; }
header.top { background: #18181b; color: #fafafa; padding: 16px 24px; }
header.top h1 { margin: 0 0 4px; font-size: 20px; }
section.case { background: #fff; margin: 16px 24px; padding: 16px; border-radius: 8px; box-shadow: 0 1px 3px #0002; }
section.case h2 { margin: 0 0 4px; font-size: 17px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; margin-left: 8px; }
.ok { background: #dcfce7; color: #166534; } .fail { background: #fee2e2; color: #991b1b; } .blessed { background: #e0e7ff; color: #3730a3; }
.meta { color: #52525b; margin: 4px 0 12px; } pre.request { background: #f4f4f5; padding: 8px; margin: 0 0 12px; white-space: pre-wrap; }
.hits span { display: inline-block; margin: 0 6px 6px 0; padding: 1px 6px; border: 1px solid #d4d4d8; border-radius: 4px; font-size: 12px; }
.hits span.zero { color: #a1a1aa; }
ul.schedule { margin: 0 0 8px; padding-left: 18px; color: #3f3f46; font-size: 13px; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.pair h3 { margin: 8px 0 4px; font-size: 13px; color: #3f3f46; }
iframe { width: 100%; height: 360px; border: 1px solid #d4d4d8; border-radius: 4px; background: #fff; }
table.source { width: 100%; border-collapse: collapse; font: 12px/1.45 ui-monospace, monospace; table-layout: fixed; margin-top: 12px; }
table.source td { vertical-align: top; padding: 0 6px; white-space: pre-wrap; word-break: break-all; border-bottom: 1px solid #f4f4f5; }
table.source td.num { width: 3em; color: #a1a1aa; text-align: right; }
td.del { background: #fef2f2; } td.ins { background: #f0fdf4; }
td.del em { background: #fecaca; font-style: normal; } td.ins em { background: #bbf7d0; font-style: normal; }
tr.skip td { color: #a1a1aa; text-align: center; background: #fafafa; }
";

/// The report for these outcomes, a standalone HTML page.
pub fn html(outcomes: &[Outcome]) -> String {
    let failed = outcomes.iter().filter(|o| matches!(o.verdict, Verdict::Different | Verdict::NoExpected)).count();
    let mut out = String::with_capacity(64 << 10);
    out.push_str(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>edge-rewriter fixtures</title><style>",
    );
    out.push_str(STYLE);
    out.push_str("</style></head><body><header class=\"top\"><h1>edge-rewriter fixtures</h1>");
    out.push_str(&format!("<div>{} cases, {} failed</div></header>", outcomes.len(), failed));
    for outcome in outcomes {
        case_section(outcome, &mut out);
    }
    out.push_str("</body></html>\n");
    out
}

fn case_section(outcome: &Outcome, out: &mut String) {
    let case = &outcome.case;
    let (class, label) = match outcome.verdict {
        Verdict::Same => ("ok", "matches expected"),
        Verdict::Blessed => ("blessed", "blessed"),
        Verdict::Different => ("fail", "differs from expected"),
        Verdict::NoExpected => ("fail", "no expected output"),
    };
    out.push_str(&format!(
        "<section class=\"case\" id=\"{name}\"><h2>{name}<span class=\"badge {class}\">{label}</span></h2><div class=\"meta\">{desc} &middot; page <code>{page}</code> &middot; {ct}</div><pre class=\"request\">{req}</pre>",
        name = escape(&case.name),
        desc = escape(&case.description),
        page = escape(&case.page),
        ct = escape(&case.content_type),
        req = escape(case.request.trim()),
    ));
    match &outcome.report {
        Some(report) => {
            out.push_str("<div class=\"hits\">");
            for (id, hits) in &report.hits {
                let zero = if *hits == 0 { " class=\"zero\"" } else { "" };
                out.push_str(&format!("<span{zero}>{} &times;{hits}</span>", escape(id)));
            }
            out.push_str("</div>");
        }
        None => out.push_str("<div class=\"hits\"><span>passed through untouched</span></div>"),
    }
    if !outcome.schedule.is_empty() {
        out.push_str("<ul class=\"schedule\" title=\"time windows, rollouts and experiments\">");
        for line in &outcome.schedule {
            out.push_str(&format!("<li>{}</li>", escape(line)));
        }
        out.push_str("</ul>");
    }
    let before = display_text(&outcome.original, &outcome.context);
    let after = display_text(&outcome.rewritten, &outcome.context);
    // Rendered: sandboxed (no scripts, no navigation), the page's own markup.
    out.push_str("<div class=\"pair\"><div><h3>origin</h3>");
    out.push_str(&format!(
        "<iframe sandbox title=\"{} as the origin sent it\" srcdoc=\"{}\"></iframe>",
        escape(&case.name),
        escape(&before)
    ));
    out.push_str("</div><div><h3>rewritten</h3>");
    out.push_str(&format!(
        "<iframe sandbox title=\"{} rewritten\" srcdoc=\"{}\"></iframe>",
        escape(&case.name),
        escape(&after)
    ));
    out.push_str("</div></div>");
    source_table(&before, &after, out);
    out.push_str("</section>");
}

/// The source side by side: changed lines coloured, changed words marked, long unchanged
/// stretches folded.
fn source_table(before: &str, after: &str, out: &mut String) {
    let diff = TextDiff::from_lines(before, after);
    out.push_str("<table class=\"source\">");
    for (index, group) in diff.grouped_ops(2).iter().enumerate() {
        if index > 0 {
            out.push_str("<tr class=\"skip\"><td colspan=\"4\">&hellip;</td></tr>");
        }
        for op in group {
            let mut left = Vec::new();
            let mut right = Vec::new();
            for change in diff.iter_inline_changes(op) {
                let mut cell = String::new();
                for (emphasized, text) in change.iter_strings_lossy() {
                    let text = escape(text.trim_end_matches('\n'));
                    if emphasized { cell.push_str(&format!("<em>{text}</em>")) } else { cell.push_str(&text) }
                }
                match change.tag() {
                    ChangeTag::Equal => {
                        left.push((change.old_index(), cell.clone(), ""));
                        right.push((change.new_index(), cell, ""));
                    }
                    ChangeTag::Delete => left.push((change.old_index(), cell, "del")),
                    ChangeTag::Insert => right.push((change.new_index(), cell, "ins")),
                }
            }
            for row in 0..left.len().max(right.len()) {
                out.push_str("<tr>");
                for side in [&left, &right] {
                    match side.get(row) {
                        Some((number, cell, class)) => out.push_str(&format!(
                            "<td class=\"num\">{}</td><td class=\"{class}\">{cell}</td>",
                            number.map(|n| (n + 1).to_string()).unwrap_or_default()
                        )),
                        None => out.push_str("<td class=\"num\"></td><td></td>"),
                    }
                }
                out.push_str("</tr>");
            }
        }
    }
    out.push_str("</table>");
}
