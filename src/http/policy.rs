//! Which responses are rewritten, and how a rewritten response's headers change.
//!
//! Pure functions over header values, so the rule "only what we can safely rewrite is
//! touched" is tested natively; the Fastly adapter only gathers the facts and applies the
//! verdict.

use crate::http::charset::PageEncoding;
use crate::http::decode::Decoding;

/// The facts about a request and its response that decide whether to rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseFacts<'a> {
    /// The client request's method.
    pub method: &'a str,
    /// The origin response's status.
    pub status: u16,
    /// The origin response's media type, as [`content_type`] reads its `Content-Type`
    /// lines (all of them, as browsers do).
    pub content_type: Option<&'a str>,
    /// The origin response's `Content-Encoding`: every line's value, joined with `, `.
    pub content_encoding: Option<&'a str>,
    /// The origin response's `Cache-Control`: `no-transform` forbids rewriting.
    pub cache_control: Option<&'a str>,
    /// Whether the client asked for a byte range (a `Range` header).
    pub range_request: bool,
    /// Whether the response says `X-Content-Type-Options: nosniff`: its type is never
    /// guessed from its bytes.
    pub nosniff: bool,
}

impl<'a> ResponseFacts<'a> {
    /// Facts for `method` and `status` with no headers: fill in the rest field by field.
    pub fn new(method: &'a str, status: u16) -> Self {
        Self {
            method,
            status,
            content_type: None,
            content_encoding: None,
            cache_control: None,
            range_request: false,
            nosniff: false,
        }
    }
}

/// The verdict for one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Stream the body through the rewriter: decoded so, in that character encoding.
    Rewrite(Decoding, PageEncoding),
    /// Send the response on untouched; the reason is for the log.
    PassThrough(&'static str),
}

/// Decides whether a response is rewritten: only successful, whole answers to GET (and
/// HEAD, which gets the headers GET would get) that carry HTML in a charset and an encoding
/// the rewriter can work with, and that the origin allows to be transformed.
pub fn decide(facts: &ResponseFacts<'_>) -> Decision {
    if let Some(reason) = untouchable(facts) {
        return Decision::PassThrough(reason);
    }
    if !facts.content_type.is_some_and(is_html) {
        return Decision::PassThrough("not HTML");
    }
    let Ok(encoding) = PageEncoding::from_content_type(facts.content_type) else {
        return Decision::PassThrough("a charset the rewriter cannot work in (unknown, or not ASCII-compatible)");
    };
    match body_decoding(facts.content_encoding) {
        Some(decoding) => Decision::Rewrite(decoding, encoding),
        None => Decision::PassThrough("a content encoding the rewriter cannot decode exactly (only gzip, once)"),
    }
}

/// Whether a response without a `Content-Type` may have its type sniffed from its first
/// bytes: only one that would be rewritten if it were HTML, whose origin did not say
/// `nosniff`, and whose body is not encoded. Sniffing never touches a response that passes
/// through anyway (a POST, a range, an error).
pub fn may_sniff(facts: &ResponseFacts<'_>) -> bool {
    facts.content_type.is_none()
        && !facts.nosniff
        && untouchable(facts).is_none()
        && body_decoding(facts.content_encoding) == Some(Decoding::Identity)
}

/// Why a response must pass through whatever its type, if it must.
fn untouchable(facts: &ResponseFacts<'_>) -> Option<&'static str> {
    if facts.method != "GET" && facts.method != "HEAD" {
        return Some("not a GET or HEAD request");
    }
    if facts.range_request {
        return Some("a range request: byte ranges of the origin's body must stay valid");
    }
    if !(200..300).contains(&facts.status) {
        return Some("not a 2xx response");
    }
    if facts.status == 204 || facts.status == 206 {
        return Some("no body or a partial body (204/206)");
    }
    if facts.cache_control.is_some_and(forbids_transform) {
        return Some("the origin sent Cache-Control: no-transform");
    }
    None
}

/// How to decode a body with this `Content-Encoding` list (codings in the order applied),
/// or `None` when it cannot be decoded exactly. `identity` adds nothing; one gzip is all
/// the rewriter decodes (two, or gzip and another coding, would need both undone).
pub fn body_decoding(content_encoding: Option<&str>) -> Option<Decoding> {
    let codings: Vec<&str> = content_encoding
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case("identity"))
        .collect();
    match codings.as_slice() {
        [] => Some(Decoding::Identity),
        [coding] if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") => {
            Some(Decoding::Gzip)
        }
        _ => None,
    }
}

/// The media type of a response whose `Content-Type` lines are `values`, read as browsers
/// read them: the last valid type wins (see [`crate::http::mime`]).
pub fn content_type<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
    crate::http::mime::extract(values)
}

fn forbids_transform(cache_control: &str) -> bool {
    cache_control.split(',').any(|directive| directive.trim().eq_ignore_ascii_case("no-transform"))
}

/// Whether a body that came without a Content-Type is HTML, by its first bytes, as browsers
/// sniff it (the WHATWG MIME Sniffing patterns for HTML: a tag such as `<!DOCTYPE HTML`,
/// `<html`, `<p`, or `<!--`, after leading whitespace). Give it up to 512 bytes.
pub fn sniff_html(prefix: &[u8]) -> bool {
    const TAGS: [&[u8]; 17] = [
        b"<!DOCTYPE HTML",
        b"<HTML",
        b"<HEAD",
        b"<SCRIPT",
        b"<IFRAME",
        b"<H1",
        b"<DIV",
        b"<FONT",
        b"<TABLE",
        b"<A",
        b"<STYLE",
        b"<TITLE",
        b"<B",
        b"<BODY",
        b"<BR",
        b"<P",
        b"<!--",
    ];
    let start =
        prefix.iter().position(|b| !matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')).unwrap_or(prefix.len());
    let text = &prefix[start..];
    TAGS.iter().any(|tag| {
        text.len() > tag.len() && text[..tag.len()].eq_ignore_ascii_case(tag) && matches!(text[tag.len()], b' ' | b'>')
    })
}

/// True for `text/html` and `application/xhtml+xml`, whatever the parameters and case.
pub fn is_html(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("text/html") || essence.eq_ignore_ascii_case("application/xhtml+xml")
}

/// The `Accept-Encoding` to send the origin: we can only decode gzip, so ask for gzip when
/// the client takes it and for an unencoded body otherwise.
pub fn origin_accept_encoding(client_accept_encoding: Option<&str>) -> Option<&'static str> {
    let accepts_gzip = client_accept_encoding.is_some_and(|value| {
        value.split(',').any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|param| {
                let param = param.trim().replace(' ', "");
                param == "q=0" || param == "q=0.0" || param == "q=0.00" || param == "q=0.000"
            });
            name.eq_ignore_ascii_case("gzip") && !refused
        })
    });
    accepts_gzip.then_some("gzip")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(method: &'static str, status: u16, content_type: Option<&'static str>) -> ResponseFacts<'static> {
        ResponseFacts { content_type, ..ResponseFacts::new(method, status) }
    }

    #[test]
    fn only_successful_html_answers_to_get_are_rewritten() {
        let html = Some("text/html; charset=utf-8");
        assert_eq!(
            decide(&facts("GET", 200, html)),
            Decision::Rewrite(Decoding::Identity, PageEncoding::Declared(encoding_rs::UTF_8))
        );
        assert_eq!(
            decide(&facts("GET", 203, Some("application/xhtml+xml"))),
            Decision::Rewrite(Decoding::Identity, PageEncoding::Sniffed)
        );
        assert_eq!(
            decide(&facts("GET", 200, Some("TEXT/HTML"))),
            Decision::Rewrite(Decoding::Identity, PageEncoding::Sniffed)
        );
        assert_eq!(
            decide(&facts("HEAD", 200, html)),
            Decision::Rewrite(Decoding::Identity, PageEncoding::Declared(encoding_rs::UTF_8)),
            "HEAD gets the headers GET would get"
        );
        for (method, status, content_type) in [
            ("POST", 200, html),
            ("OPTIONS", 200, html),
            ("GET", 404, html),
            ("GET", 304, html),
            ("GET", 204, html),
            ("GET", 206, html),
            ("GET", 200, Some("text/plain")),
            ("GET", 200, Some("text/htmlx")),
            ("GET", 200, None),
        ] {
            assert!(
                matches!(decide(&facts(method, status, content_type)), Decision::PassThrough(_)),
                "{method} {status} {content_type:?}"
            );
        }
    }

    #[test]
    fn ranges_and_no_transform_pass_through() {
        let html = Some("text/html");
        let range = ResponseFacts { range_request: true, ..facts("GET", 200, html) };
        assert!(matches!(decide(&range), Decision::PassThrough(why) if why.contains("range")));
        let frozen =
            ResponseFacts { cache_control: Some("public, No-Transform, max-age=60"), ..facts("GET", 200, html) };
        assert!(matches!(decide(&frozen), Decision::PassThrough(why) if why.contains("no-transform")));
        let cached = ResponseFacts { cache_control: Some("public, max-age=60"), ..facts("GET", 200, html) };
        assert!(matches!(decide(&cached), Decision::Rewrite(..)));
    }

    #[test]
    fn html_is_sniffed_from_the_first_bytes() {
        for html in
            [&b"<!doctype html><html>"[..], b"\n\t  <HTML lang=en>", b"<p>hi</p>", b"<!-- c -->", b"<a href=x>", b"<b>"]
        {
            assert!(sniff_html(html), "{}", String::from_utf8_lossy(html));
        }
        for other in
            [&b"{\"json\": 1}"[..], b"plain text", b"<?xml version=\"1.0\"?>", b"<pre>", b"<a", b"", b"\x89PNG"]
        {
            assert!(!sniff_html(other), "{}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn charsets_we_cannot_rewrite_pass_through() {
        let mut f = facts("GET", 200, Some("text/html; charset=windows-1252"));
        assert_eq!(
            decide(&f),
            Decision::Rewrite(Decoding::Identity, PageEncoding::Declared(encoding_rs::WINDOWS_1252))
        );
        f.content_type = Some("text/html; charset=utf-16");
        assert!(matches!(decide(&f), Decision::PassThrough(_)));
    }

    #[test]
    fn encodings_we_cannot_decode_pass_through() {
        let mut f = facts("GET", 200, Some("text/html"));
        f.content_encoding = Some("gzip");
        assert_eq!(decide(&f), Decision::Rewrite(Decoding::Gzip, PageEncoding::Sniffed));
        f.content_encoding = Some("br");
        assert!(matches!(decide(&f), Decision::PassThrough(_)));
        f.content_encoding = Some("gzip, br");
        assert!(matches!(decide(&f), Decision::PassThrough(_)));
        // Two lines, joined: gzip twice is not decoded once.
        f.content_encoding = Some("gzip, gzip");
        assert!(matches!(decide(&f), Decision::PassThrough(_)));
        f.content_encoding = Some("identity, gzip");
        assert_eq!(decide(&f), Decision::Rewrite(Decoding::Gzip, PageEncoding::Sniffed));
        f.content_encoding = Some("identity, ");
        assert_eq!(decide(&f), Decision::Rewrite(Decoding::Identity, PageEncoding::Sniffed));
        f.content_encoding = Some("gzip, \u{fffd}");
        assert!(matches!(decide(&f), Decision::PassThrough(_)), "an unreadable line is not ignored");
    }

    #[test]
    fn only_what_could_be_rewritten_is_sniffed() {
        let untyped = facts("GET", 200, None);
        assert!(may_sniff(&untyped));
        assert!(!may_sniff(&ResponseFacts { nosniff: true, ..untyped }), "nosniff");
        assert!(!may_sniff(&facts("POST", 200, None)));
        assert!(!may_sniff(&ResponseFacts { range_request: true, ..untyped }));
        assert!(!may_sniff(&facts("GET", 404, None)));
        assert!(!may_sniff(&ResponseFacts { content_encoding: Some("gzip"), ..untyped }));
        assert!(!may_sniff(&facts("GET", 200, Some("text/plain"))), "typed responses are never sniffed");
    }

    #[test]
    fn origin_is_asked_only_for_gzip() {
        assert_eq!(origin_accept_encoding(Some("gzip, deflate, br, zstd")), Some("gzip"));
        assert_eq!(origin_accept_encoding(Some("br;q=1.0, GZIP;q=0.5")), Some("gzip"));
        assert_eq!(origin_accept_encoding(Some("br, gzip;q=0")), None);
        assert_eq!(origin_accept_encoding(Some("br")), None);
        assert_eq!(origin_accept_encoding(None), None);
    }
}
