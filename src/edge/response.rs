//! Responses: the facts the rewrite decision needs, the header changes a rewrite implies, and
//! the page sent when the origin cannot be reached.

use edge_rewriter::{Decoding, ResponseFacts, weaken_etag};
use fastly::Response;
use fastly::http::StatusCode;
use fastly::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG, HeaderName};

/// Asks Fastly to compress the rewritten body for the client.
const COMPRESS_HINT: &str = "x-compress-hint";

/// A header's value as text; a value that is not UTF-8 counts as absent rather than panic.
fn header_str(response: &Response, name: HeaderName) -> Option<&str> {
    response.get_header(name).and_then(|value| value.to_str().ok())
}

/// What [`edge_rewriter::decide`] needs to know about this response.
pub fn facts<'a>(method: &'a str, response: &'a Response) -> ResponseFacts<'a> {
    ResponseFacts {
        method,
        status: response.get_status().as_u16(),
        content_type: header_str(response, CONTENT_TYPE),
        content_encoding: header_str(response, CONTENT_ENCODING),
    }
}

/// The rewritten body has a new length and new bytes: the length goes (the body streams),
/// the ETag becomes weak, a decoded body loses its encoding, and Fastly is asked to
/// compress what we send.
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

/// What the client gets when the origin cannot be reached.
pub fn bad_gateway() -> Response {
    Response::from_status(StatusCode::BAD_GATEWAY)
        .with_header(CONTENT_TYPE, "text/html; charset=utf-8")
        .with_header("cache-control", "no-store")
        .with_body(
            "<!doctype html><title>502 Bad Gateway</title>\
             <h1>Bad Gateway</h1><p>The site's origin server could not be reached. \
             Please try again in a moment.</p>\n",
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
        let response = Response::from_status(404).with_header(CONTENT_TYPE, "text/html");
        let facts = facts("GET", &response);
        assert_eq!((facts.status, facts.content_type, facts.content_encoding), (404, Some("text/html"), None));
    }

    #[test]
    fn bad_gateway_is_a_short_html_page() {
        let mut response = bad_gateway();
        assert_eq!(response.get_status(), StatusCode::BAD_GATEWAY);
        assert!(response.take_body_str().contains("could not be reached"));
    }
}
