//! The Fastly adapter: request in, origin, rewrite or pass through, response out.
//!
//! Kept thin: what to rewrite is decided by [`edge_rewriter::decide`], which rules apply by
//! [`edge_rewriter::RuleSet::plan`], and the rewrite itself by [`edge_rewriter::stream`];
//! this module only moves bytes and headers between Fastly's types and the engine.

mod access;
mod config_store;
mod instance;
mod limits;
mod logging;
mod origin;
mod request_context;
mod response;
mod rewrite;
mod rules_source;
mod sites;
mod visitor;

use std::time::Instant;

use edge_rewriter::Limits;
use edge_rewriter::{Decision, decide, is_html, may_sniff};
use fastly::Request;
use fastly::http::header::RANGE;

use rules_source::RuleSource;
use sites::Route;

/// Serves requests until the instance is recycled (see [`instance`] for when). Compiled
/// rules are kept between the requests one instance serves and rebuilt when the store's
/// content changes.
pub fn serve() {
    logging::init();
    let mut rules = RuleSource::default();
    // `#[fastly::main]` would buffer the response, and `fastly::http::serve::Serve` cannot
    // stop on vCPU: this loop hands each request to a handler that streams its answer.
    let mut request = Request::from_client();
    let mut served = 0;
    loop {
        let limits = handle(request, &mut rules);
        served += 1;
        if let Some(why) = instance::reason_to_stop(served, &limits) {
            log::info!("this instance takes no further request: {why}");
            break;
        }
        match instance::next_request() {
            Some(next) => request = next,
            None => break,
        }
    }
}

/// Answers one request; returns the limits it ran under.
fn handle(mut request: Request, rules: &mut RuleSource) -> Limits {
    let vcpu_at_start = instance::vcpu_ms();
    let (grants, forced_variants) = access::check(&mut request);
    let mut context = match request_context::from_request(&request) {
        Ok(context) => context,
        Err(why) => {
            log::warn!("{} {}: {why}; answering 400", request.get_method_str(), request.get_path());
            response::bad_request().send_to_client();
            return Limits::default();
        }
    };
    request_context::force_variants(&mut context, forced_variants.as_deref());
    let (method, path) = (context.method.clone(), context.path.clone());
    let backend = match sites::route(&context.host) {
        Route::To(backend) => backend,
        Route::UnknownHost => {
            log::warn!("{method} {path}: host {:?} is not in the sites map; answering 421", context.host);
            response::misdirected().send_to_client();
            return Limits::default();
        }
        Route::Broken(why) => {
            log::error!("{method} {path}: {why}; answering 503");
            response::unavailable().send_to_client();
            return Limits::default();
        }
    };
    let limits = limits::read();
    let range_request = request.contains_header(RANGE);
    let sent = Instant::now();
    let origin::Fetched { response: mut origin_response, decompressed } = match origin::fetch(request, backend) {
        Ok(fetched) => fetched,
        Err(err) => {
            let failure = origin::Failure::of(&err);
            log::error!("{method} {path}: {failure}: {err}; answering {}", failure.status());
            response::origin_failed(&failure).send_to_client();
            return limits;
        }
    };
    let origin_time = sent.elapsed();
    let status = origin_response.get_status().as_u16();
    let mut headers = response::DecisionHeaders::of(&origin_response);
    if may_sniff(&headers.facts(&method, status, range_request)) && response::sniff_html_body(&mut origin_response) {
        log::info!("{method} {path}: a response without a Content-Type starts like HTML: treated as text/html");
        headers.content_type = Some("text/html".to_owned());
    }
    match decide(&headers.facts(&method, status, range_request)) {
        Decision::PassThrough(reason) => {
            let html = headers.content_type.as_deref().is_some_and(is_html);
            if html {
                log::info!("{method} {path}: HTML passed through untouched: {reason}");
            }
            let line = serde_json::json!({
                "event": "pass",
                "method": method,
                "host": context.host,
                "path": path,
                "status": status,
                "reason": reason,
                "vcpu_ms": instance::vcpu_ms().saturating_sub(vcpu_at_start),
            });
            // One line for every HTML answer; other answers (assets) only at debug level.
            let level = if html { log::Level::Info } else { log::Level::Debug };
            log::log!(level, "{line}");
            if grants.preview {
                rewrite::mark_preview(&mut origin_response, "not rewritten");
            }
            if decompressed {
                response::ask_to_recompress(&mut origin_response);
            }
            // The body handle goes straight back to the host: no byte is copied in the guest.
            origin_response.send_to_client();
        }
        Decision::Rewrite(decoding, encoding) => {
            request_context::add_response(&mut context, &origin_response);
            context.content_type = headers.content_type.clone();
            let content_type = headers.content_type.unwrap_or_default();
            let job = rewrite::Job {
                context: &context,
                response: origin_response,
                decoding,
                encoding,
                content_type,
                grants,
                origin_time,
                limits,
                vcpu_at_start,
            };
            rewrite::run(job, rules);
        }
    }
    limits
}
