//! The request the origin gets.

use edge_rewriter::origin_accept_encoding;
use fastly::http::header::ACCEPT_ENCODING;
use fastly::http::request::SendError;
use fastly::{Backend, Request, Response};

/// Sends the client's request to the origin; returns once the response headers arrive, the
/// body streams later.
pub fn fetch(mut request: Request, backend: Backend) -> Result<Response, SendError> {
    adjust_accept_encoding(&mut request);
    request.send(backend)
}

/// An HTML answer must arrive in an encoding the rewriter can decode. Only GET and HEAD
/// answers are rewritten, so other methods keep the client's header.
fn adjust_accept_encoding(request: &mut Request) {
    if !matches!(request.get_method_str(), "GET" | "HEAD") {
        return;
    }
    let client = request.get_header(ACCEPT_ENCODING).and_then(|value| value.to_str().ok());
    match origin_accept_encoding(client) {
        Some(encoding) => request.set_header(ACCEPT_ENCODING, encoding),
        None => {
            request.remove_header(ACCEPT_ENCODING);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gets_ask_the_origin_for_gzip_at_most() {
        let mut request = Request::get("http://example.com/").with_header(ACCEPT_ENCODING, "br, gzip");
        adjust_accept_encoding(&mut request);
        assert_eq!(request.get_header_str(ACCEPT_ENCODING), Some("gzip"));

        let mut request = Request::get("http://example.com/").with_header(ACCEPT_ENCODING, "br");
        adjust_accept_encoding(&mut request);
        assert_eq!(request.get_header(ACCEPT_ENCODING), None);
    }

    #[test]
    fn other_methods_keep_the_clients_header() {
        let mut request = Request::post("http://example.com/").with_header(ACCEPT_ENCODING, "br");
        adjust_accept_encoding(&mut request);
        assert_eq!(request.get_header_str(ACCEPT_ENCODING), Some("br"));
    }
}
