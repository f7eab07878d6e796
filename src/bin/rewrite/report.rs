//! The HTML report `rewrite check --html` writes, for QA to see regressions at a glance:
//!
//! * a summary at the top (cases, failed) with a link to each failure;
//! * failures first; for each, the expected output beside the actual one, changed words
//!   marked;
//! * for every case, what each rule did (shadow rules apart), the page as the origin sent it
//!   and as rewritten, rendered side by side, and the source side by side with the changed
//!   words marked.
//!
//! Pages are shown decoded in their own charset. It stays quick to open however large the
//! pages: long lines are cut to what changed, a table shows at most [`MAX_ROWS`] lines,
//! large pages are rendered only when scrolled to, and sections off screen are not laid out.

use edge_rewriter::language::escape_html as escape;

use crate::diff::{display_text, line_diff};
use crate::outcome::{Outcome, Verdict};
use crate::words::{self, Piece};

/// Lines a side-by-side table shows at most; `rewrite diff` shows them all.
const MAX_ROWS: usize = 300;
/// A case whose two pages are larger than this is rendered only when scrolled to.
const LAZY_RENDER_BYTES: usize = 128 << 10;

const STYLE: &str = "
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f4f4f5; color: #18181b; }
header.top { background: #18181b; color: #fafafa; padding: 16px 24px; position: sticky; top: 0; z-index: 1; }
header.top h1 { margin: 0 0 6px; font-size: 20px; }
.summary { font-size: 16px; } .summary b { font-size: 20px; }
.summary .failed b { color: #fca5a5; } .summary .passed b { color: #86efac; }
nav.jump { margin-top: 6px; } nav.jump a { color: #fecaca; margin-right: 12px; }
nav.index { margin: 12px 24px 0; } nav.index a { margin-right: 10px; color: #3f3f46; }
section.case { background: #fff; margin: 16px 24px; padding: 16px; border-radius: 8px; box-shadow: 0 1px 3px #0002;
  content-visibility: auto; contain-intrinsic-size: auto 900px; scroll-margin-top: 110px; }
section.case.failed { border-left: 6px solid #dc2626; }
section.case h2 { margin: 0 0 4px; font-size: 17px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; margin-left: 8px; }
.ok { background: #dcfce7; color: #166534; } .fail { background: #fee2e2; color: #991b1b; } .blessed { background: #e0e7ff; color: #3730a3; }
.meta { color: #52525b; margin: 4px 0 12px; } pre.request { background: #f4f4f5; padding: 8px; margin: 0 0 12px; white-space: pre-wrap; }
.hits span { display: inline-block; margin: 0 6px 6px 0; padding: 1px 6px; border: 1px solid #d4d4d8; border-radius: 4px; font-size: 12px; }
.hits span.zero { color: #a1a1aa; } .hits span.shadow { border-style: dashed; background: #fafaf9; color: #57534e; }
.hits b { font-size: 12px; margin-right: 6px; color: #57534e; }
h3 { margin: 12px 0 4px; font-size: 13px; color: #3f3f46; }
ul.schedule { margin: 0 0 8px; padding-left: 18px; color: #3f3f46; font-size: 13px; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
iframe { width: 100%; height: 360px; border: 1px solid #d4d4d8; border-radius: 4px; background: #fff; }
";

/// How [`source_table`] looks: in the report, and in `rewrite studio`'s diff view.
pub const SOURCE_TABLE_STYLE: &str = "
table.source { width: 100%; border-collapse: collapse; font: 12px/1.45 ui-monospace, monospace; table-layout: fixed; }
table.source th { text-align: left; font: 600 12px system-ui, sans-serif; color: #52525b; padding: 4px 6px; }
table.source td { vertical-align: top; padding: 0 6px; white-space: pre-wrap; word-break: break-all; border-bottom: 1px solid #f4f4f5; }
table.source col.num { width: 3.5em; } table.source td.num { color: #a1a1aa; text-align: right; }
td.del { background: #fef2f2; } td.ins { background: #f0fdf4; }
td.del em { background: #fecaca; font-style: normal; } td.ins em { background: #bbf7d0; font-style: normal; }
.elided { color: #a1a1aa; font-style: italic; }
tr.skip td { color: #a1a1aa; text-align: center; background: #fafafa; }
";

/// Fills each rendering's frame once it comes near the screen: a report of many large pages
/// would otherwise parse them all before showing anything.
const SCRIPT: &str = "
const frames = new IntersectionObserver((seen) => seen.forEach((entry) => {
  if (entry.isIntersecting) { entry.target.srcdoc = entry.target.dataset.srcdoc; frames.unobserve(entry.target); }
}), { rootMargin: '600px' });
document.querySelectorAll('iframe[data-srcdoc]').forEach((frame) => frames.observe(frame));
";

/// The report for these outcomes, a standalone HTML page.
pub fn html(outcomes: &[Outcome]) -> String {
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.verdict.failed()).collect();
    let mut out = String::with_capacity(64 << 10);
    out.push_str(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>edge-rewriter fixtures</title><style>",
    );
    out.push_str(STYLE);
    out.push_str(SOURCE_TABLE_STYLE);
    out.push_str("</style></head><body><header class=\"top\"><h1>edge-rewriter fixtures</h1>");
    out.push_str(&format!(
        "<div class=\"summary\"><b>{}</b> cases &middot; <span class=\"{}\"><b>{}</b> failed</span> &middot; \
         <span class=\"passed\"><b>{}</b> passed</span></div>",
        outcomes.len(),
        if failed.is_empty() { "passed" } else { "failed" },
        failed.len(),
        outcomes.len() - failed.len()
    ));
    if !failed.is_empty() {
        out.push_str("<nav class=\"jump\">failures: ");
        for outcome in &failed {
            let name = escape(&outcome.case.name);
            out.push_str(&format!("<a href=\"#case-{name}\">{name}</a>"));
        }
        out.push_str("</nav>");
    }
    out.push_str("</header><nav class=\"index\">");
    for outcome in outcomes {
        let name = escape(&outcome.case.name);
        out.push_str(&format!("<a href=\"#case-{name}\">{name}</a>"));
    }
    out.push_str("</nav>");
    // Failures first, each group in name order.
    let passed = outcomes.iter().filter(|o| !o.verdict.failed());
    for outcome in failed.into_iter().chain(passed) {
        case_section(outcome, &mut out);
    }
    out.push_str("<script>");
    out.push_str(SCRIPT);
    out.push_str("</script></body></html>\n");
    out
}

fn case_section(outcome: &Outcome, out: &mut String) {
    let case = &outcome.case;
    let class = match outcome.verdict {
        Verdict::Same => "ok",
        Verdict::Blessed => "blessed",
        Verdict::Different | Verdict::NoExpected => "fail",
    };
    out.push_str(&format!(
        "<section class=\"case{failed}\" id=\"case-{name}\"><h2>{name}<span class=\"badge {class}\">{label}</span></h2><div class=\"meta\">{desc} &middot; page <code>{page}</code> &middot; {ct} &middot; <code>{file}</code></div><pre class=\"request\">{req}</pre>",
        failed = if outcome.verdict.failed() { " failed" } else { "" },
        name = escape(&case.name),
        label = outcome.verdict.label(),
        desc = escape(&case.description),
        page = escape(&case.page),
        ct = escape(&case.content_type),
        file = escape(&case.file.display().to_string()),
        req = escape(case.request.trim()),
    ));
    hits(outcome, out);
    if !outcome.schedule.is_empty() {
        out.push_str("<ul class=\"schedule\" title=\"time windows, rollouts and experiments\">");
        for line in &outcome.schedule {
            out.push_str(&format!("<li>{}</li>", escape(line)));
        }
        out.push_str("</ul>");
    }
    let before = display_text(&outcome.original, &outcome.context);
    let after = display_text(&outcome.rewritten, &outcome.context);
    if outcome.verdict == Verdict::Different
        && let Some((expected, actual)) = outcome.expected_and_actual()
    {
        out.push_str(&format!(
            "<h3>{} (expected) beside the actual output</h3>",
            escape(&case.expected.display().to_string())
        ));
        source_table(&expected, &actual, ["expected", "actual"], out);
    }
    // Rendered: sandboxed (no scripts, no navigation), the page's own markup. A large page
    // is rendered only once scrolled to.
    let attribute = if before.len() + after.len() > LAZY_RENDER_BYTES { "data-srcdoc" } else { "srcdoc" };
    out.push_str("<div class=\"pair\">");
    for (side, text) in [("as the origin sent it", &before), ("rewritten", &after)] {
        out.push_str(&format!(
            "<div><h3>{side}</h3><iframe sandbox title=\"{} {side}\" {attribute}=\"{}\"></iframe></div>",
            escape(&case.name),
            escape(text)
        ));
    }
    out.push_str("</div><h3>origin beside rewritten</h3>");
    source_table(&before, &after, ["origin", "rewritten"], out);
    out.push_str("</section>");
}

/// What each rule did on the page; shadow rules apart, dashed: what they would have done.
fn hits(outcome: &Outcome, out: &mut String) {
    let Some(report) = &outcome.report else {
        out.push_str("<div class=\"hits\"><span>passed through untouched</span></div>");
        return;
    };
    out.push_str("<div class=\"hits\">");
    for (id, hits) in &report.hits {
        let zero = if *hits == 0 { " class=\"zero\"" } else { "" };
        out.push_str(&format!("<span{zero}>{} &times;{hits}</span>", escape(id)));
    }
    if !report.shadow_hits.is_empty() {
        out.push_str("<br><b>shadow (page unchanged)</b>");
        for (id, hits) in &report.shadow_hits {
            out.push_str(&format!("<span class=\"shadow\">{} &times;{hits}</span>", escape(id)));
        }
    }
    out.push_str("</div>");
}

/// Two texts side by side: changed lines coloured, changed words marked, long lines cut to
/// what changed, long unchanged stretches folded, at most [`MAX_ROWS`] rows.
pub fn source_table(before: &str, after: &str, titles: [&str; 2], out: &mut String) {
    let diff = line_diff(before, after);
    out.push_str(&format!(
        "<table class=\"source\"><colgroup><col class=\"num\"><col><col class=\"num\"><col></colgroup>\
         <tr><th colspan=\"2\">{}</th><th colspan=\"2\">{}</th></tr>",
        titles[0], titles[1]
    ));
    let mut rows = 0;
    let mut more = 0;
    for (index, group) in diff.grouped_ops(2).iter().enumerate() {
        if index > 0 && rows < MAX_ROWS {
            out.push_str("<tr class=\"skip\"><td colspan=\"4\">&hellip;</td></tr>");
        }
        for op in group {
            let (left, right): (Vec<words::Line>, Vec<words::Line>) =
                words::lines(&diff, op).into_iter().partition(|line| line.sign != '+');
            let right: Vec<words::Line> = match op.tag() {
                similar::DiffTag::Equal => left.clone(),
                _ => right,
            };
            for row in 0..left.len().max(right.len()) {
                if rows == MAX_ROWS {
                    more += 1;
                    continue;
                }
                rows += 1;
                out.push_str("<tr>");
                for side in [&left, &right] {
                    match side.get(row) {
                        Some(line) => cell(line, out),
                        None => out.push_str("<td class=\"num\"></td><td></td>"),
                    }
                }
                out.push_str("</tr>");
            }
        }
    }
    if more > 0 {
        out.push_str(&format!(
            "<tr class=\"skip\"><td colspan=\"4\">{more} more lines differ; <code>rewrite diff</code> shows them all</td></tr>"
        ));
    }
    out.push_str("</table>");
}

/// A line's number and text, changed words in `<em>`, elided stretches noted.
fn cell(line: &words::Line, out: &mut String) {
    let class = match line.sign {
        '-' => "del",
        '+' => "ins",
        _ => "",
    };
    let number = line.index.map(|n| (n + 1).to_string()).unwrap_or_default();
    out.push_str(&format!("<td class=\"num\">{number}</td><td class=\"{class}\">"));
    for piece in &line.pieces {
        match piece {
            Piece::Same(text) => out.push_str(&escape(text)),
            Piece::Changed(text) => out.push_str(&format!("<em>{}</em>", escape(text))),
            Piece::Elided(chars) => {
                out.push_str(&format!("<span class=\"elided\">&hellip;{chars} characters&hellip;</span>"))
            }
        }
    }
    out.push_str("</td>");
}
