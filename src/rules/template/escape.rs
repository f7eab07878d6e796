//! Escapers, one per context a template value can land in. Each makes any value inert
//! where it lands: it can end no string, tag, attribute, rule or URL part it sits in.

use std::fmt::Write as _;

use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};

/// Appends `text` with `& < > " '` as character references: safe in markup, in quoted
/// attribute values, in RCDATA (`<title>`, `<textarea>`) and in comments alike.
pub fn html_into(text: &str, out: &mut String) {
    escape_markup(text, true, out);
}

/// Appends `text` with `& < >` as character references: for text content, where quotes
/// need no escaping (replaced text keeps them as written).
pub fn html_text_into(text: &str, out: &mut String) {
    escape_markup(text, false, out);
}

/// `text` with `& < > " '` as character references, as a new string.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    html_into(text, &mut out);
    out
}

fn escape_markup(text: &str, quotes: bool, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if quotes => out.push_str("&quot;"),
            '\'' if quotes => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Appends `text` as the inside of a JavaScript (or JSON) string literal: letters, digits
/// and spaces as they are, everything else as `\uXXXX`. Safe in `'…'`, `"…"` and template
/// literals, in comments and regex literals (no quote, backslash, `<`, `$` or line break
/// survives), and in HTML attributes around them. In code outside a string, only
/// identifiers can be formed, never a call or an operator.
pub fn js_string_into(text: &str, out: &mut String) {
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == ' ' {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
}

/// Appends `text` as a whole JavaScript (or JSON) string literal, quotes included: for a
/// value that lands in code, where it becomes data rather than code.
pub fn js_value_into(text: &str, out: &mut String) {
    out.push('"');
    js_string_into(text, out);
    out.push('"');
}

/// Appends `text` for CSS: letters and digits as they are, everything else as a hex escape
/// (`\3b `). Inside a CSS string, comment or `url()` the escapes stay data; outside one the
/// value can only become part of an identifier, never end a declaration or rule.
pub fn css_into(text: &str, out: &mut String) {
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            let _ = write!(out, "\\{:x} ", c as u32);
        }
    }
}

/// Appends `text` for a response header's value: control characters (CR and LF above all,
/// which would end the header and start another) are dropped, so a value can never become
/// a second header line, and characters beyond ASCII are percent-encoded (`Köln` is
/// `K%C3%B6ln`), since header values are ASCII and platforms refuse others.
pub fn header_value_into(text: &str, out: &mut String) {
    for c in text.chars().filter(|c| !c.is_control()) {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.extend(utf8_percent_encode(c.encode_utf8(&mut [0; 4]), CONTROLS));
        }
    }
}

/// What a cookie value keeps as written: RFC 6265's cookie-octets less `%`, which is what
/// encodes the rest. Spaces, quotes, `,`, `;`, `\\`, controls and non-ASCII are
/// percent-encoded, so a value can neither end the cookie nor add an attribute.
const COOKIE_KEEP: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b',').add(b';').add(b'\\').add(b'%');

/// Appends `text` percent-encoded as (part of) a cookie value.
pub fn cookie_value_into(text: &str, out: &mut String) {
    out.extend(utf8_percent_encode(text, COOKIE_KEEP));
}

/// What a URL keeps as written: unreserved and reserved characters and `%`. Everything
/// else (spaces, controls, quotes, `<`, `>`, backslashes, non-ASCII) is percent-encoded.
const URL_KEEP: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'\'')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// What a query or fragment value keeps: only unreserved characters, so a value cannot add
/// a parameter (`&`, `=`), end the query (`#`) or carry a quote.
const COMPONENT_KEEP: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Appends `text` percent-encoded where a URL may not hold it as written, for a path.
pub fn url_path_into(text: &str, out: &mut String) {
    out.extend(utf8_percent_encode(text, URL_KEEP));
}

/// Appends `text` percent-encoded as one query or fragment component.
pub fn url_component_into(text: &str, out: &mut String) {
    out.extend(utf8_percent_encode(text, COMPONENT_KEEP));
}

/// The schemes a template value may give a URL: they navigate or load, never run script.
pub const ALLOWED_SCHEMES: [&str; 4] = ["http", "https", "mailto", "tel"];

/// Whether `scheme` (without the `:`) is one a URL may have.
pub fn scheme_allowed(scheme: &str) -> bool {
    ALLOWED_SCHEMES.iter().any(|allowed| scheme.eq_ignore_ascii_case(allowed))
}

/// Appends `text` for the start of a URL, where it may set the scheme: percent-encoded as
/// for a path, and unless `may_set_scheme` and it starts with an allowed scheme, every `:`
/// before its first `/`, `?` or `#` is encoded too, so `javascript:alert(1)` becomes the
/// harmless relative URL `javascript%3Aalert(1)`.
pub fn url_start_into(text: &str, may_set_scheme: bool, out: &mut String) {
    let encoded: String = utf8_percent_encode(text, URL_KEEP).collect();
    let scheme_end = encoded.find([':', '/', '?', '#']).filter(|&at| encoded[at..].starts_with(':'));
    if let Some(at) = scheme_end
        && may_set_scheme
        && is_scheme(&encoded[..at])
        && scheme_allowed(&encoded[..at])
    {
        out.push_str(&encoded);
        return;
    }
    let path_start = encoded.find(['/', '?', '#']).unwrap_or(encoded.len());
    out.push_str(&encoded[..path_start].replace(':', "%3A"));
    out.push_str(&encoded[path_start..]);
}

/// `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`
pub fn is_scheme(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(escape: fn(&str, &mut String), text: &str) -> String {
        let mut out = String::new();
        escape(text, &mut out);
        out
    }

    #[test]
    fn html() {
        assert_eq!(
            run(html_into, r#"<a href="x" onclick='y'>&"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;"
        );
    }

    #[test]
    fn javascript_strings_keep_nothing_that_could_end_them() {
        let hostile = "\";alert(document.domain)//</script>\u{2028}`${x}\\";
        let escaped = run(js_string_into, hostile);
        assert!(escaped.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '\\'), "{escaped}");
        assert!(escaped.starts_with("\\u0022\\u003balert\\u0028document\\u002edomain\\u0029"), "{escaped}");
        assert_eq!(run(js_string_into, "😀"), "\\ud83d\\ude00");
        assert_eq!(run(js_value_into, "a'b"), "\"a\\u0027b\"");
    }

    #[test]
    fn css_keeps_only_letters_and_digits() {
        assert_eq!(run(css_into, "red;}body{background:url(x)"), "red\\3b \\7d body\\7b background\\3a url\\28 x\\29 ");
    }

    #[test]
    fn urls() {
        assert_eq!(run(url_path_into, "/a b/\"x\"<y>?q=1&r#f"), "/a%20b/%22x%22%3Cy%3E?q=1&r#f");
        assert_eq!(run(url_component_into, "a b&c=d#e/é"), "a%20b%26c%3Dd%23e%2F%C3%A9");
    }

    #[test]
    fn only_allowed_schemes_survive_at_the_start_of_a_url() {
        let start = |text: &str, may: bool| {
            let mut out = String::new();
            url_start_into(text, may, &mut out);
            out
        };
        assert_eq!(start("https://example.com/a:b", true), "https://example.com/a:b");
        assert_eq!(start("MAILTO:a@example.com", true), "MAILTO:a@example.com");
        assert_eq!(start("javascript:alert(1)", true), "javascript%3Aalert(1)");
        assert_eq!(start("JaVaScRiPt:alert(1)//x:y", true), "JaVaScRiPt%3Aalert(1)//x:y");
        assert_eq!(start("java\tscript:alert(1)", true), "java%09script%3Aalert(1)");
        assert_eq!(start("data:text/html,<script>", true), "data%3Atext/html,%3Cscript%3E");
        assert_eq!(start("https://example.com", false), "https%3A//example.com", "only at the very start");
        assert_eq!(start("/path?x=a:b", true), "/path?x=a:b");
    }
}
