//! Responses: the facts the rewrite decision and the edge cache need, and the short pages
//! sent when the service cannot reach or pick an origin. (The headers a rewritten page
//! leaves with are the engine's: `edge_rewriter::response::page_headers`.)

use edge_rewriter::http::{CacheFacts, ResponseFacts, content_type, sniff_html};
use edge_rewriter::response::COMPRESS_HINT;
use fastly::Response;

use super::origin::Failure;
use fastly::http::StatusCode;
use fastly::http::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderName};

/// How much of a body without a Content-Type is looked at to tell whether it is HTML.
const SNIFF_BYTES: usize = 512;

/// A header's value as text; a value that is not UTF-8 counts as absent rather than panic.
pub fn header_str(response: &Response, name: HeaderName) -> Option<&str> {
    response.get_header(name).and_then(|value| value.to_str().ok())
}

/// The headers the rewrite decision reads, each from all its lines, as a browser reads
/// them: a second `Content-Encoding` or `Content-Type` line is never ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionHeaders {
    /// The media type all `Content-Type` lines give (the last valid one wins).
    pub content_type: Option<String>,
    /// Every `Content-Encoding` value, joined with `, `.
    pub content_encoding: Option<String>,
    /// Every `Cache-Control` value, joined with `, `.
    pub cache_control: Option<String>,
    /// `X-Content-Type-Options: nosniff`.
    pub nosniff: bool,
}

impl DecisionHeaders {
    /// Reads them off `response`.
    pub fn of(response: &Response) -> Self {
        let lines = |name: HeaderName| header_lines(response, name);
        let joined = |name: HeaderName| Some(lines(name).join(", ")).filter(|value| !value.is_empty());
        let nosniff = lines(HeaderName::from_static("x-content-type-options"))
            .first()
            .and_then(|value| value.split(',').next())
            .is_some_and(|value| value.trim().eq_ignore_ascii_case("nosniff"));
        Self {
            content_type: content_type(lines(CONTENT_TYPE).iter().map(String::as_str)),
            content_encoding: joined(CONTENT_ENCODING),
            cache_control: joined(CACHE_CONTROL),
            nosniff,
        }
    }

    /// What [`edge_rewriter::http::decide`] needs to know about this response.
    pub fn facts<'a>(&'a self, method: &'a str, status: u16, range_request: bool) -> ResponseFacts<'a> {
        ResponseFacts {
            content_type: self.content_type.as_deref(),
            content_encoding: self.content_encoding.as_deref(),
            cache_control: self.cache_control.as_deref(),
            range_request,
            nosniff: self.nosniff,
            ..ResponseFacts::new(method, status)
        }
    }
}

/// Every value of a header, in order. A value that is not UTF-8 is kept as U+FFFD, so that
/// it is never mistaken for an absent one (an unreadable encoding is not "no encoding").
fn header_lines(response: &Response, name: HeaderName) -> Vec<String> {
    response
        .get_header_all(name)
        .map(|value| value.to_str().map_or_else(|_| "\u{fffd}".to_owned(), str::to_owned))
        .collect()
}

/// The headers that decide whether a rewritten page may be kept at the edge, each from all
/// its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheHeaders {
    cache_control: Option<String>,
    surrogate_control: Option<String>,
    expires: Option<String>,
    date: Option<String>,
    age: Option<String>,
    vary: Option<String>,
    set_cookie: bool,
    content_length: Option<u64>,
}

impl CacheHeaders {
    /// Reads them off `response`.
    pub fn of(response: &Response) -> Self {
        let joined = |name: &str| {
            let lines = header_lines(response, HeaderName::from_bytes(name.as_bytes()).expect("a valid name"));
            Some(lines.join(", ")).filter(|value| !value.is_empty())
        };
        Self {
            cache_control: joined("cache-control"),
            surrogate_control: joined("surrogate-control"),
            expires: joined("expires"),
            date: joined("date"),
            age: joined("age"),
            vary: joined("vary"),
            set_cookie: response.contains_header("set-cookie"),
            content_length: header_str(response, CONTENT_LENGTH).and_then(|len| len.trim().parse().ok()),
        }
    }

    /// The freshness facts they give (the request's part is filled in by the caller).
    pub fn facts(&self) -> CacheFacts<'_> {
        CacheFacts {
            cache_control: self.cache_control.as_deref(),
            surrogate_control: self.surrogate_control.as_deref(),
            expires: self.expires.as_deref(),
            date: self.date.as_deref(),
            age: self.age.as_deref(),
            vary: self.vary.as_deref(),
            set_cookie: self.set_cookie,
            content_length: self.content_length,
            ..CacheFacts::default()
        }
    }
}

/// The origin's `Surrogate-Key` values: a purge of any of them purges the page's rewrites.
pub fn surrogate_keys(response: &Response) -> Vec<String> {
    header_lines(response, HeaderName::from_static("surrogate-key"))
        .iter()
        .flat_map(|line| line.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

/// Whether a body that came without a Content-Type starts like HTML, as a browser would
/// sniff it. The bytes looked at stay in the body (the prefix is put back), and nothing is
/// read past the first 512. Only asked when [`edge_rewriter::http::may_sniff`] allows it.
pub fn sniff_html_body(response: &mut Response) -> bool {
    match response.get_body_mut().try_get_prefix_mut(SNIFF_BYTES) {
        Ok(prefix) => sniff_html(&prefix),
        Err(err) => {
            log::warn!("reading the start of a body without a Content-Type failed: {err}");
            false
        }
    }
}

/// A body the platform decompressed for the guest goes on to the client uncompressed unless
/// Fastly is asked to compress it again (it skips bodies that are already compressed or not
/// worth compressing).
pub fn ask_to_recompress(response: &mut Response) {
    if response.get_header(CONTENT_ENCODING).is_none() {
        response.set_header(COMPRESS_HINT, "on");
    }
}

/// A short HTML page for errors the service itself answers, never cached.
fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    Response::from_status(status)
        .with_header(CONTENT_TYPE, "text/html; charset=utf-8")
        .with_header(CACHE_CONTROL, "no-store")
        .with_body(format!("<!doctype html><title>{title}</title><h1>{title}</h1><p>{message}</p>\n"))
}

/// The origin's answer could not be had.
pub fn origin_failed(failure: &Failure) -> Response {
    let message = match failure {
        Failure::Unreachable => "The site's origin server could not be reached. Please try again in a moment.",
        Failure::Timeout => "The site's origin server did not answer in time. Please try again in a moment.",
        Failure::UnreadableResponse => {
            "The site's origin server sent a response that could not be read. Please try again in a moment."
        }
    };
    let status = failure.status();
    error_page(status, status.canonical_reason().unwrap_or("Bad Gateway"), message)
}

/// The request itself is malformed (a `Host` that is not a host name).
pub fn bad_request() -> Response {
    error_page(StatusCode::BAD_REQUEST, "Bad Request", "The request's Host header is not a host name.")
}

/// The origin answered, but its body failed before a single byte could be used.
pub fn broken_origin_body() -> Response {
    error_page(
        StatusCode::BAD_GATEWAY,
        "Bad Gateway",
        "The site's origin server sent a response that could not be read. Please try again in a moment.",
    )
}

/// The host is not one this service serves.
pub fn misdirected() -> Response {
    error_page(StatusCode::MISDIRECTED_REQUEST, "Misdirected Request", "This service does not serve this host name.")
}

/// The service's own configuration cannot route the request.
pub fn unavailable() -> Response {
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Service Unavailable",
        "The site is misconfigured at the edge. Please try again later.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_come_from_every_line_of_the_response() {
        let mut response = Response::from_status(404)
            .with_header(CONTENT_TYPE, "text/html")
            .with_header(CACHE_CONTROL, "no-transform")
            .with_header("x-content-type-options", "NoSniff");
        response.append_header(CONTENT_TYPE, "text/plain");
        response.append_header(CONTENT_ENCODING, "identity");
        response.append_header(CONTENT_ENCODING, "gzip");
        let headers = DecisionHeaders::of(&response);
        let facts = headers.facts("GET", 404, true);
        assert_eq!((facts.status, facts.content_type), (404, Some("text/plain")), "the last type wins");
        assert_eq!(facts.content_encoding, Some("identity, gzip"));
        assert_eq!((facts.cache_control, facts.range_request, facts.nosniff), (Some("no-transform"), true, true));
    }

    #[test]
    fn an_untyped_html_body_is_sniffed_and_kept_whole() {
        let mut html = Response::from_status(200).with_body("  <!DOCTYPE html><p>hello</p>");
        assert!(sniff_html_body(&mut html));
        assert_eq!(html.take_body_str(), "  <!DOCTYPE html><p>hello</p>", "the prefix went back into the body");
        let mut json = Response::from_status(200).with_body("{\"a\": 1}");
        assert!(!sniff_html_body(&mut json));
        assert_eq!(json.take_body_str(), "{\"a\": 1}");
    }

    #[test]
    fn error_pages_are_short_html_never_cached() {
        for (mut response, status, text) in [
            (origin_failed(&Failure::Unreachable), StatusCode::BAD_GATEWAY, "could not be reached"),
            (origin_failed(&Failure::UnreadableResponse), StatusCode::BAD_GATEWAY, "could not be read"),
            (origin_failed(&Failure::Timeout), StatusCode::GATEWAY_TIMEOUT, "in time"),
            (bad_request(), StatusCode::BAD_REQUEST, "not a host name"),
            (misdirected(), StatusCode::MISDIRECTED_REQUEST, "does not serve this host"),
            (unavailable(), StatusCode::SERVICE_UNAVAILABLE, "misconfigured"),
        ] {
            assert_eq!(response.get_status(), status);
            assert_eq!(response.get_header_str(CACHE_CONTROL), Some("no-store"));
            assert!(response.take_body_str().contains(text));
        }
    }
}
