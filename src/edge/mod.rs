//! The Fastly adapter: request in, origin, rewrite or pass through, response out.
//!
//! Kept thin: what to rewrite is decided by [`edge_rewriter::decide`], how by
//! [`edge_rewriter::stream`]; this module only moves bytes and headers between Fastly's
//! types and the engine.

mod logging;
mod origin;
mod response;
mod rules_source;

use edge_rewriter::{Decision, Decoding, RewriteOptions, decoded, stream};
use fastly::{Request, Response};

/// Handles the one client request this instance was started for.
pub fn serve() {
    logging::init();
    // `#[fastly::main]` would buffer the response; a plain main can stream it.
    let client_request = Request::from_client();
    handle(client_request);
}

fn handle(request: Request) {
    let method = request.get_method_str().to_owned();
    let path = request.get_path().to_owned();
    let origin_response = match origin::fetch(request) {
        Ok(response) => response,
        Err(err) => {
            log::error!("{method} {path}: origin unreachable: {err}; answering 502");
            response::bad_gateway().send_to_client();
            return;
        }
    };
    match edge_rewriter::decide(&response::facts(&method, &origin_response)) {
        Decision::PassThrough(reason) => {
            log::debug!("{method} {path}: passed through untouched ({reason})");
            // The body handle goes straight back to the host: no byte is copied in the guest.
            origin_response.send_to_client();
        }
        Decision::Rewrite(decoding) => rewrite(&path, origin_response, decoding),
    }
}

/// Streams an HTML response through the rules, flushing to the client after every chunk.
fn rewrite(path: &str, mut origin_response: Response, decoding: Decoding) {
    let rules = rules_source::load();
    let body = origin_response.take_body();
    response::prepare_rewritten_headers(&mut origin_response, decoding);
    let client_body = origin_response.stream_to_client();
    let streamed = stream(
        &rules,
        &RewriteOptions::default(),
        decoded(decoding, body),
        client_body,
    );
    let report = &streamed.report;
    match streamed.result {
        Ok(()) => {
            if let Err(err) = streamed.sink.finish() {
                log::warn!("{path}: finishing the client response failed: {err}");
            }
            log::info!(
                "{path}: rewritten, {} bytes in, {} bytes out, rule hits {:?}{}",
                report.bytes_in,
                report.bytes_out,
                report.hits,
                report
                    .bail_out
                    .as_deref()
                    .map(|why| format!(", bailed out: {why}"))
                    .unwrap_or_default()
            );
        }
        Err(err) => {
            // The client must be able to tell the body is incomplete: abandon, never finish.
            log::error!(
                "{path}: {err}; client response abandoned after {} bytes so it is visibly incomplete",
                report.bytes_out
            );
            if let Err(err) = streamed.sink.abandon() {
                log::warn!("{path}: abandoning the client response failed: {err}");
            }
        }
    }
}
