//! Responses: the facts the rewrite decision needs, the header changes a rewrite implies, and
//! the short pages sent when the service cannot reach or pick an origin.

use edge_rewriter::{Decoding, ResponseFacts, sniff_html, weaken_etag};
use fastly::Response;
use fastly::http::StatusCode;
use fastly::http::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG, HeaderName};

/// Asks Fastly to compress the rewritten body for the client.
const COMPRESS_HINT: &str = "x-compress-hint";
/// How much of a body without a Content-Type is looked at to tell whether it is HTML.
const SNIFF_BYTES: usize = 512;

/// A header's value as text; a value that is not UTF-8 counts as absent rather than panic.
pub fn header_str(response: &Response, name: HeaderName) -> Option<&str> {
    response.get_header(name).and_then(|value| value.to_str().ok())
}

/// What [`edge_rewriter::decide`] needs to know about this response.
pub fn facts<'a>(method: &'a str, response: &'a Response, range_request: bool) -> ResponseFacts<'a> {
    ResponseFacts {
        content_type: header_str(response, CONTENT_TYPE),
        content_encoding: header_str(response, CONTENT_ENCODING),
        cache_control: header_str(response, CACHE_CONTROL),
        range_request,
        ..ResponseFacts::new(method, response.get_status().as_u16())
    }
}

/// A 2xx body that came without a Content-Type is HTML if its first bytes say so, as a
/// browser would sniff it; it is then labelled `text/html`. The bytes looked at stay in the
/// body (the prefix is put back), and nothing is read past the first 512.
pub fn sniff_content_type(response: &mut Response) {
    if response.get_header(CONTENT_TYPE).is_some()
        || !response.get_status().is_success()
        || header_str(response, CONTENT_ENCODING).is_some_and(|coding| !coding.eq_ignore_ascii_case("identity"))
    {
        return;
    }
    let looks_html = match response.get_body_mut().try_get_prefix_mut(SNIFF_BYTES) {
        Ok(prefix) => sniff_html(&prefix),
        Err(err) => {
            log::warn!("reading the start of a body without a Content-Type failed: {err}");
            false
        }
    };
    if looks_html {
        log::info!("a response without a Content-Type starts like HTML: treated as text/html");
        response.set_header(CONTENT_TYPE, "text/html");
    }
}

/// The rewritten body has a new length and new bytes: the length goes (the body streams),
/// the ETag becomes weak, a decoded body loses its encoding, and Fastly is asked to
/// compress what we send. `Vary` and the rest stay.
pub fn prepare_rewritten_headers(response: &mut Response, decoding: Decoding) {
    response.remove_header(CONTENT_LENGTH);
    if let Some(weak) = header_str(response, ETAG).map(weaken_etag) {
        response.set_header(ETAG, weak);
    }
    if decoding != Decoding::Identity {
        response.remove_header(CONTENT_ENCODING);
    }
    response.set_header(COMPRESS_HINT, "on");
}

/// A short HTML page for errors the service itself answers, never cached.
fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    Response::from_status(status)
        .with_header(CONTENT_TYPE, "text/html; charset=utf-8")
        .with_header(CACHE_CONTROL, "no-store")
        .with_body(format!("<!doctype html><title>{title}</title><h1>{title}</h1><p>{message}</p>\n"))
}

/// The origin cannot be reached.
pub fn bad_gateway() -> Response {
    error_page(
        StatusCode::BAD_GATEWAY,
        "Bad Gateway",
        "The site's origin server could not be reached. Please try again in a moment.",
    )
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
    fn rewritten_responses_lose_length_and_get_a_weak_etag() {
        let mut response = Response::from_status(200)
            .with_header(CONTENT_TYPE, "text/html")
            .with_header(CONTENT_LENGTH, "1234")
            .with_header(ETAG, "\"v1\"")
            .with_header("vary", "Accept-Encoding");
        prepare_rewritten_headers(&mut response, Decoding::Identity);
        assert_eq!(response.get_header(CONTENT_LENGTH), None);
        assert_eq!(response.get_header_str(ETAG), Some("W/\"v1\""));
        assert_eq!(response.get_header_str("vary"), Some("Accept-Encoding"));
        assert_eq!(response.get_header_str(COMPRESS_HINT), Some("on"));
    }

    #[test]
    fn decoded_responses_lose_their_encoding() {
        let mut response = Response::from_status(200).with_header(CONTENT_ENCODING, "gzip");
        prepare_rewritten_headers(&mut response, Decoding::Gzip);
        assert_eq!(response.get_header(CONTENT_ENCODING), None);
    }

    #[test]
    fn facts_come_from_the_response() {
        let response = Response::from_status(404)
            .with_header(CONTENT_TYPE, "text/html")
            .with_header(CACHE_CONTROL, "no-transform");
        let facts = facts("GET", &response, true);
        assert_eq!((facts.status, facts.content_type, facts.content_encoding), (404, Some("text/html"), None));
        assert_eq!((facts.cache_control, facts.range_request), (Some("no-transform"), true));
    }

    #[test]
    fn an_untyped_html_body_is_sniffed_and_kept_whole() {
        let mut html = Response::from_status(200).with_body("  <!DOCTYPE html><p>hello</p>");
        sniff_content_type(&mut html);
        assert_eq!(html.get_header_str(CONTENT_TYPE), Some("text/html"));
        assert_eq!(html.take_body_str(), "  <!DOCTYPE html><p>hello</p>", "the prefix went back into the body");
        let mut json = Response::from_status(200).with_body("{\"a\": 1}");
        sniff_content_type(&mut json);
        assert_eq!(json.get_header(CONTENT_TYPE), None);
        assert_eq!(json.take_body_str(), "{\"a\": 1}");
    }

    #[test]
    fn error_pages_are_short_html_never_cached() {
        for (mut response, status, text) in [
            (bad_gateway(), StatusCode::BAD_GATEWAY, "could not be reached"),
            (misdirected(), StatusCode::MISDIRECTED_REQUEST, "does not serve this host"),
            (unavailable(), StatusCode::SERVICE_UNAVAILABLE, "misconfigured"),
        ] {
            assert_eq!(response.get_status(), status);
            assert_eq!(response.get_header_str(CACHE_CONTROL), Some("no-store"));
            assert!(response.take_body_str().contains(text));
        }
    }
}
