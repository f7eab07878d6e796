//! What a text rule (`replace_text`) looks for: exact text, text in any case, or a regular
//! expression, compiled once per rule set; `rewrite/text` runs it over a page's text as it
//! streams.

use memchr::memmem;
use regex_automata::util::captures::Captures;

use super::pattern::{Pattern, PatternError, Use, escape};

/// Text a regex rule keeps per text node before it must let go of it.
pub const REGEX_HOLD_LIMIT: usize = 64 << 10;

/// What a text rule looks for.
#[derive(Debug, Clone)]
pub(crate) enum Finder {
    /// Exact text, found with a substring search (no regex machinery per piece).
    Exact { searcher: Box<memmem::Finder<'static>>, pattern: String },
    /// Text in any case (`(?i)` and the escaped text).
    AnyCase { regex: Pattern, pattern: Vec<char> },
    /// A regular expression.
    Pattern { regex: Pattern },
}

impl Finder {
    /// A finder for the literal `text`.
    pub(crate) fn literal(text: &str, case_insensitive: bool) -> Result<Finder, PatternError> {
        if !case_insensitive {
            return Ok(Finder::Exact {
                searcher: Box::new(memmem::Finder::new(text).into_owned()),
                pattern: text.to_owned(),
            });
        }
        let regex = Pattern::regex(&format!("(?i){}", escape(text)), Use::Page)?;
        Ok(Finder::AnyCase { regex, pattern: text.chars().collect() })
    }

    /// Calls `found(start, end, captures)` for each match in `view`, left to right, until
    /// it returns `false`. Captures are only looked for when `with_captures`.
    pub(crate) fn each_match(
        &self,
        view: &str,
        with_captures: bool,
        mut found: impl FnMut(usize, usize, Option<&Captures>) -> bool,
    ) {
        match self {
            Finder::Exact { searcher, pattern } => {
                for start in searcher.find_iter(view.as_bytes()) {
                    if !found(start, start + pattern.len(), None) {
                        return;
                    }
                }
            }
            Finder::AnyCase { regex, .. } | Finder::Pattern { regex } if !with_captures => {
                for (start, end) in regex.find_iter(view) {
                    if !found(start, end, None) {
                        return;
                    }
                }
            }
            Finder::AnyCase { regex, .. } | Finder::Pattern { regex } => {
                for captures in regex.captures_iter(view) {
                    let whole = captures.get_match().expect("a reported match has a span");
                    if !found(whole.start(), whole.end(), Some(&captures)) {
                        return;
                    }
                }
            }
        }
    }
}
