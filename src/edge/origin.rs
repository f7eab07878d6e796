//! The backend every request goes to.

use edge_rewriter::origin_accept_encoding;
use fastly::Request;
use fastly::Response;
use fastly::http::header::ACCEPT_ENCODING;
use fastly::http::request::SendError;

/// The backend name in fastly.toml (`[local_server.backends]` and `[setup.backends]`).
pub const ORIGIN_BACKEND: &str = "origin";

/// Sends the client's request to the origin; returns once the response headers arrive, the
/// body streams later.
pub fn fetch(mut request: Request) -> Result<Response, SendError> {
    adjust_accept_encoding(&mut request);
    request.send(ORIGIN_BACKEND)
}

/// An HTML answer must arrive in an encoding the rewriter can decode; only GET answers are
/// rewritten, so other methods keep the client's header.
fn adjust_accept_encoding(request: &mut Request) {
    if request.get_method_str() != "GET" {
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
