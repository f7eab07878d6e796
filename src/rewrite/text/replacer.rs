//! Find-and-replace over a text node that arrives in pieces of any size.
//!
//! lol_html hands text over in fragments as small as one character, split wherever the
//! network split the page, so each text rule keeps back just enough text to finish a match
//! that may continue in the next piece:
//!
//! * a literal pattern keeps back at most its length less one character, and only when the
//!   text ends with the start of the pattern (plus, when references are decoded, a
//!   reference still being completed, at most 32 bytes);
//! * a regex may match any length, so it keeps the text node until it ends, up to
//!   [`REGEX_HOLD_LIMIT`]; past that the held text is processed and sent, and a match
//!   across that point may be missed (logged once per page and rule).
//!
//! What was kept back is sent with the next piece, so the output equals that of the page
//! in one piece, whatever the split. Outside matches, the source bytes pass unchanged.

use crate::http::entities::{MAX_REFERENCE_LEN, decode, verbatim};
use crate::rules::finder::{Finder, REGEX_HOLD_LIMIT};
use crate::rules::template::escape::html_text_into;

/// Whether `piece` has no `&` and no place where `pattern` starts: neither whole nor, when
/// more of the node follows, cut off by the piece's end. One `memchr2` pass for `&` and the
/// pattern's first byte, with a short comparison at each candidate.
fn literal_absent(piece: &[u8], pattern: &[u8], last: bool) -> bool {
    let Some(&first) = pattern.first() else { return false };
    memchr::memchr2_iter(b'&', first, piece).all(|at| {
        let rest = &piece[at..];
        let starts_here =
            if rest.len() >= pattern.len() { rest.starts_with(pattern) } else { !last && pattern.starts_with(rest) };
        piece[at] != b'&' && !starts_here
    })
}

/// How replaced text is written into the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextSyntax {
    /// Ordinary text, titles, textareas: references are decoded before matching and the
    /// replacement is escaped.
    Markup,
    /// Script and style text: matched and replaced as written.
    Raw,
}

/// One text rule's state for one page.
#[derive(Debug)]
pub(crate) struct TextReplacer<'p> {
    finder: &'p Finder,
    replacement: &'p str,
    /// Whether `replacement` uses `$1`-style references (regex only).
    expands: bool,
    max: Option<u64>,
    /// Replacements made on this page.
    pub replaced: u64,
    /// Times a text node outgrew [`REGEX_HOLD_LIMIT`] on this page.
    pub overflows: u64,
    held: String,
    out: String,
}

impl<'p> TextReplacer<'p> {
    pub(crate) fn new(finder: &'p Finder, replacement: &'p str, max: Option<u64>) -> Self {
        let expands = matches!(finder, Finder::Pattern { .. }) && replacement.contains('$');
        Self { finder, replacement, expands, max, replaced: 0, overflows: 0, held: String::new(), out: String::new() }
    }

    /// Gives back buffer space beyond what a typical piece needs. At the end of a long text
    /// node each rule of a chain flushes what it held together with what the rules before it
    /// flushed, so the k-th rule's output buffer grows to k holds; kept, those buffers would
    /// add up to the square of the number of rules.
    pub(crate) fn trim(&mut self) {
        const KEEP: usize = 16 << 10;
        if self.out.capacity() > KEEP {
            self.out = String::new();
        }
        if self.held.is_empty() && self.held.capacity() > KEEP {
            self.held = String::new();
        }
    }

    /// Gives up the text held back, as it came (for a bail-out: the page passes on unchanged).
    pub(crate) fn release_held(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    /// Whether text is held back, waiting for the node's next piece.
    pub(crate) fn holds(&self) -> bool {
        !self.held.is_empty()
    }

    /// Takes the next piece of a text node; returns what to write in its place, or `None`
    /// when the piece passes unchanged.
    pub(crate) fn feed(&mut self, piece: &str, last: bool, syntax: TextSyntax) -> Option<&str> {
        if self.held.is_empty() && (self.exhausted() || (piece.is_empty() && last)) {
            return None;
        }
        self.out.clear();
        match self.finder {
            Finder::Exact { .. } | Finder::AnyCase { .. } => self.feed_literal(piece, last, syntax),
            Finder::Pattern { .. } => self.feed_pattern(piece, last, syntax),
        }
    }

    fn exhausted(&self) -> bool {
        self.max.is_some_and(|max| self.replaced >= max)
    }

    fn feed_literal(&mut self, piece: &str, last: bool, syntax: TextSyntax) -> Option<&str> {
        if self.held.is_empty() {
            // One pass settles most pieces: with no `&` (nothing decodes to part of a match)
            // and no place where the pattern starts, the piece passes as it is.
            let nothing_to_do = match self.finder {
                Finder::Exact { pattern, .. } => literal_absent(piece.as_bytes(), pattern.as_bytes(), last),
                // `(?i)` also matches `k` with the Kelvin sign and `s` with the long s: those two
                // letters cannot be looked for byte-wise.
                Finder::AnyCase { pattern, .. } => pattern
                    .first()
                    .filter(|first| first.is_ascii_alphabetic() && !matches!(first.to_ascii_lowercase(), 'k' | 's'))
                    .is_some_and(|first| {
                        let (lower, upper) = (first.to_ascii_lowercase() as u8, first.to_ascii_uppercase() as u8);
                        memchr::memchr3(b'&', lower, upper, piece.as_bytes()).is_none()
                    }),
                Finder::Pattern { .. } => false,
            };
            if nothing_to_do {
                return None;
            }
            let (consumed, changed) = self.process(piece, last, syntax);
            if !changed {
                return None;
            }
            self.held.push_str(&piece[consumed..]);
        } else {
            let mut buffer = std::mem::take(&mut self.held);
            buffer.push_str(piece);
            let consumed = self.process_into_out(&buffer, last, syntax);
            buffer.drain(..consumed);
            self.held = buffer;
        }
        Some(&self.out)
    }

    fn feed_pattern(&mut self, piece: &str, last: bool, syntax: TextSyntax) -> Option<&str> {
        self.held.push_str(piece);
        let mut buffer = std::mem::take(&mut self.held);
        let mut overflowed = false;
        while !last && buffer.len() > REGEX_HOLD_LIMIT {
            let split = overflow_split(&buffer, syntax);
            self.process_into_out(&buffer[..split], true, syntax);
            buffer.drain(..split);
            overflowed = true;
        }
        if overflowed {
            self.overflows += 1;
        }
        if last {
            self.process_into_out(&buffer, true, syntax);
            buffer.clear();
        }
        self.held = buffer;
        Some(&self.out)
    }

    /// [`process`](Self::process), with unchanged text copied to `out` too.
    fn process_into_out(&mut self, text: &str, complete: bool, syntax: TextSyntax) -> usize {
        let (consumed, changed) = self.process(text, complete, syntax);
        if !changed {
            self.out.push_str(&text[..consumed]);
        }
        consumed
    }

    /// Replaces matches in `text`, appending the result to `out`, and returns how many
    /// source bytes are done (the rest must be fed again with what follows; with
    /// `complete`, all are done) and whether anything differs from `text`. When nothing
    /// differs, `out` is left untouched.
    fn process(&mut self, text: &str, complete: bool, syntax: TextSyntax) -> (usize, bool) {
        let decoded = match syntax {
            TextSyntax::Markup => decode(text, complete),
            TextSyntax::Raw => verbatim(text),
        };
        let view: &str = &decoded.text;
        let finder = self.finder;
        let (replacement, max, expands) = (self.replacement, self.max, self.expands);
        let (out, replaced) = (&mut self.out, &mut self.replaced);
        let mut emitted_raw = 0;
        let mut matched_to = 0;
        let mut expanded = String::new();
        finder.each_match(view, expands, |start, end, captures| {
            if max.is_some_and(|max| *replaced >= max) {
                return false;
            }
            // A reference is replaced whole or not at all: a few decode to two characters
            // (`&fjlig;` is "fj"), and a match that starts or ends between them is left as written.
            if decoded.inside_reference(start) || decoded.inside_reference(end) {
                return true;
            }
            let (raw_from, raw_to) = (decoded.raw_start(start), decoded.raw_end(end));
            out.push_str(&text[emitted_raw..raw_from]);
            let with = match captures {
                Some(captures) => {
                    expanded.clear();
                    captures.interpolate_string_into(view, replacement, &mut expanded);
                    expanded.as_str()
                }
                None => replacement,
            };
            match syntax {
                TextSyntax::Markup => html_text_into(with, out),
                TextSyntax::Raw => out.push_str(with),
            }
            *replaced += 1;
            emitted_raw = raw_to;
            matched_to = end;
            true
        });
        let keep_from = if complete {
            text.len()
        } else {
            let pending = self.pending_match_start(view, matched_to);
            decoded.raw_start(pending).min(decoded.covered).max(emitted_raw)
        };
        if emitted_raw == 0 && keep_from == text.len() && matched_to == 0 {
            return (text.len(), false);
        }
        self.out.push_str(&text[emitted_raw..keep_from]);
        (keep_from, true)
    }

    /// Where a match that the next piece may complete could start: the longest tail of
    /// `view[from..]` that begins the literal pattern (shorter than the pattern).
    fn pending_match_start(&self, view: &str, from: usize) -> usize {
        if self.exhausted() {
            return view.len();
        }
        let tail = &view[from..];
        match self.finder {
            Finder::Exact { pattern, .. } => from + exact_pending_start(tail.as_bytes(), pattern.as_bytes()),
            Finder::AnyCase { pattern, .. } => from + any_case_pending_start(tail, pattern),
            Finder::Pattern { .. } => view.len(),
        }
    }
}

/// The start of the longest tail of `text` that begins `pattern` (shorter than it), or
/// `text.len()`. Bytewise: a pattern starts at a character boundary, and a UTF-8 byte that
/// starts a character never continues one, so a byte match is a character match.
fn exact_pending_start(text: &[u8], pattern: &[u8]) -> usize {
    let Some(&first) = pattern.first() else { return text.len() };
    let window = text.len().saturating_sub(pattern.len() - 1);
    let mut at = window;
    while let Some(found) = memchr::memchr(first, &text[at..]) {
        let start = at + found;
        if pattern.starts_with(&text[start..]) {
            return start;
        }
        at = start + 1;
    }
    text.len()
}

/// The same for a case-insensitive pattern, character by character.
fn any_case_pending_start(text: &str, pattern: &[char]) -> usize {
    let Some(&first) = pattern.first() else { return text.len() };
    if pattern.len() < 2 {
        return text.len();
    }
    let window = text.char_indices().rev().nth(pattern.len() - 2).map_or(0, |(at, _)| at);
    for (at, c) in text[window..].char_indices() {
        if same_char(c, first, true) && text[window + at..].chars().zip(pattern).all(|(a, b)| same_char(a, *b, true)) {
            return window + at;
        }
    }
    text.len()
}

/// Characters equal for matching purposes; case-insensitively, as `(?i)` compares them.
fn same_char(a: char, b: char, case_insensitive: bool) -> bool {
    a == b || (case_insensitive && (a.to_lowercase().eq(b.to_lowercase()) || a.to_uppercase().eq(b.to_uppercase())))
}

/// Where to cut an oversized regex buffer: at the limit, on a character boundary, and not
/// inside a character reference. Depends only on the text, so the cut is the same
/// whatever the chunking.
fn overflow_split(buffer: &str, syntax: TextSyntax) -> usize {
    let mut split = REGEX_HOLD_LIMIT;
    while !buffer.is_char_boundary(split) {
        split -= 1;
    }
    if syntax == TextSyntax::Markup {
        let window_start = split.saturating_sub(MAX_REFERENCE_LEN);
        if let Some(amp) = buffer[..split].rfind('&').filter(|&amp| amp >= window_start)
            && !buffer[amp..split].contains(';')
            && amp > 0
        {
            split = amp;
        }
    }
    split
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::pattern::{Pattern, Use};

    fn literal(find: &str, case_insensitive: bool) -> Finder {
        Finder::literal(find, case_insensitive).unwrap()
    }

    fn pattern(regex: &str) -> Finder {
        Finder::Pattern { regex: Pattern::regex(regex, Use::Page).unwrap() }
    }

    /// Feeds `text` as one node in pieces of `size` bytes (at char boundaries).
    fn run(finder: &Finder, replacement: &str, text: &str, size: usize, syntax: TextSyntax) -> (String, u64, usize) {
        let mut replacer = TextReplacer::new(finder, replacement, None);
        let mut out = String::new();
        let mut max_held = 0;
        let mut rest = text;
        while !rest.is_empty() || out.is_empty() {
            let mut cut = size.min(rest.len());
            while !rest.is_char_boundary(cut) {
                cut += 1;
            }
            let (piece, tail) = rest.split_at(cut);
            let last = tail.is_empty();
            out.push_str(replacer.feed(piece, last, syntax).unwrap_or(piece));
            max_held = max_held.max(replacer.held.len());
            rest = tail;
            if last {
                break;
            }
        }
        (out, replacer.replaced, max_held)
    }

    #[test]
    fn literal_matches_across_pieces_of_any_size() {
        let finder = literal("cat", false);
        let text = "the cat sat; concatenate cat. CAT";
        for size in 1..=text.len() {
            let (out, replaced, held) = run(&finder, "dog", text, size, TextSyntax::Markup);
            assert_eq!(out, "the dog sat; condogenate dog. CAT", "pieces of {size}");
            assert_eq!(replaced, 3);
            assert!(held <= 2, "held {held} bytes for a 3-character pattern");
        }
    }

    #[test]
    fn pieces_without_a_match_or_its_start_are_recognised_in_one_pass() {
        assert!(literal_absent(b"the cap on cats", b"cot", true));
        assert!(!literal_absent(b"the cap on cats", b"cat", true));
        assert!(!literal_absent(b"a &amp; b", b"cat", true), "a reference may decode to part of a match");
        assert!(!literal_absent(b"the c", b"cat", false), "a match may continue in the next piece");
        assert!(literal_absent(b"the c", b"cat", true), "not in the node's last piece");
        assert!(!literal_absent(b"", b"", true), "an empty pattern is never settled here");
    }

    #[test]
    fn periodic_patterns_match_across_every_split() {
        // Their possible starts overlap: "abab" may begin at either "ab" of a held "abab".
        let finder = literal("abab", false);
        for size in 1..=12 {
            assert_eq!(
                run(&finder, "X", "abababab aba babab", size, TextSyntax::Markup).0,
                "XX aba bX",
                "pieces of {size}"
            );
        }
    }

    #[test]
    fn case_insensitive_literals_match_non_ascii_case_variants() {
        // U+212A KELVIN SIGN and U+017F LATIN SMALL LETTER LONG S fold to k and s.
        let finder = literal("kiss", true);
        for size in [1, 3, 100] {
            assert_eq!(
                run(&finder, "x", "\u{212A}i\u{17F}s KISS", size, TextSyntax::Markup).0,
                "x x",
                "pieces of {size}"
            );
        }
    }

    #[test]
    fn case_insensitive_literals() {
        let finder = literal("cat", true);
        for size in [1, 2, 5, 100] {
            assert_eq!(run(&finder, "dog", "Cat CAT cAt", size, TextSyntax::Markup).0, "dog dog dog");
        }
    }

    #[test]
    fn references_are_matched_decoded_and_bytes_elsewhere_kept() {
        let finder = literal("Tom & Jerry", false);
        let text = "&lt;b&gt; Tom &amp; Jerry &copy; Tom & Jerry";
        for size in 1..=text.len() {
            let (out, replaced, _) = run(&finder, "Cats & Dogs", text, size, TextSyntax::Markup);
            assert_eq!(out, "&lt;b&gt; Cats &amp; Dogs &copy; Cats &amp; Dogs", "pieces of {size}");
            assert_eq!(replaced, 2);
        }
    }

    #[test]
    fn html5_references_are_matched_decoded_across_pieces() {
        let text = "\u{2233} &CounterClockwiseContourIntegral; &bigstar;&NotNestedGreaterGreater;";
        for size in 1..=text.len() {
            let (out, replaced, _) = run(&literal("\u{2233}", false), "ccci", text, size, TextSyntax::Markup);
            assert_eq!(out, "ccci ccci &bigstar;&NotNestedGreaterGreater;", "pieces of {size}");
            assert_eq!(replaced, 2);
            let (out, _, _) = run(&literal("\u{2605}\u{2AA2}\u{338}", false), "*", text, size, TextSyntax::Markup);
            assert_eq!(out, "\u{2233} &CounterClockwiseContourIntegral; *", "pieces of {size}");
        }
    }

    #[test]
    fn a_reference_is_replaced_whole_or_not_at_all() {
        // `&fjlig;` decodes to "fj": a match of part of it leaves it as written.
        let text = "&fjlig; fj &fjlig;";
        for size in 1..=text.len() {
            let each_letter = run(&pattern("[fj]"), "x", text, size, TextSyntax::Markup);
            assert_eq!((each_letter.0.as_str(), each_letter.1), ("&fjlig; xx &fjlig;", 2), "pieces of {size}");
            let f = run(&literal("f", false), "x", text, size, TextSyntax::Markup);
            assert_eq!((f.0.as_str(), f.1), ("&fjlig; xj &fjlig;", 1), "pieces of {size}");
            let fj = run(&literal("fj", false), "x", text, size, TextSyntax::Markup);
            assert_eq!((fj.0.as_str(), fj.1), ("x x x", 3), "pieces of {size}");
        }
    }

    #[test]
    fn raw_text_is_matched_and_replaced_as_written() {
        let finder = literal("a&amp;b", false);
        assert_eq!(run(&finder, "x<y", "var s = 'a&amp;b';", 3, TextSyntax::Raw).0, "var s = 'x<y';");
    }

    #[test]
    fn regex_with_captures_across_pieces() {
        let finder = pattern(r"\bcat(s?)\b");
        let text = "cats and a cat, but not a catalogue";
        for size in 1..=text.len() {
            assert_eq!(run(&finder, "dog$1", text, size, TextSyntax::Markup).0, "dogs and a dog, but not a catalogue");
        }
    }

    #[test]
    fn the_first_n_only() {
        let finder = literal("a", false);
        let mut replacer = TextReplacer::new(&finder, "b", Some(2));
        assert_eq!(replacer.feed("aaaa", true, TextSyntax::Markup), Some("bbaa"));
        assert_eq!(replacer.feed("aa", true, TextSyntax::Markup), None, "the page's budget is spent");
        assert_eq!(replacer.replaced, 2);
    }

    #[test]
    fn a_regex_lets_go_of_huge_text_nodes_at_the_limit() {
        let finder = pattern("needle");
        let text = format!("{}needle{}", "x".repeat(REGEX_HOLD_LIMIT * 2), "y".repeat(10));
        let mut replacer = TextReplacer::new(&finder, "pin", None);
        let mut out = String::new();
        let mut max_held = 0;
        for piece in text.as_bytes().chunks(4096) {
            let piece = std::str::from_utf8(piece).unwrap();
            out.push_str(replacer.feed(piece, false, TextSyntax::Markup).unwrap_or(piece));
            max_held = max_held.max(replacer.held.len());
        }
        out.push_str(replacer.feed("", true, TextSyntax::Markup).unwrap_or(""));
        assert!(out == text.replace("needle", "pin"), "the needle past the first limit was not replaced");
        assert!(max_held <= REGEX_HOLD_LIMIT + 4096, "held {max_held}");
        assert!(replacer.overflows >= 1);
    }

    #[test]
    fn pieces_without_matches_pass_unchanged() {
        let finder = literal("cat", false);
        let mut replacer = TextReplacer::new(&finder, "dog", None);
        assert_eq!(replacer.feed("nothing here", false, TextSyntax::Markup), None);
        assert_eq!(replacer.feed("ends with c", false, TextSyntax::Markup), Some("ends with "));
        assert_eq!(replacer.feed("at!", true, TextSyntax::Markup), Some("dog!"));
    }
}
