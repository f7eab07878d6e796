//! Unified diffs of a page before and after rewriting, coloured for terminals.

use std::io::IsTerminal;

use similar::{ChangeTag, TextDiff};

use crate::inputs::{load_rules, read_page, report_rule_errors, request_context, rewrite_into};
use crate::{ColorChoice, DiffArgs};

/// `rewrite diff`: what the rules change, as a unified diff on standard output.
pub fn run(args: &DiffArgs) -> Result<i32, String> {
    let loaded = load_rules(&args.page.rules.rules)?;
    report_rule_errors(&loaded);
    let context = request_context(&args.page.request)?;
    let original = read_page(&args.page.page)?;
    let rewritten = rewrite_into(&loaded.rules, &context, &original[..], Vec::new())?.into_sink();
    let name = args.page.page.display().to_string();
    let (before, after) = (display_text(&original, &context), display_text(&rewritten, &context));
    print!(
        "{}",
        unified(
            &before,
            &after,
            &format!("{name} (origin)"),
            &format!("{name} (rewritten)"),
            use_color(args.color.color)
        )
    );
    Ok(0)
}

/// Whether to colour output: `auto` means a terminal that did not ask for no colour.
pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// A page as text for display, decoded in its own charset.
pub fn display_text(page: &[u8], context: &edge_rewriter::RequestContext) -> String {
    let encoding = match crate::inputs::verdict(context) {
        Ok(edge_rewriter::PageEncoding::Declared(encoding)) => encoding,
        _ => encoding_rs::UTF_8,
    };
    encoding.decode(page).0.into_owned()
}

/// A unified diff with 3 lines of context; empty when the texts are equal.
pub fn unified(before: &str, after: &str, before_name: &str, after_name: &str, color: bool) -> String {
    let diff = TextDiff::from_lines(before, after);
    let mut out = String::new();
    if diff.ratio() == 1.0 && before == after {
        return out;
    }
    let paint = |code: &str, text: &str| if color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() };
    out.push_str(&paint("1", &format!("--- {before_name}\n+++ {after_name}\n")));
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        out.push_str(&paint("36", &format!("{}\n", hunk.header())));
        for change in hunk.iter_changes() {
            let (sign, code) = match change.tag() {
                ChangeTag::Delete => ("-", "31"),
                ChangeTag::Insert => ("+", "32"),
                ChangeTag::Equal => (" ", ""),
            };
            let mut line = format!("{sign}{}", change.value());
            if !line.ends_with('\n') {
                line.push_str("\n\\ No newline at end of file\n");
            }
            out.push_str(&if code.is_empty() { line } else { paint(code, &line) });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_are_unified_and_plain_without_colour() {
        let diff = unified("a\nb\nc\n", "a\nB\nc\n", "x (origin)", "x (rewritten)", false);
        assert_eq!(diff, "--- x (origin)\n+++ x (rewritten)\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
        assert!(unified("same\n", "same\n", "a", "b", false).is_empty());
        assert!(unified("a\n", "b\n", "a", "b", true).contains("\x1b[31m-a"));
    }
}
