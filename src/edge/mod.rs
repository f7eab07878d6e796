//! The Fastly adapter: request in, origin, rewrite or pass through, response out.
//!
//! Kept thin: what to rewrite is decided by [`edge_rewriter::decide`], which rules apply by
//! [`edge_rewriter::RuleSet::plan`], and the rewrite itself by [`edge_rewriter::stream`];
//! this module only moves bytes and headers between Fastly's types and the engine.

mod access;
mod logging;
mod origin;
mod request_context;
mod response;
mod rewrite;
mod rules_source;
mod sites;

use std::time::{Duration, Instant};

use edge_rewriter::{Decision, is_html};
use fastly::Request;
use fastly::http::header::{CONTENT_TYPE, RANGE};
use fastly::http::serve::Serve;

use rules_source::RuleSource;
use sites::Route;

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
    let mut rules = RuleSource::default();
    // `#[fastly::main]` would buffer the response; `Serve` hands us requests and lets the
    // handler stream its answer.
    Serve::new()
        .with_max_requests(MAX_REQUESTS_PER_INSTANCE)
        .with_timeout(IDLE_TIMEOUT)
        .with_max_memory(MAX_HEAP_MIB)
        .run_with_context(handle, &mut rules);
}

fn handle(mut request: Request, rules: &mut RuleSource) {
    let grants = access::check(&mut request);
    let mut context = request_context::from_request(&request);
    let (method, path) = (context.method.clone(), context.path.clone());
    let backend = match sites::route(&context.host) {
        Route::To(backend) => backend,
        Route::UnknownHost => {
            log::warn!("{method} {path}: host {:?} is not in the sites map; answering 421", context.host);
            response::misdirected().send_to_client();
            return;
        }
        Route::Broken(why) => {
            log::error!("{method} {path}: {why}; answering 503");
            response::unavailable().send_to_client();
            return;
        }
    };
    let range_request = request.contains_header(RANGE);
    let sent = Instant::now();
    let mut origin_response = match origin::fetch(request, backend) {
        Ok(response) => response,
        Err(err) => {
            log::error!("{method} {path}: origin unreachable: {err}; answering 502");
            response::bad_gateway().send_to_client();
            return;
        }
    };
    let origin_time = sent.elapsed();
    response::sniff_content_type(&mut origin_response);
    match edge_rewriter::decide(&response::facts(&method, &origin_response, range_request)) {
        Decision::PassThrough(reason) => {
            let html = response::header_str(&origin_response, CONTENT_TYPE).is_some_and(is_html);
            if html {
                log::info!("{method} {path}: HTML passed through untouched: {reason}");
            } else {
                log::debug!("{method} {path}: passed through untouched: {reason}");
            }
            if grants.preview {
                rewrite::mark_preview(&mut origin_response, "not rewritten");
            }
            // The body handle goes straight back to the host: no byte is copied in the guest.
            origin_response.send_to_client();
        }
        Decision::Rewrite(decoding, encoding) => {
            request_context::add_response(&mut context, &origin_response);
            let job =
                rewrite::Job { context: &context, response: origin_response, decoding, encoding, grants, origin_time };
            rewrite::run(job, rules);
        }
    }
}
