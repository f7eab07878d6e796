//! Unified diffs of a page before and after rewriting, coloured for terminals, with the
//! changed words marked inside changed lines and long lines cut to what changed.

use std::io::IsTerminal;
use std::time::Duration;

use similar::TextDiff;

use crate::fragments::LocalFragments;
use crate::inputs::{RULES_OPTION, load_rules, read_page, report_rule_errors, request_context, rewrite_into};
use crate::words::{self, Piece};
use crate::{ColorChoice, DiffArgs, out};

/// How long a diff may take before it settles for a coarser answer (a huge page that
/// changed everywhere).
pub const DIFF_TIMEOUT: Duration = Duration::from_secs(2);

/// `rewrite diff`: what the rules change, as a unified diff on standard output.
pub fn run(args: &DiffArgs) -> Result<i32, String> {
    let loaded = load_rules(&args.page.rules.rules, args.page.rules.draft.as_deref(), RULES_OPTION)?;
    report_rule_errors(&loaded);
    let context = request_context(&args.page.request)?;
    let original = read_page(&args.page.page)?;
    let fragments = LocalFragments::from_args(&args.page.request)?;
    let rewritten = rewrite_into(&loaded.rules, &context, &original[..], Vec::new(), &fragments)?.into_sink();
    let name = args.page.page.display().to_string();
    let (before, after) = (display_text(&original, &context), display_text(&rewritten, &context));
    out::text(unified(
        &before,
        &after,
        &format!("{name} (origin)"),
        &format!("{name} (rewritten)"),
        use_color(args.color.color),
    ));
    Ok(loaded.exit_status())
}

/// Whether to colour output: `auto` means a terminal that did not ask for no colour.
pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// A page as text for display, decoded as the rewriter reads it: its header charset, else
/// the `<meta>` it declares, else UTF-8.
pub fn display_text(page: &[u8], context: &edge_rewriter::RequestContext) -> String {
    let declared = crate::inputs::verdict(context).unwrap_or(edge_rewriter::http::PageEncoding::Sniffed);
    let encoding = edge_rewriter::response::page_charset(page, declared).unwrap_or(encoding_rs::UTF_8);
    encoding.decode(page).0.into_owned()
}

/// A line diff of `before` and `after`, quick to give up on a hopeless case.
pub fn line_diff<'a>(before: &'a str, after: &'a str) -> TextDiff<'a, 'a, 'a, str> {
    TextDiff::configure().timeout(DIFF_TIMEOUT).diff_lines(before, after)
}

/// A unified diff with 3 lines of context; empty when the texts are equal. With colour, the
/// changed words are in reverse video inside the red and green lines.
pub fn unified(before: &str, after: &str, before_name: &str, after_name: &str, color: bool) -> String {
    let mut out = String::new();
    if before == after {
        return out;
    }
    let diff = line_diff(before, after);
    let paint = |code: &str, text: &str| if color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() };
    out.push_str(&paint("1", &format!("--- {before_name}\n+++ {after_name}\n")));
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        out.push_str(&paint("36", &format!("{}\n", hunk.header())));
        for op in hunk.ops() {
            for line in words::lines(&diff, op) {
                let code = match line.sign {
                    '-' => "31",
                    '+' => "32",
                    _ => "",
                };
                out.push_str(&render(&line, code, color));
            }
        }
    }
    out
}

/// One diff line for a terminal: its sign, its pieces (changed words in reverse video when
/// coloured, elided stretches as `…[N chars]…`), in the line's colour.
fn render(line: &words::Line, code: &str, color: bool) -> String {
    let colored = color && !code.is_empty();
    let mut text = String::new();
    if colored {
        text.push_str(&format!("\x1b[{code}m"));
    }
    text.push(line.sign);
    for piece in &line.pieces {
        match piece {
            Piece::Same(words) => text.push_str(words),
            Piece::Changed(words) if colored => text.push_str(&format!("\x1b[7m{words}\x1b[27m")),
            Piece::Changed(words) => text.push_str(words),
            Piece::Elided(chars) => text.push_str(&format!("…[{chars} chars]…")),
        }
    }
    if colored {
        text.push_str("\x1b[0m");
    }
    text.push('\n');
    if line.missing_newline {
        text.push_str("\\ No newline at end of file\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_are_unified_and_plain_without_colour() {
        let diff = unified("a\nb\nc\n", "a\nB\nc\n", "x (origin)", "x (rewritten)", false);
        assert_eq!(diff, "--- x (origin)\n+++ x (rewritten)\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
        assert!(unified("same\n", "same\n", "a", "b", false).is_empty());
        assert!(unified("a\n", "b\n", "a", "b", true).contains("\x1b[31m-"));
    }

    #[test]
    fn changed_words_are_marked_and_long_lines_cut() {
        let coloured = unified("the cat sat\n", "the dog sat\n", "a", "b", true);
        assert!(coloured.contains("\x1b[32m+the \x1b[7mdog\x1b[27m sat\x1b[0m"), "{coloured:?}");
        let minified = format!("<p>{}</p><p>cat</p><p>{}</p>\n", "x".repeat(5000), "y".repeat(5000));
        let diff = unified(&minified, &minified.replace("cat", "dog"), "a", "b", false);
        assert!(diff.len() < 600, "a one-word change in a 10 KB line printed {} bytes:\n{diff}", diff.len());
        assert!(diff.contains("+…[") && diff.contains("<p>dog</p>"), "{diff}");
    }
}
