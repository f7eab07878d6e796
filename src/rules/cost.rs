//! The CPU cost model: what a rule costs the guest, once to compile and on every page.
//!
//! Fastly stops an execution at 50 ms of vCPU, and compiling the rules is charged to the
//! first request an instance serves. So each rule is priced before it is admitted, in the
//! units that cost CPU in the guest:
//!
//! * **compiling**: a rule's JSON and selector, and each regex or glob, by its compiled size;
//! * **per element**: every compound selector of every rule is matched against every
//!   element, and each element a selector matches costs a handler call plus its actions;
//! * **per text byte**: text rules scan every byte of the text they take;
//! * **per comment**: comment rules handle every comment.
//!
//! A page is priced as a *typical page* ([`TYPICAL_PAGE`]: elements, text and comments per
//! MB as the corpus pages have them), and a selector's share of its elements by the shape
//! of its last compound selector ([`share_permille`]). The constants are guest nanoseconds
//! measured under Viceroy (`cargo bench --bench cost_model --target wasm32-wasip1`, figures
//! in BENCHMARKS.md); the same figures weigh the handlers' calls for the CPU meter
//! ([`crate::rewrite::meter`]), so the rewrite checks its deadline as often as the work
//! needs, whatever the rules.
//!
//! The budgets ([`super::budget`]) hold a set to what fits Fastly's limit on a page of
//! reasonable size: [`REASONABLE_PAGE_BYTES`] of typical page rewritten within the default
//! CPU budget, compile included. Rules are admitted in order; one that does not fit is
//! refused, naming the field that costs most and the figures.

/// Guest nanoseconds of lol_html's own work per byte of page once any handler is
/// registered (full lexing instead of scanning for tags): the floor of every rewrite.
pub const PARSE_NS_PER_BYTE: u32 = 10;
/// Matching one compound selector against one element (lol_html's selector machine).
pub const SELECTOR_PART_NS: u32 = 15;
/// One handler call on a matched element (or comment), before its actions' own work.
pub const HANDLER_NS: u32 = 50;
/// An attribute edit on an element (`set_attribute`, `remove_attribute`; a rewrite reads
/// the value and runs its regex too).
pub const ATTRIBUTE_NS: u32 = 450;
/// Content inserted at an element (`before` … `set_inner`), before its bytes.
pub const INSERT_NS: u32 = 500;
/// Per byte of inserted content (it is copied out with the element).
pub const INSERT_NS_PER_BYTE: u32 = 2;
/// An element removed, replaced, unwrapped or renamed: its end tag is handled too.
pub const END_TAG_NS: u32 = 300;
/// A comment removed or replaced.
pub const COMMENT_NS: u32 = 300;
/// The text chain's own work per text chunk handed to it.
pub const TEXT_CHUNK_NS: u32 = 50;
/// The first text rule of a set, per byte of text, in picoseconds: lol_html decodes text
/// for text handlers only once some are registered, and the chain's own work per chunk.
pub const TEXT_FIRST_PS_PER_BYTE: u32 = 10_000;
/// A literal text rule per byte of text it takes, in picoseconds.
pub const LITERAL_PS_PER_BYTE: u32 = 1_500;
/// A regex (or case-insensitive) text rule per byte of text it takes, in picoseconds.
pub const REGEX_PS_PER_BYTE: u32 = 15_000;

/// Compiling one rule without regexes: reading its JSON, parsing its selector, its
/// templates and conditions.
pub const RULE_COMPILE_NS: u64 = 4_000;
/// Compiling one selector part (on top of [`RULE_COMPILE_NS`]); lol_html compiles the
/// set's selectors again for each request's rewriter.
pub const SELECTOR_PART_COMPILE_NS: u64 = 1_000;
/// Compiling one regex or glob, before its size.
pub const REGEX_COMPILE_NS: u64 = 50_000;
/// Compiling a regex, per KiB of its compiled size.
pub const REGEX_COMPILE_NS_PER_KIB: u64 = 16_000;

/// The model's constants as docs/RULES.md lists them (a test keeps the two equal): what is
/// charged, the figure, and its unit.
pub const CONSTANTS: [(&str, u64, &str); 16] = [
    ("parsing, per byte of page", PARSE_NS_PER_BYTE as u64, "ns"),
    ("matching one selector part, per element", SELECTOR_PART_NS as u64, "ns"),
    ("a handler call, per matched element or comment", HANDLER_NS as u64, "ns"),
    ("an attribute edit", ATTRIBUTE_NS as u64, "ns"),
    ("inserted content", INSERT_NS as u64, "ns"),
    ("inserted content, per byte", INSERT_NS_PER_BYTE as u64, "ns"),
    ("an element removed, replaced, renamed or unwrapped", END_TAG_NS as u64, "ns"),
    ("a comment removed or replaced", COMMENT_NS as u64, "ns"),
    ("a text chunk through the text rules", TEXT_CHUNK_NS as u64, "ns"),
    ("the first text rule, per byte of text", TEXT_FIRST_PS_PER_BYTE as u64, "ps"),
    ("a literal text rule, per byte of text", LITERAL_PS_PER_BYTE as u64, "ps"),
    ("a regex text rule, per byte of text", REGEX_PS_PER_BYTE as u64, "ps"),
    ("compiling a rule", RULE_COMPILE_NS, "ns"),
    ("compiling a selector part", SELECTOR_PART_COMPILE_NS, "ns"),
    ("compiling a regex or glob", REGEX_COMPILE_NS, "ns"),
    ("compiling a regex, per KiB of its compiled size", REGEX_COMPILE_NS_PER_KIB, "ns"),
];

/// What a typical page holds per MB, as the corpus pages do (BENCHMARKS.md, cost model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageProfile {
    /// Elements (start tags).
    pub elements: u64,
    /// Bytes of text.
    pub text_bytes: u64,
    /// Text chunks lol_html hands to text handlers.
    pub text_chunks: u64,
    /// Comments.
    pub comments: u64,
}

/// The typical page the model prices, per MB.
pub const TYPICAL_PAGE: PageProfile =
    PageProfile { elements: 17_000, text_bytes: 370_000, text_chunks: 36_000, comments: 100 };

/// The page size a rule set must rewrite within the default CPU budget, compile included:
/// larger than nine pages in ten on the web (the corpus pages are 116 to 714 KB).
pub const REASONABLE_PAGE_BYTES: u64 = 256 << 10;

/// Tags that make up much of a page: a selector ending in one matches up to a quarter of
/// its elements (`a` is a quarter of the corpus pages' elements; `div` as much on others).
const COMMON_TAGS: [&str; 28] = [
    "a", "b", "br", "button", "code", "dd", "div", "dt", "em", "g", "i", "img", "input", "label", "li", "option", "p",
    "path", "small", "span", "strong", "svg", "td", "th", "tr", "use", "var", "section",
];
/// Tags a page has once.
const ONCE_TAGS: [&str; 6] = ["html", "head", "body", "title", "main", "base"];

/// The share of a typical page's elements (per mille) a selector matches, by the last
/// compound selector of each item of its list: `*` (or only `:not(…)`) all of them; a tag
/// a quarter if common ([`COMMON_TAGS`]), one per page for `body` and the like, one in two
/// hundred otherwise; a class or attribute a twentieth; an id one per page; `:nth-child` and the
/// like halve it. An estimate: the CPU meter bounds what a page actually costs.
pub fn share_permille(selector: &str) -> u32 {
    let mut share = 0u32;
    for item in split_outside(selector, |c| c == ',') {
        let last = split_outside(item.trim(), |c| c.is_whitespace() || matches!(c, '>' | '+' | '~'))
            .into_iter()
            .rfind(|part| !part.trim().is_empty())
            .unwrap_or_default();
        share = share.saturating_add(compound_share(last));
    }
    share.clamp(1, 1_000)
}

fn compound_share(compound: &str) -> u32 {
    let outer = top_level(compound);
    let tag: String = outer.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    let tag = tag.to_ascii_lowercase();
    let mut share = if outer.contains('#') || ONCE_TAGS.contains(&tag.as_str()) {
        1
    } else if outer.contains('.') || outer.contains('[') {
        50
    } else if COMMON_TAGS.contains(&tag.as_str()) {
        250
    } else if !tag.is_empty() {
        5
    } else {
        1_000
    };
    if outer.contains(":nth") || outer.contains(":first") {
        share = (share / 2).max(1);
    }
    share
}

/// `text` without what brackets, parentheses and quotes enclose.
fn top_level(text: &str) -> String {
    let (mut depth, mut quote, mut out) = (0usize, None, String::new());
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '(') => {
                if depth == 0 && c == '[' {
                    out.push('[');
                }
                depth += 1;
            }
            (None, ']' | ')') => depth = depth.saturating_sub(1),
            (None, c) if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// `text` split where `separator` holds outside brackets, parentheses and quotes.
fn split_outside(text: &str, separator: impl Fn(char) -> bool) -> Vec<&str> {
    let (mut depth, mut quote, mut start, mut parts) = (0usize, None, 0, Vec::new());
    for (at, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '(') => depth += 1,
            (None, ']' | ')') => depth = depth.saturating_sub(1),
            (None, c) if depth == 0 && separator(c) => {
                parts.push(&text[start..at]);
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// What one rule costs, by the model: on a typical page, and to compile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleCost {
    /// Matching the rule's selector against every element: its parts' share.
    pub per_element_ns: u32,
    /// Each element its selector matches: handler calls and element actions.
    pub per_match_ns: u32,
    /// The share of elements the selector matches, per mille.
    pub share_permille: u32,
    /// Each comment in its scope.
    pub per_comment_ns: u32,
    /// Each byte of text in its scope, in picoseconds (0 without text rules).
    pub text_ps_per_byte: u32,
    /// The field that costs most per page, for messages (`selector`, `actions[0].…`).
    pub page_field: String,
    /// Compiling the rule, regexes included.
    pub compile_ns: u64,
    /// The field that cost most to compile.
    pub compile_field: String,
    /// What the page field's contribution weighs, to find the largest.
    page_weight: u64,
}

impl RuleCost {
    /// Guest nanoseconds on a MB of typical page.
    pub fn page_ns_per_mb(&self) -> u64 {
        let page = TYPICAL_PAGE;
        let elements = page.elements * u64::from(self.per_element_ns);
        let matched = page.elements * u64::from(self.share_permille) / 1_000 * u64::from(self.per_match_ns);
        let comments = page.comments * u64::from(self.per_comment_ns);
        let text = match self.text_ps_per_byte {
            0 => 0,
            ps => page.text_bytes * u64::from(ps) / 1_000 + page.text_chunks * u64::from(TEXT_CHUNK_NS),
        };
        elements + matched + comments + text
    }

    /// Guest nanoseconds for one handler call on an element it matches: what the CPU meter
    /// counts.
    pub fn match_work_ns(&self) -> u32 {
        self.per_match_ns.max(HANDLER_NS)
    }

    /// The rule's selector: `parts` compound selectors matched against every element, and
    /// the share of elements it matches (each a handler call). `repeated` when an admitted
    /// rule has the same selector: lol_html matches it once for both.
    pub(crate) fn set_selector(&mut self, parts: usize, share_permille: u32, repeated: bool) {
        let parts = u32::try_from(parts).unwrap_or(u32::MAX);
        self.per_element_ns = if repeated { 0 } else { parts.saturating_mul(SELECTOR_PART_NS) };
        self.share_permille = share_permille;
        let weight = TYPICAL_PAGE.elements * u64::from(self.per_element_ns) + self.matched(HANDLER_NS);
        self.note_page_field("selector", weight);
    }

    /// Adds element work of `ns` on each matched element (an action written at `field`).
    pub(crate) fn add_match(&mut self, field: &str, ns: u32) {
        if self.per_match_ns == 0 {
            self.per_match_ns = HANDLER_NS;
        }
        self.per_match_ns = self.per_match_ns.saturating_add(ns);
        self.note_page_field(field, self.matched(ns));
    }

    /// `ns` on each element the selector matches, over a MB of typical page.
    fn matched(&self, ns: u32) -> u64 {
        TYPICAL_PAGE.elements * u64::from(self.share_permille) / 1_000 * u64::from(ns)
    }

    /// Adds a comment action.
    pub(crate) fn add_comment(&mut self, field: &str) {
        self.per_comment_ns = self.per_comment_ns.saturating_add(HANDLER_NS + COMMENT_NS);
        self.note_page_field(field, TYPICAL_PAGE.comments * u64::from(HANDLER_NS + COMMENT_NS));
    }

    /// The set's first text rule pays for lol_html decoding text for text handlers.
    pub(crate) fn add_first_text_rule(&mut self) {
        if self.text_ps_per_byte > 0 {
            self.text_ps_per_byte = self.text_ps_per_byte.saturating_add(TEXT_FIRST_PS_PER_BYTE);
        }
    }

    /// Adds a text rule scanning at `ps_per_byte`.
    pub(crate) fn add_text(&mut self, field: &str, ps_per_byte: u32) {
        self.text_ps_per_byte = self.text_ps_per_byte.saturating_add(ps_per_byte);
        // Every byte of text costs: more than anything per element, so it names the field.
        self.note_page_field(field, u64::MAX);
    }

    /// Adds compile work at `field` (the regex that cost most, or the selector).
    pub(crate) fn add_compile(&mut self, field: &str, ns: u64) {
        if !field.is_empty() && (self.compile_field.is_empty() || ns > REGEX_COMPILE_NS) {
            self.compile_field = field.to_owned();
        }
        self.compile_ns = self.compile_ns.saturating_add(ns);
    }

    fn note_page_field(&mut self, field: &str, weight: u64) {
        if self.page_field.is_empty() || weight > self.page_weight {
            self.page_weight = weight;
            self.page_field = field.to_owned();
        }
    }
}

/// Compile nanoseconds for a regex of `compiled_bytes`.
pub fn regex_compile_ns(compiled_bytes: usize) -> u64 {
    REGEX_COMPILE_NS + (compiled_bytes as u64 >> 10) * REGEX_COMPILE_NS_PER_KIB
}

/// `ns` as editors read it: `1.2 ms`, `0.05 ms`.
pub fn format_ms(ns: u64) -> String {
    let ms = ns as f64 / 1e6;
    let text = if ms >= 10.0 {
        format!("{ms:.0}")
    } else if ms >= 0.1 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    };
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_are_priced_by_their_last_compound() {
        assert_eq!(share_permille("*"), 1_000);
        assert_eq!(share_permille(":not(.a)"), 1_000);
        assert_eq!(share_permille("p"), 250);
        assert_eq!(share_permille("h1"), 5);
        assert_eq!(share_permille("body"), 1);
        assert_eq!(share_permille("div > p.note"), 50);
        assert_eq!(share_permille("a[href^=\"http:\"]"), 50);
        assert_eq!(share_permille("#ad"), 1);
        assert_eq!(share_permille("li:nth-child(2)"), 125);
        assert_eq!(share_permille("h1, h2, h3"), 15);
        assert_eq!(share_permille("*, *"), 1_000, "capped at every element");
        assert_eq!(share_permille("a[title='x, y > z']"), 50, "commas and combinators inside quotes are text");
    }

    #[test]
    fn a_star_rule_costs_far_more_than_a_banner() {
        let mut star = RuleCost::default();
        star.set_selector(1, share_permille("*"), false);
        star.add_match("actions[0].set_attribute", ATTRIBUTE_NS);
        let mut banner = RuleCost::default();
        banner.set_selector(1, share_permille("body"), false);
        banner.add_match("actions[0].prepend", INSERT_NS);
        assert!(star.page_ns_per_mb() > 20 * banner.page_ns_per_mb());
        assert_eq!(star.page_field, "actions[0].set_attribute");
    }

    #[test]
    fn milliseconds_print_as_editors_read_them() {
        assert_eq!(format_ms(12_345_678), "12 ms");
        assert_eq!(format_ms(1_234_567), "1.2 ms");
        assert_eq!(format_ms(45_000), "0.04 ms");
        assert_eq!(format_ms(5_000_000), "5 ms");
    }
}
