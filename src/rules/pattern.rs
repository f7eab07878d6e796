//! Editors' patterns: regular expressions and globs (compiled to the same engine so there is
//! one matcher to trust), each with the memory it may use, so a rule set's regexes can be
//! held to a budget.
//!
//! The engine is `regex-automata`'s meta regex (what the `regex` crate wraps): unlike the
//! wrapper it reports the memory a compiled regex holds, and lets each use size its match
//! cache. A regex's cost is its compiled size plus the most its match cache may grow to,
//! which is what 160 copies of `\w{20}` multiply into a heap the service does not have.

use std::borrow::Cow;
use std::ops::Range;

use regex_automata::PatternID;
use regex_automata::meta::{BuildError, Regex};
use regex_automata::nfa::thompson::WhichCaptures;
use regex_automata::util::captures::Captures;
use regex_automata::util::syntax;

/// Why an editor's regex or glob cannot be used; the message quotes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub(crate) struct PatternError {
    reason: String,
    /// It went past the compiled size it was given, less than [`REGEX_SIZE_LIMIT`].
    over_given_size: bool,
}

impl PatternError {
    /// Whether the regex stopped compiling at the (smaller than usual) size it was given:
    /// the caller's budget, not the regex, is the reason.
    pub(crate) fn over_given_size(&self) -> bool {
        self.over_given_size
    }
}

/// Compiled size one regex may reach. Generous for any sensible pattern; stops
/// `(a{1000}){1000}`-style expressions at compile time.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// What a regex is used for, which decides how big its match cache may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// A condition (`when`) or glob: tested once per request against a short value (a path,
    /// a header). A small cache is plenty, and no capture groups are needed.
    Condition,
    /// `replace_text` or `rewrite_attribute`: run over page text, where a lazy DFA with room
    /// to grow keeps matching fast, and capture groups may be expanded.
    Page,
}

impl Use {
    /// The most the lazy DFA's cache may grow to. Past it the cache is cleared and reused,
    /// or the regex falls back to a slower matcher: memory stays bounded either way.
    fn cache_capacity(self) -> usize {
        match self {
            Use::Condition => 32 << 10,
            Use::Page => 512 << 10,
        }
    }
}

/// A compiled regex, with the memory it may hold.
#[derive(Debug, Clone)]
pub struct Pattern {
    regex: Regex,
    /// Bytes: the compiled regex plus the most its match caches may hold.
    memory: usize,
    /// Guest CPU it took to compile, by the cost model (from its compiled size).
    compile_ns: u64,
}

impl Pattern {
    /// Compiles an editor's regex within the size limit; the error quotes the regex.
    pub fn regex(pattern: &str, used_for: Use) -> Result<Pattern, PatternError> {
        Pattern::regex_within(pattern, used_for, REGEX_SIZE_LIMIT)
    }

    /// [`Pattern::regex`], giving up as soon as its compiled form passes `size` bytes: a
    /// regex too big for what is left of a compile budget costs that much to find out, not
    /// its whole compile.
    pub fn regex_within(pattern: &str, used_for: Use, size: usize) -> Result<Pattern, PatternError> {
        let size = size.min(REGEX_SIZE_LIMIT);
        let which_captures = match used_for {
            Use::Condition => WhichCaptures::None,
            Use::Page => WhichCaptures::All,
        };
        let config = Regex::config()
            .nfa_size_limit(Some(size))
            .hybrid_cache_capacity(used_for.cache_capacity())
            .which_captures(which_captures)
            // The bounded backtracker's visited set grows with the text searched (up to
            // 256 KiB a regex); conditions search request values that a client chooses.
            .backtrack(used_for == Use::Page);
        let regex = Regex::builder()
            .configure(config)
            .syntax(syntax::Config::new().nest_limit(NEST_LIMIT))
            .build(pattern)
            .map_err(|err| PatternError {
                reason: explain_build_error(pattern, &err),
                over_given_size: size < REGEX_SIZE_LIMIT && err.size_limit().is_some(),
            })?;
        let memory = regex.memory_usage() + regex.create_cache().memory_usage() + used_for.cache_capacity();
        let compile_ns = super::cost::regex_compile_ns(regex.memory_usage());
        Ok(Pattern { regex, memory, compile_ns })
    }

    /// A glob as an anchored regex: `*` is any run of characters, `?` is one; the rest is
    /// literal. Globs are conditions.
    #[cfg(test)]
    pub fn glob(glob: &str) -> Result<Pattern, PatternError> {
        Pattern::glob_within(glob, REGEX_SIZE_LIMIT)
    }

    /// [`Pattern::glob`] within `size` bytes compiled (see [`Pattern::regex_within`]).
    pub fn glob_within(glob: &str, size: usize) -> Result<Pattern, PatternError> {
        let mut pattern = String::with_capacity(glob.len() + 8);
        pattern.push('^');
        for c in glob.chars() {
            match c {
                '*' => pattern.push_str(".*"),
                '?' => pattern.push('.'),
                c => pattern.push_str(&escape(&c.to_string())),
            }
        }
        pattern.push('$');
        Pattern::regex_within(&pattern, Use::Condition, size)
    }

    /// Bytes this regex may hold: compiled form and match caches at their largest.
    pub fn memory(&self) -> usize {
        self.memory
    }

    /// Guest CPU it took to compile, by the cost model.
    pub fn compile_ns(&self) -> u64 {
        self.compile_ns
    }

    /// Whether `text` contains a match.
    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }

    /// Each match in `text`, left to right, as byte ranges.
    pub fn find_iter<'a>(&'a self, text: &'a str) -> impl Iterator<Item = (usize, usize)> + 'a {
        self.regex.find_iter(text).map(|m| (m.start(), m.end()))
    }

    /// Each match in `text`, left to right, with its capture groups.
    pub fn captures_iter<'a>(&'a self, text: &'a str) -> impl Iterator<Item = Captures> + 'a {
        self.regex.captures_iter(text)
    }

    /// Every match in `text` replaced by `replacement`, where `$1`, `${name}` insert capture
    /// groups and `$$` is a `$`; borrowed when nothing matched.
    pub fn replace_all<'t>(&self, text: &'t str, replacement: &str) -> Cow<'t, str> {
        // Made at the first match, sized for one replacement (a link's scheme, the usual
        // case): nothing allocated for a value that does not match, no growing for one that does.
        let mut out: Option<String> = None;
        let mut copied = 0;
        if replacement.contains('$') {
            for captures in self.regex.captures_iter(text) {
                let whole = captures.get_match().expect("a reported match has a span");
                let out = output_up_to(&mut out, text, copied..whole.start(), replacement.len());
                captures.interpolate_string_into(text, replacement, out);
                copied = whole.end();
            }
        } else {
            // Nothing to expand: the matches' spans are all it needs, and finding only
            // those skips the capture machinery (the link rewrite runs on every link).
            for found in self.regex.find_iter(text) {
                output_up_to(&mut out, text, copied..found.start(), replacement.len()).push_str(replacement);
                copied = found.end();
            }
        }
        match out {
            None => Cow::Borrowed(text),
            Some(mut out) => {
                out.push_str(&text[copied..]);
                Cow::Owned(out)
            }
        }
    }

    /// How many capture groups the regex has, the whole match (group 0) included.
    pub fn group_count(&self) -> usize {
        self.regex.group_info().group_len(PatternID::ZERO)
    }

    /// The names of its named capture groups.
    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.regex.group_info().pattern_names(PatternID::ZERO).flatten()
    }
}

/// How deep groups and repetitions may nest. The regex parser keeps its own stack on the
/// heap, but later passes recurse: a bound keeps them well inside the wasm guest's stack.
const NEST_LIMIT: u32 = 64;

/// `text` with regex metacharacters escaped, to be matched literally.
pub fn escape(text: &str) -> String {
    regex_syntax::escape(text)
}

fn explain_build_error(pattern: &str, err: &BuildError) -> String {
    if let Some(limit) = err.size_limit() {
        return format!("the regex {pattern:?} is too large once compiled (over {limit} bytes); simplify it");
    }
    match err.syntax_error() {
        Some(syntax) => format!("invalid regex {pattern:?}: {}", one_line(&syntax.to_string())),
        None => format!("invalid regex {pattern:?}: {}", one_line(&err.to_string())),
    }
}

/// The regex parser's errors span several lines (pattern, caret, message); logs want one.
fn one_line(message: &str) -> String {
    message.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join(" ")
}

/// `out` with `text[copied]` (the text since the last match) appended, ready for the next
/// replacement; made at the first match, sized for one replacement of `room` bytes.
fn output_up_to<'o>(out: &'o mut Option<String>, text: &str, copied: Range<usize>, room: usize) -> &'o mut String {
    let out = out.get_or_insert_with(|| String::with_capacity(text.len() + room));
    out.push_str(&text[copied]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_texts() {
        let glob = Pattern::glob("/shop/*/item-?.html").unwrap();
        assert!(glob.is_match("/shop/shoes/item-1.html"));
        assert!(glob.is_match("/shop/a/b/item-x.html"));
        assert!(!glob.is_match("/shop/shoes/item-10.html"));
        assert!(!glob.is_match("/x/shop/a/item-1.html"));
        assert!(Pattern::glob("a.b").unwrap().is_match("a.b"));
        assert!(!Pattern::glob("a.b").unwrap().is_match("axb"));
    }

    #[test]
    fn regex_errors_quote_the_regex_and_the_reason() {
        let err = Pattern::regex("a(b", Use::Page).unwrap_err().to_string();
        assert!(err.starts_with("invalid regex \"a(b\":"), "{err}");
        assert!(err.contains("unclosed group"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn huge_regexes_are_refused() {
        let err = Pattern::regex("(?:a{1000}){1000}", Use::Page).unwrap_err().to_string();
        assert!(err.contains("too large"), "{err}");
    }

    #[test]
    fn deeply_nested_regexes_are_refused() {
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(Pattern::regex(&deep, Use::Page).unwrap_err().to_string().contains("nest"));
    }

    #[test]
    fn memory_counts_the_compiled_regex_and_its_cache() {
        let small = Pattern::regex("^/news/", Use::Condition).unwrap();
        let unicode_words = Pattern::regex(r"\w{20}", Use::Condition).unwrap();
        assert!(small.memory() < 64 << 10, "{}", small.memory());
        assert!(unicode_words.memory() > 1 << 19, "{}", unicode_words.memory());
        let page = Pattern::regex("^/news/", Use::Page).unwrap();
        assert!(page.memory() > small.memory(), "a page regex may grow a larger cache");
    }

    #[test]
    fn replace_all_expands_groups() {
        let pattern = Pattern::regex("^http://(?P<host>[^/]+)(/.*)$", Use::Page).unwrap();
        assert_eq!(pattern.replace_all("http://a.example/x", "https://$host$2"), "https://a.example/x");
        assert!(matches!(pattern.replace_all("ftp://a", "x"), Cow::Borrowed("ftp://a")));
        assert_eq!(Pattern::regex("a", Use::Page).unwrap().replace_all("banana", "$$"), "b$n$n$");
        assert_eq!(pattern.group_count(), 3);
        assert_eq!(pattern.group_names().collect::<Vec<_>>(), ["host"]);
    }

    // proptest is a native dev-dependency: the engine's unit tests also run as wasm under
    // Viceroy (scripts/test), where this property is left out.
    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        /// A replacement without `$` is written as it is, whatever the regex captures: the
        /// same as the capture path gives (`$` forces that path, and `$$` is a `$`).
        #[test]
        fn replacements_without_references_match_the_capture_path(
            text in "[ab:/h]{0,24}",
            regex in proptest::sample::select(vec!["a", "a*", "^h", "(a)(b)?", "b|", "[a:]+$", "(?:)"]),
            replacement in "[xy]{0,3}",
        ) {
            let pattern = Pattern::regex(regex, Use::Page).unwrap();
            let plain = pattern.replace_all(&text, &replacement).into_owned();
            let via_captures = pattern.replace_all(&text, &format!("{replacement}$$")).replace('$', "");
            proptest::prop_assert_eq!(plain, via_captures);
        }
    }
}
