//! The Fastly adapter: request in, origin, rewrite or pass through, response out.
//!
//! Kept thin: what to rewrite is decided by [`edge_rewriter::decide`], which rules apply by
//! [`edge_rewriter::RuleSet::plan`], and the rewrite itself by [`edge_rewriter::stream`];
//! this module only moves bytes and headers between Fastly's types and the engine.

mod access;
mod config_store;
mod headers;
mod includes;
mod instance;
mod limits;
mod logging;
mod origin;
mod page_cache;
mod request_context;
mod response;
mod rewrite;
mod rules_source;
mod sites;

use std::time::Instant;

use edge_rewriter::Limits;
use edge_rewriter::{CacheFacts, Decision, Keep, Plan, Prospect, Variant, decide, is_html, keep, may_sniff};
use fastly::Request;
use fastly::http::header::RANGE;

use includes::Fetches;
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

/// Where a request stands with the edge cache before the origin is asked.
enum CacheState {
    /// A miss: this request inserts the page (or cancels, letting a waiting one try).
    Miss(fastly::cache::core::Transaction),
    /// The cache is not used for this request, and why.
    Pass(String),
}

impl CacheState {
    /// Gives up the insert, if this request held one: for a failure that may not last.
    fn cancel(&self) {
        if let CacheState::Miss(transaction) = self {
            let _ = transaction.cancel_insert_or_update();
        }
    }

    /// Notes that the page is not kept, and why, if this request held the insert: the next
    /// requests pass without waiting on each other.
    fn note_pass(self, why: &str) {
        if let CacheState::Miss(transaction) = self {
            page_cache::note_pass(transaction, why);
        }
    }
}

/// Why a request does not use the edge cache at all, if it does not.
fn cache_bypass(request: &Request, grants: &access::Grants, limits: &Limits, range: bool) -> Option<&'static str> {
    if limits.cache_max_ttl_s == 0 {
        return Some("the cache is off (limits: cache_max_ttl_s 0)");
    }
    if request.get_method_str() != "GET" {
        return Some("not a GET");
    }
    if range {
        return Some("a range request");
    }
    if request.contains_header("authorization") {
        return Some("the request carries Authorization");
    }
    if grants.debug || grants.preview {
        return Some("a debug or preview request");
    }
    None
}

/// A hit's JSON log line.
fn log_hit(context: &edge_rewriter::RequestContext, variant: &Variant, plan: &Plan<'_>, vcpu_at_start: u64) {
    let experiments: serde_json::Map<String, serde_json::Value> =
        plan.experiments().map(|(id, variant)| (id.to_owned(), variant.into())).collect();
    let line = serde_json::json!({
        "event": "hit",
        "method": context.method,
        "host": context.host,
        "path": context.path,
        // Each page view counts for its experiments, served from the cache or not.
        "experiments": experiments,
        "cache": { "status": "HIT", "key": variant.short() },
        "vcpu_ms": instance::vcpu_ms().saturating_sub(vcpu_at_start),
    });
    log::info!("{line}");
}

/// How many fragment requests a page may still send: its budget (`limits.max_includes`), and
/// no more than the instance's backend requests leave (the origin's fetch kept aside).
fn include_room(limits: &Limits) -> usize {
    usize::from(limits.max_includes).min(instance::backend_requests_left().saturating_sub(1))
}

/// Answers one request; returns the limits it ran under.
fn handle(mut request: Request, source: &mut RuleSource) -> Limits {
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
    let rules_started = Instant::now();
    let (rules, edition) = rewrite::rules_for(grants, source);
    // The key is made before the origin answers, from what the request alone decides about
    // the page: requests that share it get the same page for any response (see `Variant`).
    let prospect = Prospect::of(&rules, &context);
    let variant = Variant::of(&prospect, edition.label());
    let never_cached = prospect.never_cached();
    let rules_time = rules_started.elapsed();
    // Fragments are asked for now, so they travel while the origin answers: those the plan
    // for the likeliest response of a rewritten page (200, text/html) includes. The plan made
    // with the real response drops the ones it does not need and sends the ones it misses.
    let fetches = match never_cached {
        Some(_) if context.method == "GET" => {
            let likely = rules.plan(&context);
            if likely.includes().is_empty() {
                Fetches::default()
            } else {
                Fetches::send(likely.includes(), &context.host, &backend, include_room(&limits))
            }
        }
        _ => Fetches::default(),
    };
    let bypass = never_cached.or_else(|| cache_bypass(&request, &grants, &limits, range_request));
    let cache = match bypass {
        Some(reason) => CacheState::Pass(reason.to_owned()),
        None => match page_cache::lookup(&variant, &request) {
            page_cache::Lookup::Hit(found) => {
                let if_none_match = request.get_header_str("if-none-match").map(str::to_owned);
                match page_cache::hit_response(&found, if_none_match.as_deref()) {
                    Ok(page_cache::Hit { mut response, status, content_type }) => {
                        // The plan the stored page was made with (its response's facts):
                        // the experiments it shows, and the cookie that keeps a new visitor
                        // in them, which is this visitor's own.
                        let plan = if prospect.may_assign() {
                            prospect.plan_for(status, content_type.as_deref())
                        } else {
                            Plan::default()
                        };
                        headers::give_cookie(&mut response, &plan);
                        response.send_to_client();
                        log_hit(&context, &variant, &plan, vcpu_at_start);
                        return limits;
                    }
                    Err(why) => CacheState::Pass(why),
                }
            }
            page_cache::Lookup::Miss(transaction) => CacheState::Miss(transaction),
            page_cache::Lookup::Unavailable(why) | page_cache::Lookup::Pass(why) => CacheState::Pass(why),
        },
    };
    // The origin never saw the bytes a rewritten page's ETag names: it must not answer 304.
    if request.get_header_str("if-none-match").is_some_and(Variant::is_ours) {
        request.remove_header("if-none-match");
        request.remove_header("if-modified-since");
    }
    let authorization = request.contains_header("authorization");
    let sent = Instant::now();
    let origin::Fetched { response: mut origin_response, decompressed } = match origin::fetch(request, backend.clone())
    {
        Ok(fetched) => fetched,
        Err(err) => {
            let failure = origin::Failure::of(&err);
            log::error!("{method} {path}: {failure}: {err}; answering {}", failure.status());
            cache.cancel();
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
    // Conditions on the status and type see the response from here on.
    request_context::add_response(&mut context, &origin_response);
    match decide(&headers.facts(&method, status, range_request)) {
        Decision::PassThrough(reason) => {
            // Header rules apply to every response, rewritten or not (an asset, an error).
            let header_changes = headers::apply(&mut origin_response, &rules.plan(&context));
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
                "headers": header_changes,
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
            // A 2xx answer passed through says something about the page (an asset, a page
            // too large, not HTML): noted. Others may be this request's own (a 304).
            if (200..300).contains(&status) {
                cache.note_pass(reason);
            } else {
                cache.cancel();
            }
            origin_response.set_header(page_cache::X_CACHE, "PASS");
            // The body handle goes straight back to the host: no byte is copied in the guest.
            origin_response.send_to_client();
        }
        Decision::Rewrite(decoding, encoding) => {
            context.content_type = headers.content_type.clone();
            let content_type = headers.content_type.unwrap_or_default();
            let cache_headers = response::CacheHeaders::of(&origin_response);
            let facts = CacheFacts { method: &method, status, range_request, authorization, ..cache_headers.facts() };
            // The plan again, now that the response is known (status and type conditions).
            let planned = Instant::now();
            let plan = rules.plan(&context);
            let rules_time = rules_time + planned.elapsed();
            let output = match (cache, keep(&facts, context.now)) {
                // A cookie a rule gives is this visitor's: the page must not be kept for others.
                (CacheState::Miss(transaction), _) if plan.sets_cookie() => {
                    let why = "a rule sets a cookie";
                    page_cache::note_pass(transaction, why);
                    rewrite::Output::Client { cache: "PASS", why: Some(why.into()) }
                }
                (CacheState::Miss(transaction), Keep::For(seconds)) => {
                    let ttl = rewrite::edge_ttl(seconds, &limits, &rules, context.now);
                    match ttl {
                        Some(ttl) => rewrite::Output::Cache(page_cache::Insert {
                            transaction,
                            ttl,
                            surrogate_keys: response::surrogate_keys(&origin_response),
                            vary_by: page_cache::vary_by(facts.vary),
                            variant,
                        }),
                        None => {
                            let _ = transaction.cancel_insert_or_update();
                            rewrite::Output::Client {
                                cache: "PASS",
                                why: Some("a rule changes within the second".into()),
                            }
                        }
                    }
                }
                (CacheState::Miss(transaction), Keep::No(why)) => {
                    // As for a page passed through: only what the origin says of a 2xx page.
                    if (200..300).contains(&status) {
                        page_cache::note_pass(transaction, why);
                    } else {
                        let _ = transaction.cancel_insert_or_update();
                    }
                    rewrite::Output::Client { cache: "PASS", why: Some(why.to_owned()) }
                }
                (CacheState::Pass(why), _) => rewrite::Output::Client { cache: "PASS", why: Some(why) },
            };
            let job = rewrite::Job {
                context: &context,
                plan,
                response: origin_response,
                decoding,
                encoding,
                content_type,
                grants,
                origin_time,
                rules_time,
                limits,
                vcpu_at_start,
                rules: &rules,
                edition,
                rule_errors: source.errors(edition),
                rules_version: source.version(edition).map(str::to_owned),
                variant,
                output,
                fetches,
                origin: backend,
                include_room: include_room(&limits),
            };
            rewrite::run(job);
        }
    }
    limits
}
