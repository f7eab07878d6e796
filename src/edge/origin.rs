//! The request the origin gets.

use edge_rewriter::http::origin_accept_encoding;
use fastly::http::header::ACCEPT_ENCODING;
use std::fmt;

use fastly::http::StatusCode;
use fastly::http::request::{SendError, SendErrorCause};
use fastly::{Backend, Request, Response};

/// The origin's response, and whether the platform decompresses its body for the guest.
pub struct Fetched {
    pub response: Response,
    /// gzip was asked for and the platform decodes it: the guest sees identity bytes (and
    /// no `Content-Encoding`), and a response passed on should be compressed again.
    pub decompressed: bool,
}

/// Sends the client's request to the origin; returns once the response headers arrive, the
/// body streams later.
///
/// gzip is decoded by the host, not the guest (`set_auto_decompress_gzip`): a gzip origin
/// costs the guest no more vCPU than an identity one, and a rewrite that stops at its CPU
/// budget can hand the rest of the body to the host unread. The platform's decoder is as
/// bomb-safe as any streaming one, and a corrupt body is a read error, which the service
/// turns into a visibly cut response.
pub fn fetch(mut request: Request, backend: Backend) -> Result<Fetched, SendError> {
    let decompressed = adjust_accept_encoding(&mut request);
    request.set_auto_decompress_gzip(decompressed);
    super::instance::count_backend_request();
    request.send(backend).map(|response| Fetched { response, decompressed })
}

/// Why the origin's answer could not be had, as the client and the log should hear it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No connection: DNS, refused, TLS, no such backend.
    Unreachable,
    /// It did not answer in time.
    Timeout,
    /// It answered, but not with a response the platform accepts (too many or too large
    /// headers, a bad status line, a cut-off head).
    UnreadableResponse,
}

impl Failure {
    /// Classifies a send error by its root cause.
    pub fn of(err: &SendError) -> Self {
        match err.root_cause() {
            SendErrorCause::HttpResponseTimeout | SendErrorCause::ConnectionTimeout | SendErrorCause::DnsTimeout => {
                Failure::Timeout
            }
            SendErrorCause::HttpIncompleteResponse
            | SendErrorCause::HttpResponseHeaderSectionTooLarge
            | SendErrorCause::HttpResponseBodyTooLarge
            | SendErrorCause::HttpResponseStatusInvalid
            | SendErrorCause::HttpProtocolError
            | SendErrorCause::Http2StreamError { .. }
            | SendErrorCause::HttpUpgradeFailed => Failure::UnreadableResponse,
            _ => Failure::Unreachable,
        }
    }

    /// The status the client gets.
    pub fn status(self) -> StatusCode {
        match self {
            Failure::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Failure::Unreachable | Failure::UnreadableResponse => StatusCode::BAD_GATEWAY,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Failure::Unreachable => "origin unreachable",
            Failure::Timeout => "the origin did not answer in time",
            // Viceroy refuses more than 100 header lines; Fastly, a header over 69 KB.
            Failure::UnreadableResponse => {
                "the origin answered with a response the platform refuses (too many or too large headers, \
                 e.g. hundreds of Set-Cookie lines, or a malformed status line)"
            }
        })
    }
}

/// An HTML answer must arrive in an encoding the rewriter can decode. Only GET and HEAD
/// answers are rewritten, so other methods keep the client's header. Returns whether gzip
/// is asked for (and so decoded by the host).
fn adjust_accept_encoding(request: &mut Request) -> bool {
    if !matches!(request.get_method_str(), "GET" | "HEAD") {
        return false;
    }
    let client = request.get_header(ACCEPT_ENCODING).and_then(|value| value.to_str().ok());
    match origin_accept_encoding(client) {
        Some(encoding) => {
            request.set_header(ACCEPT_ENCODING, encoding);
            true
        }
        None => {
            request.remove_header(ACCEPT_ENCODING);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gets_ask_the_origin_for_gzip_at_most() {
        let mut request = Request::get("http://example.com/").with_header(ACCEPT_ENCODING, "br, gzip");
        assert!(adjust_accept_encoding(&mut request));
        assert_eq!(request.get_header_str(ACCEPT_ENCODING), Some("gzip"));

        let mut request = Request::get("http://example.com/").with_header(ACCEPT_ENCODING, "br");
        assert!(!adjust_accept_encoding(&mut request));
        assert_eq!(request.get_header(ACCEPT_ENCODING), None);
    }

    #[test]
    fn other_methods_keep_the_clients_header() {
        let mut request = Request::post("http://example.com/").with_header(ACCEPT_ENCODING, "br");
        assert!(!adjust_accept_encoding(&mut request));
        assert_eq!(request.get_header_str(ACCEPT_ENCODING), Some("br"));
    }
}
