//! Whether inserted HTML closes what it opens. Content goes into the page as written, so an
//! element left open takes in the rest of the page (`<div class="banner">Sale` puts the
//! whole page inside the banner), and a stray end tag closes one of the page's own elements.
//!
//! A small scanner, not a parser: tags, their quoted attribute values, comments, and the
//! raw text of `<script>`, `<style>` and the like are told apart; void elements (`<br>`,
//! `<img>`) and self-closing tags (`<path/>`) need no end tag.

/// Elements that never have content or an end tag.
const VOID: [&str; 14] =
    ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"];

/// Elements whose content is text up to their end tag.
const RAW_TEXT: [&str; 8] = ["script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes"];

/// The longest start tag quoted in a warning.
const QUOTE_CHARS: usize = 60;

/// What is unbalanced in `html`, with the fix, or `None` when it closes what it opens.
pub(super) fn check(html: &str) -> Option<String> {
    let mut open: Vec<(String, String)> = Vec::new();
    let mut stray: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            rest = rest.find('>').map_or("", |end| &rest[end + 1..]);
            continue;
        }
        let end_tag = rest.starts_with("</");
        let name_start = if end_tag { 2 } else { 1 };
        let name: String = rest[name_start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
        if name.is_empty() || !rest[name_start..].starts_with(|c: char| c.is_ascii_alphabetic()) {
            rest = &rest[1..];
            continue;
        }
        let tag_len = tag_end(rest);
        let tag = &rest[..tag_len];
        rest = &rest[tag_len..];
        let name = name.to_ascii_lowercase();
        if end_tag {
            match open.iter().rposition(|(open_name, _)| *open_name == name) {
                // Elements opened inside it and left open are closed with it, and reported.
                Some(position) => {
                    let inner: Vec<(String, String)> = open.drain(position..).skip(1).collect();
                    if let Some((_, unclosed)) = inner.first() {
                        stray.push(format!("{unclosed} is closed only by </{name}>"));
                    }
                }
                None => stray.push(format!("</{name}> closes an element it does not open, one of the page's own")),
            }
        } else if tag.ends_with("/>") || VOID.contains(&name.as_str()) {
            continue;
        } else if RAW_TEXT.contains(&name.as_str()) {
            let close = format!("</{name}");
            match find_ignoring_case(rest, &close) {
                Some(end) => rest = &rest[end + close.len()..],
                None => {
                    open.push((name, quote(tag)));
                    rest = "";
                }
            }
            rest = rest.find('>').map_or(rest, |end| &rest[end + 1..]);
        } else {
            open.push((name, quote(tag)));
        }
    }
    let mut problems = Vec::new();
    if !open.is_empty() {
        let tags: Vec<&str> = open.iter().map(|(_, tag)| tag.as_str()).collect();
        let fix: String = open.iter().rev().map(|(name, _)| format!("</{name}>")).collect();
        problems.push(format!(
            "the HTML opens {} and never closes {}: the rest of the page would end up inside; add {fix}",
            tags.join(" and "),
            if open.len() == 1 { "it" } else { "them" }
        ));
    }
    problems.extend(stray);
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// The length of the tag at the start of `text`: up to its `>`, past quoted values.
fn tag_end(text: &str) -> usize {
    let mut quote: Option<char> = None;
    for (at, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return at + 1,
            _ => {}
        }
    }
    text.len()
}

fn find_ignoring_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack.to_ascii_lowercase().find(needle)
}

fn quote(tag: &str) -> String {
    if tag.chars().count() <= QUOTE_CHARS {
        return tag.to_owned();
    }
    let cut: String = tag.chars().take(QUOTE_CHARS).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_html_passes() {
        for html in [
            "<div class=\"edge-banner\">Sale on {{host}}</div>",
            "<p>a<br>b<img src=\"x.png\" alt=\"a > b\"></p><hr>",
            "<svg><path d=\"M0 0\"/></svg><!-- <div> in a comment -->",
            "<script>if (a < b) { document.write('<div>') }</script><style>p > a {}</style>",
            "<!doctype html>plain text, a < b",
            "<DIV>shouted</div>",
        ] {
            assert_eq!(check(html), None, "{html}");
        }
    }

    #[test]
    fn an_element_left_open_is_named_with_its_end_tag() {
        assert_eq!(
            check("<div class=\"banner\">Sale <b>now"),
            Some(
                "the HTML opens <div class=\"banner\"> and <b> and never closes them: the rest of the page would end \
                 up inside; add </b></div>"
                    .to_owned()
            )
        );
        assert!(check("<script>never ends").unwrap().contains("<script>"));
    }

    #[test]
    fn stray_and_crossed_end_tags_are_named() {
        assert_eq!(
            check("Sale</div>"),
            Some("</div> closes an element it does not open, one of the page's own".to_owned())
        );
        assert_eq!(check("<div><span>x</div>"), Some("<span> is closed only by </div>".to_owned()));
    }
}
