//! CSS selectors, parsed once, with errors that say what exactly cannot be used and why.
//!
//! lol_html matches elements as the page streams past, so it cannot use selectors that
//! depend on what comes later (`:last-child`, `+`, `~`, `:has`) or on state a browser has
//! (`:hover`). Its own errors say "unsupported pseudo-class"; editors need to know which.

use lol_html::Selector;
use lol_html::errors::SelectorError as LolSelectorError;

use crate::rules::budget::{MAX_SELECTOR_CHARS, MAX_SELECTOR_DEPTH};
use crate::rules::error::reason_error;

/// The pseudo-classes lol_html can match.
const SUPPORTED_PSEUDO_CLASSES: [&str; 5] = ["first-child", "nth-child", "first-of-type", "nth-of-type", "not"];

reason_error! {
    /// Why a selector cannot be used: what exactly, and what is supported.
    pub(crate) struct SelectorError;
}

const WHY_STREAMING: &str = "lol_html matches elements while the page streams and cannot see what comes after them";

/// Parses a selector, or explains why it cannot be used. Its [`Shape`] is checked against
/// the selector budgets first: lol_html compiles a chain of compound selectors by recursion,
/// and the guest's stack is 1 MiB.
pub fn parse_selector(selector: &str) -> Result<(Selector, Shape), SelectorError> {
    let shape = Shape::of(selector);
    if shape.depth > MAX_SELECTOR_DEPTH {
        return Err(SelectorError::new(format!(
            "over the selector depth budget: the selector chains {} compound selectors, a selector may chain \
             {MAX_SELECTOR_DEPTH} (`div p > a` chains 3); select by a class or id instead",
            shape.depth
        )));
    }
    let chars = selector.chars().count();
    if chars > MAX_SELECTOR_CHARS {
        return Err(SelectorError::new(format!(
            "over the selector length budget: the selector is {chars} characters long, a selector may have \
             {MAX_SELECTOR_CHARS}; select by a class or id instead"
        )));
    }
    let parsed = selector.parse::<Selector>().map_err(|err| SelectorError::new(explain(selector, &err)))?;
    Ok((parsed, shape))
}

/// How big a selector is for lol_html: compound selectors (`div.a`, `p`, `#x`) chained by
/// combinators, over the items of a selector list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// The longest chain in one item of the list (`div p > a` is 3).
    pub depth: usize,
    /// Compound selectors over the whole list (`a, div p` is 3).
    pub parts: usize,
}

impl Shape {
    /// Counts by scanning the text: combinators outside quotes, brackets and parentheses
    /// separate compound selectors; commas there separate the list's items.
    pub fn of(selector: &str) -> Shape {
        let mut shape = Shape { depth: 0, parts: 0 };
        let (mut chain, mut in_compound) = (0, false);
        let mut quote: Option<char> = None;
        let mut nesting = 0usize;
        let mut chars = selector.chars();
        let end_item = |chain: &mut usize, shape: &mut Shape| {
            shape.depth = shape.depth.max(*chain);
            shape.parts += *chain;
            *chain = 0;
        };
        while let Some(c) = chars.next() {
            if let Some(q) = quote {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    c if c == q => quote = None,
                    _ => {}
                }
                continue;
            }
            match c {
                '\\' => {
                    chars.next();
                }
                '"' | '\'' => quote = Some(c),
                '[' | '(' => nesting += 1,
                ']' | ')' => nesting = nesting.saturating_sub(1),
                _ if nesting > 0 => {}
                ',' => {
                    end_item(&mut chain, &mut shape);
                    in_compound = false;
                    continue;
                }
                c if c.is_whitespace() || matches!(c, '>' | '+' | '~') => {
                    in_compound = false;
                    continue;
                }
                _ => {}
            }
            if !in_compound {
                chain += 1;
                in_compound = true;
            }
        }
        end_item(&mut chain, &mut shape);
        shape
    }
}

fn explain(selector: &str, err: &LolSelectorError) -> String {
    let supported = "supported: type, .class, #id, [attribute] selectors, descendant (`a b`) and child (`a > b`) \
                     combinators, :first-child, :nth-child(), :first-of-type, :nth-of-type(), :not()";
    let detail = match err {
        LolSelectorError::UnsupportedCombinator(combinator) => {
            let name = match combinator {
                '+' => "next-sibling",
                '~' => "subsequent-sibling",
                _ => "this",
            };
            format!("the {name} combinator `{combinator}` is not supported ({WHY_STREAMING})")
        }
        LolSelectorError::UnsupportedPseudoClassOrElement => match unsupported_pseudo(selector) {
            Some(pseudo) if pseudo.starts_with("::") || is_legacy_pseudo_element(&pseudo) => {
                format!("the pseudo-element `{pseudo}` is not supported: rules act on elements, not parts of them")
            }
            Some(pseudo) => format!("the pseudo-class `{pseudo}` is not supported"),
            None => "combinators inside :not() are not supported; :not() takes simple selectors such as `:not(.ad)`"
                .to_owned(),
        },
        LolSelectorError::NamespacedSelector => {
            "namespace prefixes (`ns|tag`, `*|*`, `[*|attr]`) are not supported".to_owned()
        }
        LolSelectorError::UnsupportedSyntax => {
            format!(":has(), :is(), :where() and relative selectors are not supported ({WHY_STREAMING})")
        }
        LolSelectorError::EmptySelector => "the selector is empty".to_owned(),
        other => format!("it is not valid CSS: {}", other.to_string().trim_end_matches('.').to_lowercase()),
    };
    format!("selector {selector:?} cannot be used: {detail}; {supported}")
}

/// The first `:name` or `::name` in the selector that lol_html does not support.
fn unsupported_pseudo(selector: &str) -> Option<String> {
    let bytes = selector.as_bytes();
    let mut in_quotes: Option<u8> = None;
    let mut in_brackets = false;
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        match (in_quotes, byte) {
            (Some(quote), _) if byte == quote => in_quotes = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => in_quotes = Some(byte),
            (None, b'[') => in_brackets = true,
            (None, b']') => in_brackets = false,
            (None, b':') if !in_brackets => {
                let start = i;
                i += 1;
                if bytes.get(i) == Some(&b':') {
                    i += 1;
                }
                let name_start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'-') {
                    i += 1;
                }
                let name = selector[name_start..i].to_ascii_lowercase();
                let is_element = name_start - start == 2;
                if is_element || !SUPPORTED_PSEUDO_CLASSES.contains(&name.as_str()) {
                    let call = if bytes.get(i) == Some(&b'(') { "()" } else { "" };
                    return Some(format!("{}{name}{call}", &selector[start..name_start]));
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// `:before`, `:after`, `:first-line`, `:first-letter`: pseudo-elements in CSS2 syntax.
fn is_legacy_pseudo_element(pseudo: &str) -> bool {
    matches!(pseudo, ":before" | ":after" | ":first-line" | ":first-letter")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(selector: &str) -> String {
        parse_selector(selector).unwrap_err().to_string()
    }

    #[test]
    fn shapes_count_compound_selectors() {
        assert_eq!(Shape::of("div"), Shape { depth: 1, parts: 1 });
        assert_eq!(Shape::of("div.a p > a#x"), Shape { depth: 3, parts: 3 });
        assert_eq!(Shape::of("a, div  p,ul>li"), Shape { depth: 2, parts: 5 });
        assert_eq!(Shape::of("a[title=\"x y > z, w\"] b"), Shape { depth: 2, parts: 2 });
        assert_eq!(Shape::of("p:not(.a .b) i"), Shape { depth: 2, parts: 2 });
        assert_eq!(Shape::of("  h1 +  p ~ span  "), Shape { depth: 3, parts: 3 });
        assert_eq!(Shape::of(&"div ".repeat(1200)), Shape { depth: 1200, parts: 1200 });
    }

    #[test]
    fn selectors_over_budget_are_refused_before_lol_html_sees_them() {
        let deep = "div ".repeat(1200);
        let err = reason(&deep);
        assert!(err.contains("selector depth budget") && err.contains("chains 1200") && err.contains("32"), "{err}");
        let at_budget = vec!["div"; MAX_SELECTOR_DEPTH].join(" ");
        assert!(parse_selector(&at_budget).is_ok());
        let long = format!("p[title=\"{}\"]", "x".repeat(MAX_SELECTOR_CHARS));
        assert!(reason(&long).contains("selector length budget"), "{}", reason(&long));
    }

    #[test]
    fn supported_selectors_parse() {
        for selector in
            ["div", "a[href^=\"http:\"]", "ul > li:nth-child(2n+1)", "p:not(.x)", "#main .ad", "*", "td:first-of-type"]
        {
            assert!(parse_selector(selector).is_ok(), "{selector}");
        }
    }

    #[test]
    fn errors_name_what_is_unsupported() {
        assert!(reason("li:last-child").contains("the pseudo-class `:last-child` is not supported"));
        assert!(reason("a:hover").contains("`:hover`"));
        assert!(reason("tr:nth-last-child(2)").contains("`:nth-last-child()`"));
        assert!(reason("p::before").contains("pseudo-element `::before`"));
        assert!(reason("p:first-letter").contains("pseudo-element `:first-letter`"));
        assert!(reason("h1 + p").contains("next-sibling combinator `+`"));
        assert!(reason("h1 ~ p").contains("subsequent-sibling combinator `~`"));
        assert!(reason("div:has(img)").contains(":has()"));
        assert!(reason("[*|title]").contains("namespace"), "{}", reason("[*|title]"));
        assert!(reason("p:not(div p)").contains("inside :not()"));
        assert!(reason("a[href=\"x:hover\"]:empty").contains("`:empty`"), "{}", reason("a[href=\"x:hover\"]:empty"));
        assert!(reason("div[").contains("not valid CSS"));
        assert!(reason("").contains("empty"));
        assert!(reason("li:last-child").starts_with("selector \"li:last-child\" cannot be used"));
    }
}
