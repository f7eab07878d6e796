//! The Fastly adapter: request in, origin, rewrite or pass through, response out.
//!
//! Kept thin: what to rewrite is decided by [`edge_rewriter::decide`], which rules apply by
//! [`edge_rewriter::RuleSet::plan`], and the rewrite itself by [`edge_rewriter::stream`];
//! this module only moves bytes and headers between Fastly's types and the engine.

mod logging;
mod origin;
mod request_context;
mod response;
mod rules_source;

use std::time::Duration;

use edge_rewriter::{Decision, Decoding, RequestContext, RewriteOptions, RuleCache, decoded, stream};
use fastly::http::serve::Serve;
use fastly::{Request, Response};

/// Requests one instance may serve before it is recycled (Fastly's sandbox reuse).
const MAX_REQUESTS_PER_INSTANCE: usize = 200;
/// How long an idle instance waits for another request before it exits.
const IDLE_TIMEOUT: Duration = Duration::from_secs(1);
/// An instance whose heap grew past this (MiB) is not reused.
const MAX_HEAP_MIB: u32 = 64;

/// Serves requests until the instance is recycled. Compiled rules are kept between the
/// requests one instance serves and rebuilt when the store's content changes.
pub fn serve() {
    logging::init();
    let mut cache = RuleCache::default();
    // `#[fastly::main]` would buffer the response; `Serve` hands us requests and lets the
    // handler stream its answer.
    Serve::new()
        .with_max_requests(MAX_REQUESTS_PER_INSTANCE)
        .with_timeout(IDLE_TIMEOUT)
        .with_max_memory(MAX_HEAP_MIB)
        .run_with_context(handle, &mut cache);
}

fn handle(request: Request, cache: &mut RuleCache) {
    let mut context = request_context::from_request(&request);
    let origin_response = match origin::fetch(request) {
        Ok(response) => response,
        Err(err) => {
            log::error!("{} {}: origin unreachable: {err}; answering 502", context.method, context.path);
            response::bad_gateway().send_to_client();
            return;
        }
    };
    match edge_rewriter::decide(&response::facts(&context.method, &origin_response)) {
        Decision::PassThrough(reason) => {
            log::debug!("{} {}: passed through untouched ({reason})", context.method, context.path);
            // The body handle goes straight back to the host: no byte is copied in the guest.
            origin_response.send_to_client();
        }
        Decision::Rewrite(decoding, encoding) => {
            request_context::add_response(&mut context, &origin_response);
            let options = RewriteOptions { encoding, ..RewriteOptions::default() };
            rewrite(&context, origin_response, decoding, &options, cache);
        }
    }
}

/// Streams an HTML response through the rules that apply, flushing to the client after
/// every chunk.
fn rewrite(
    context: &RequestContext,
    mut origin_response: Response,
    decoding: Decoding,
    options: &RewriteOptions,
    cache: &mut RuleCache,
) {
    let path = &context.path;
    let rules = rules_source::load(cache);
    let plan = rules.plan(context);
    let body = origin_response.take_body();
    response::prepare_rewritten_headers(&mut origin_response, decoding);
    let client_body = origin_response.stream_to_client();
    let streamed = stream(&plan, options, decoded(decoding, body), client_body);
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
                report.bail_out.as_deref().map(|why| format!(", bailed out: {why}")).unwrap_or_default()
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
