//! Editors' patterns: regular expressions with limits, and globs (compiled to the same
//! engine so there is one matcher to trust).

use regex::{Regex, RegexBuilder};

/// Compiled size an editor's regex may reach. Generous for any sensible pattern; stops
/// `(a{1000}){1000}`-style expressions from eating the 128 MB heap.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Memory the lazy DFA may use per regex.
const REGEX_DFA_LIMIT: usize = 2 << 20;

/// Compiles an editor's regex within size limits; the error quotes the regex engine's.
pub fn compile_regex(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).dfa_size_limit(REGEX_DFA_LIMIT).build().map_err(|err| {
        match err {
            regex::Error::CompiledTooBig(limit) => {
                format!("the regex {pattern:?} is too large once compiled (over {limit} bytes); simplify it")
            }
            other => format!("invalid regex {pattern:?}: {}", one_line(&other.to_string())),
        }
    })
}

/// A glob as an anchored regex: `*` is any run of characters, `?` is one; the rest is literal.
pub fn compile_glob(glob: &str) -> Result<Regex, String> {
    let mut pattern = String::with_capacity(glob.len() + 8);
    pattern.push('^');
    for c in glob.chars() {
        match c {
            '*' => pattern.push_str(".*"),
            '?' => pattern.push('.'),
            c => pattern.push_str(&regex::escape(&c.to_string())),
        }
    }
    pattern.push('$');
    compile_regex(&pattern)
}

/// The regex crate's errors span several lines (pattern, caret, message); logs want one.
fn one_line(message: &str) -> String {
    message.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_texts() {
        let glob = compile_glob("/shop/*/item-?.html").unwrap();
        assert!(glob.is_match("/shop/shoes/item-1.html"));
        assert!(glob.is_match("/shop/a/b/item-x.html"));
        assert!(!glob.is_match("/shop/shoes/item-10.html"));
        assert!(!glob.is_match("/x/shop/a/item-1.html"));
        assert!(compile_glob("a.b").unwrap().is_match("a.b"));
        assert!(!compile_glob("a.b").unwrap().is_match("axb"));
    }

    #[test]
    fn regex_errors_quote_the_regex_and_the_reason() {
        let err = compile_regex("a(b").unwrap_err();
        assert!(err.starts_with("invalid regex \"a(b\":"), "{err}");
        assert!(err.contains("unclosed group"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn huge_regexes_are_refused() {
        let err = compile_regex("(?:a{1000}){1000}").unwrap_err();
        assert!(err.contains("too large"), "{err}");
    }
}
