//! Changed words inside a changed line, and long lines cut down to what changed: a minified
//! page is one line of many kilobytes, and a diff that prints it whole twice hides the one
//! word that differs. Shared by the terminal diff and the HTML report.

use similar::{DiffOp, TextDiff};

/// Lines longer than this (in characters) are cut to the context around their changes.
pub const LONG_LINE: usize = 400;
/// Characters kept on each side of a change in a long line.
const CONTEXT: usize = 60;
/// Characters kept of a long added or removed line with no changed words marked in it (the
/// whole line is the change, or too much changed to mark words).
const WHOLE_LINE_CHANGE: usize = 2_000;

/// A stretch of one line of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text the other side has too.
    Same(String),
    /// Text only this side has: the changed words.
    Changed(String),
    /// This many characters left out of a long line.
    Elided(usize),
}

/// One line of a diff, as pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// `-`, `+` or ` `.
    pub sign: char,
    /// The line's number on its side (from 0).
    pub index: Option<usize>,
    pub pieces: Vec<Piece>,
    /// The last line of a text that does not end with a newline.
    pub missing_newline: bool,
}

/// The lines of one diff operation, each with its changed words marked and, when long,
/// its unchanged stretches cut down to the context around the changes.
pub fn lines<'x>(diff: &'x TextDiff<'x, 'x, 'x, str>, op: &DiffOp) -> Vec<Line> {
    diff.iter_inline_changes(op)
        .map(|change| {
            let sign = match change.tag() {
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
                similar::ChangeTag::Equal => ' ',
            };
            let index = if sign == '+' { change.new_index() } else { change.old_index() };
            let segments: Vec<(bool, String)> = change
                .iter_strings_lossy()
                .map(|(changed, text)| (changed, text.trim_end_matches(['\n', '\r']).to_owned()))
                .filter(|(_, text)| !text.is_empty())
                .collect();
            Line { sign, index, pieces: pieces(segments, sign != ' '), missing_newline: change.missing_newline() }
        })
        .collect()
}

/// The pieces of a line made of `segments` (`true` where changed); `changed` for a line only
/// one side has.
pub fn pieces(segments: Vec<(bool, String)>, changed: bool) -> Vec<Piece> {
    let total: usize = segments.iter().map(|(_, text)| text.chars().count()).sum();
    let any_change = segments.iter().any(|(changed, _)| *changed);
    if total <= LONG_LINE {
        return segments.into_iter().map(|(changed, text)| piece(changed, text)).collect();
    }
    if !any_change {
        // Nothing marked: a context line shows its start; a changed line, much more of it.
        let text: String = segments.into_iter().map(|(_, text)| text).collect();
        return cut(&text, if changed { WHOLE_LINE_CHANGE } else { 2 * CONTEXT }, 0);
    }
    let last = segments.len() - 1;
    let mut pieces = Vec::new();
    for (index, (changed, text)) in segments.into_iter().enumerate() {
        if changed {
            pieces.push(Piece::Changed(text));
        } else {
            let head = if index > 0 { CONTEXT } else { 0 };
            let tail = if index < last { CONTEXT } else { 0 };
            pieces.extend(cut(&text, head, tail));
        }
    }
    pieces
}

fn piece(changed: bool, text: String) -> Piece {
    if changed { Piece::Changed(text) } else { Piece::Same(text) }
}

/// `text` with all but its first `head` and last `tail` characters left out (when that
/// leaves out enough to be worth it).
fn cut(text: &str, head: usize, tail: usize) -> Vec<Piece> {
    let chars = text.chars().count();
    if chars <= head + tail + 16 {
        return vec![Piece::Same(text.to_owned())];
    }
    let at = |n: usize| text.char_indices().nth(n).map_or(text.len(), |(at, _)| at);
    let mut pieces = Vec::new();
    if head > 0 {
        pieces.push(Piece::Same(text[..at(head)].to_owned()));
    }
    pieces.push(Piece::Elided(chars - head - tail));
    if tail > 0 {
        pieces.push(Piece::Same(text[at(chars - tail)..].to_owned()));
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_are_kept_whole_with_their_changes_marked() {
        let diff = TextDiff::from_lines("the cat sat\n", "the dog sat\n");
        let ops = diff.ops().to_vec();
        let lines: Vec<Line> = ops.iter().flat_map(|op| lines(&diff, op)).collect();
        assert_eq!(lines[0].sign, '-');
        assert_eq!(
            lines[0].pieces,
            [Piece::Same("the ".into()), Piece::Changed("cat".into()), Piece::Same(" sat".into())]
        );
        assert_eq!(lines[1].pieces[1], Piece::Changed("dog".into()));
    }

    #[test]
    fn a_long_line_is_cut_to_the_context_of_its_changes() {
        let before = format!("{} cat {}\n", "a ".repeat(500), "z ".repeat(500));
        assert!(before.len() > LONG_LINE);
        let after = before.replace("cat", "dog");
        let diff = TextDiff::from_lines(&before, &after);
        let ops = diff.ops().to_vec();
        let lines: Vec<Line> = ops.iter().flat_map(|op| lines(&diff, op)).collect();
        let inserted = &lines[1];
        assert_eq!(inserted.sign, '+');
        assert!(matches!(inserted.pieces[0], Piece::Elided(n) if n > 900), "{:?}", inserted.pieces);
        assert!(inserted.pieces.contains(&Piece::Changed("dog".into())), "{:?}", inserted.pieces);
        assert!(matches!(inserted.pieces.last(), Some(Piece::Elided(_))), "{:?}", inserted.pieces);
        let shown: usize = inserted
            .pieces
            .iter()
            .map(|piece| match piece {
                Piece::Same(text) | Piece::Changed(text) => text.len(),
                Piece::Elided(_) => 0,
            })
            .sum();
        assert!(shown < 2 * CONTEXT + 10, "{shown} characters shown of a 2,000-character line");
    }
}
