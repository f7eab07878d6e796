//! Which responses are rewritten, and how a rewritten response's headers change.
//!
//! Pure functions over header values, so the rule "only what we can safely rewrite is
//! touched" is tested natively; the Fastly adapter only gathers the facts and applies the
//! verdict.

use crate::charset::PageEncoding;

/// The facts about a request and its response that decide whether to rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseFacts<'a> {
    /// The client request's method.
    pub method: &'a str,
    /// The origin response's status.
    pub status: u16,
    /// The origin response's `Content-Type`.
    pub content_type: Option<&'a str>,
    /// The origin response's `Content-Encoding`.
    pub content_encoding: Option<&'a str>,
}

/// How the body reaches the rewriter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoding {
    /// Not encoded.
    Identity,
    /// gzip-encoded: decoded while streaming.
    Gzip,
}

/// The verdict for one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Stream the body through the rewriter: decoded so, in that character encoding.
    Rewrite(Decoding, PageEncoding),
    /// Send the response on untouched; the reason is for the log.
    PassThrough(&'static str),
}

/// Decides whether a response is rewritten: only successful answers to GET that carry HTML
/// in an encoding we can decode.
pub fn decide(facts: &ResponseFacts<'_>) -> Decision {
    if facts.method != "GET" {
        return Decision::PassThrough("not a GET request");
    }
    if !(200..300).contains(&facts.status) {
        return Decision::PassThrough("not a 2xx response");
    }
    if facts.status == 204 || facts.status == 206 {
        return Decision::PassThrough("no body or a partial body (204/206)");
    }
    if !facts.content_type.is_some_and(is_html) {
        return Decision::PassThrough("not HTML");
    }
    let Ok(encoding) = PageEncoding::from_content_type(facts.content_type) else {
        return Decision::PassThrough("a charset the rewriter cannot work in (unknown, or not ASCII-compatible)");
    };
    match facts.content_encoding.map(str::trim) {
        None | Some("") => Decision::Rewrite(Decoding::Identity, encoding),
        Some(coding) if coding.eq_ignore_ascii_case("identity") => Decision::Rewrite(Decoding::Identity, encoding),
        Some(coding) if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") => {
            Decision::Rewrite(Decoding::Gzip, encoding)
        }
        Some(_) => Decision::PassThrough("content encoding the rewriter cannot decode"),
    }
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

/// A rewritten body is no longer byte-identical to the origin's: a strong ETag becomes weak
/// (`"abc"` becomes `W/"abc"`), so caches may still revalidate with it.
pub fn weaken_etag(etag: &str) -> String {
    let etag = etag.trim();
    if etag.starts_with("W/") { etag.to_owned() } else { format!("W/{etag}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(method: &'static str, status: u16, content_type: Option<&'static str>) -> ResponseFacts<'static> {
        ResponseFacts { method, status, content_type, content_encoding: None }
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
        for (method, status, content_type) in [
            ("POST", 200, html),
            ("HEAD", 200, html),
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
    }

    #[test]
    fn origin_is_asked_only_for_gzip() {
        assert_eq!(origin_accept_encoding(Some("gzip, deflate, br, zstd")), Some("gzip"));
        assert_eq!(origin_accept_encoding(Some("br;q=1.0, GZIP;q=0.5")), Some("gzip"));
        assert_eq!(origin_accept_encoding(Some("br, gzip;q=0")), None);
        assert_eq!(origin_accept_encoding(Some("br")), None);
        assert_eq!(origin_accept_encoding(None), None);
    }

    #[test]
    fn etags_are_weakened_once() {
        assert_eq!(weaken_etag("\"abc\""), "W/\"abc\"");
        assert_eq!(weaken_etag("W/\"abc\""), "W/\"abc\"");
    }
}
