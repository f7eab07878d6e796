//! The Fastly adapter: request in, origin, rewrite or pass through, response out.
//!
//! Kept thin: what to rewrite is decided by [`edge_rewriter::http::decide`], which rules apply by
//! [`edge_rewriter::RuleSet::plan`], and the rewrite itself by [`edge_rewriter::stream`];
//! this module only moves bytes and headers between Fastly's types and the engine.

mod access;
mod config_store;
mod fastly_headers;
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

use std::rc::Rc;
use std::time::{Duration, Instant};

use edge_rewriter::http::{CacheFacts, Decision, Keep, decide, is_html, keep, may_sniff};
use edge_rewriter::store::Limits;
use edge_rewriter::{PageKey, Plan, Prospect, RequestContext, RuleSet};
use fastly::http::header::RANGE;
use fastly::{Backend, Request, Response};

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

    /// The page is not kept, for a response of `status`: a 2xx answer says something about
    /// the page (an asset, a page too large, not HTML, what the origin allows), so the next
    /// requests are told to pass without waiting on each other; any other may be this
    /// request's own (a 304), so the insert is only given up.
    fn not_kept(self, status: u16, why: &str) {
        let CacheState::Miss(transaction) = self else { return };
        if (200..300).contains(&status) {
            page_cache::note_pass(transaction, why);
        } else {
            let _ = transaction.cancel_insert_or_update();
        }
    }
}

/// Why a request does not use the edge cache at all, if it does not.
fn cache_bypass(request: &Request, visit: &Visit) -> Option<&'static str> {
    if visit.limits.cache_max_ttl_s == 0 {
        return Some("the cache is off (limits: cache_max_ttl_s 0)");
    }
    if request.get_method_str() != "GET" {
        return Some("not a GET");
    }
    if visit.range_request {
        return Some("a range request");
    }
    if visit.authorization {
        return Some("the request carries Authorization");
    }
    if visit.grants.debug || visit.grants.preview {
        return Some("a debug or preview request");
    }
    None
}

/// A hit's JSON log line.
fn log_hit(context: &RequestContext, page_key: &PageKey, plan: &Plan<'_>, vcpu_at_start: u64) {
    let experiments: serde_json::Map<String, serde_json::Value> =
        plan.experiments().map(|(id, variant)| (id.to_owned(), variant.into())).collect();
    let line = serde_json::json!({
        "event": "hit",
        "method": context.method,
        "host": context.host,
        "path": context.path,
        // Each page view counts for its experiments, served from the cache or not.
        "experiments": experiments,
        "cache": { "status": "HIT", "key": page_key.short() },
        "vcpu_ms": instance::vcpu_ms().saturating_sub(vcpu_at_start),
    });
    log::info!("{line}");
}

/// How many fragment requests a page may still send: its budget (`limits.max_includes`), and
/// no more than the instance's backend requests leave (the origin's fetch kept aside).
fn include_room(limits: &Limits) -> usize {
    usize::from(limits.max_includes).min(instance::backend_requests_left().saturating_sub(1))
}

/// What a request brings to every step after admission: what it may see, where its pages
/// come from, the limits and rules it is served with.
struct Visit {
    grants: access::Grants,
    backend: Backend,
    limits: Limits,
    rules: Rc<RuleSet>,
    vcpu_at_start: u64,
    range_request: bool,
    authorization: bool,
}

/// The origin's answer, as the policy reads it.
struct Answer {
    response: Response,
    status: u16,
    headers: response::DecisionHeaders,
    /// The guest decoded a coding the host did not: passed through, it is compressed again.
    decompressed: bool,
    /// From sending the request to the response's headers.
    time: Duration,
}

/// Answers one request; returns the limits it ran under. It reads as its steps: admit, route,
/// plan, the edge cache, the origin, then pass through or rewrite.
fn handle(mut request: Request, source: &mut RuleSource) -> Limits {
    let vcpu_at_start = instance::vcpu_ms();
    let Some((mut context, grants)) = admit(&mut request) else { return Limits::default() };
    let Some(backend) = route(&context) else { return Limits::default() };
    let limits = limits::read();
    let range_request = request.contains_header(RANGE);
    let rules_started = Instant::now();
    let (rules, edition) = rewrite::rules_for(grants, source);
    let authorization = request.contains_header("authorization");
    let visit = Visit { grants, backend, limits, rules, vcpu_at_start, range_request, authorization };
    // The key is made before the origin answers, from what the request alone decides about
    // the page: requests that share it get the same page for any response (see `PageKey`).
    let prospect = Prospect::of(&visit.rules, &context);
    let page_key = PageKey::of(&prospect, edition.label());
    let rules_time = rules_started.elapsed();
    let fetches = send_likely_includes(&prospect, &context, &visit);
    let Some(cache) = consult_cache(&request, &prospect, &page_key, &context, &visit) else { return limits };
    let Some(mut answer) = fetch_origin(request, &cache, &context, &visit) else { return limits };
    // Conditions on the status and type see the response from here on.
    request_context::add_response(&mut context, &answer.response);
    match decide(&answer.headers.facts(&context.method, answer.status, range_request)) {
        Decision::PassThrough(reason) => pass_through(answer, reason, &context, &visit, cache),
        Decision::Rewrite(decoding, encoding) => {
            context.content_type = answer.headers.content_type.take();
            let content_type = context.content_type.clone().unwrap_or_default();
            // The plan again, now that the response is known (status and type conditions).
            let planned = Instant::now();
            let plan = visit.rules.plan(&context);
            let rules_time = rules_time + planned.elapsed();
            let log = rewrite::LogFacts {
                edition,
                rule_errors: source.errors(edition),
                rules_version: source.version(edition).map(str::to_owned),
                origin_time: answer.time,
                rules_time,
                vcpu_at_start,
            };
            let output = output_for(cache, &answer, &plan, &context, &visit, page_key);
            let includes = rewrite::Includes { fetches, origin: visit.backend.clone(), room: include_room(&limits) };
            let body = rewrite::BodyFacts { decoding, encoding, content_type };
            let (rules, response) = (&*visit.rules, answer.response);
            rewrite::run(rewrite::Job {
                context: &context,
                plan,
                rules,
                response,
                body,
                grants,
                limits,
                page_key,
                output,
                includes,
                log,
            });
        }
    }
    limits
}

/// Admission: the preview/debug token, and the request as the engine reads it (`None` once
/// a 400 has been answered).
fn admit(request: &mut Request) -> Option<(RequestContext, access::Grants)> {
    let (grants, forced_variants) = access::check(request);
    match request_context::from_request(request) {
        Ok(mut context) => {
            request_context::force_variants(&mut context, forced_variants.as_deref());
            Some((context, grants))
        }
        Err(why) => {
            log::warn!("{} {}: {why}; answering 400", request.get_method_str(), request.get_path());
            response::bad_request().send_to_client();
            None
        }
    }
}

/// The backend of the request's host, by the sites map (`None` once a 421 or 503 has been
/// answered).
fn route(context: &RequestContext) -> Option<Backend> {
    let (method, path) = (&context.method, &context.path);
    match sites::route(&context.host) {
        Route::To(backend) => Some(backend),
        Route::UnknownHost => {
            log::warn!("{method} {path}: host {:?} is not in the sites map; answering 421", context.host);
            response::misdirected().send_to_client();
            None
        }
        Route::Broken(why) => {
            log::error!("{method} {path}: {why}; answering 503");
            response::unavailable().send_to_client();
            None
        }
    }
}

/// Fragments are asked for now, so they travel while the origin answers: those the plan for
/// the likeliest response of a rewritten page (200, text/html) includes, for a page never
/// cached. The plan made with the real response drops the ones it does not need and sends
/// the ones it misses.
fn send_likely_includes(prospect: &Prospect<'_>, context: &RequestContext, visit: &Visit) -> Fetches {
    if prospect.never_cached().is_none() || context.method != "GET" {
        return Fetches::default();
    }
    let likely = visit.rules.plan(context);
    if likely.includes().is_empty() {
        return Fetches::default();
    }
    Fetches::send(likely.includes(), &context.host, &visit.backend, include_room(&visit.limits))
}

/// Where the request stands with the edge cache; `None` once a hit has been answered.
fn consult_cache(
    request: &Request,
    prospect: &Prospect<'_>,
    page_key: &PageKey,
    context: &RequestContext,
    visit: &Visit,
) -> Option<CacheState> {
    let bypass = prospect.never_cached().or_else(|| cache_bypass(request, visit));
    if let Some(reason) = bypass {
        return Some(CacheState::Pass(reason.to_owned()));
    }
    let found = match page_cache::lookup(page_key, request) {
        page_cache::Lookup::Hit(found) => found,
        page_cache::Lookup::Miss(transaction) => return Some(CacheState::Miss(transaction)),
        page_cache::Lookup::Unavailable(why) | page_cache::Lookup::Pass(why) => return Some(CacheState::Pass(why)),
    };
    let if_none_match = request.get_header_str("if-none-match");
    match page_cache::hit_response(&found, if_none_match) {
        Ok(page_cache::Hit { mut response, status, content_type }) => {
            // The plan the stored page was made with (its response's facts): the experiments
            // it shows, and the cookie that keeps a new visitor in them, which is this
            // visitor's own.
            let plan = if prospect.may_assign() {
                prospect.plan_for(status, content_type.as_deref())
            } else {
                Plan::default()
            };
            fastly_headers::give_cookie(&mut response, &plan);
            response.send_to_client();
            log_hit(context, page_key, &plan, visit.vcpu_at_start);
            None
        }
        Err(why) => Some(CacheState::Pass(why)),
    }
}

/// Asks the origin (`None` once a failure has been answered), and reads its answer: a
/// response without a Content-Type that starts like HTML is treated as HTML.
fn fetch_origin(mut request: Request, cache: &CacheState, context: &RequestContext, visit: &Visit) -> Option<Answer> {
    let (method, path) = (&context.method, &context.path);
    // The origin never saw the bytes a rewritten page's ETag names: it must not answer 304.
    if request.get_header_str("if-none-match").is_some_and(PageKey::is_ours) {
        request.remove_header("if-none-match");
        request.remove_header("if-modified-since");
    }
    let sent = Instant::now();
    let origin::Fetched { mut response, decompressed } = match origin::fetch(request, visit.backend.clone()) {
        Ok(fetched) => fetched,
        Err(err) => {
            let failure = origin::Failure::of(&err);
            log::error!("{method} {path}: {failure}: {err}; answering {}", failure.status());
            cache.cancel();
            response::origin_failed(&failure).send_to_client();
            return None;
        }
    };
    let time = sent.elapsed();
    let status = response.get_status().as_u16();
    let mut headers = response::DecisionHeaders::of(&response);
    if may_sniff(&headers.facts(method, status, visit.range_request)) && response::sniff_html_body(&mut response) {
        log::info!("{method} {path}: a response without a Content-Type starts like HTML: treated as text/html");
        headers.content_type = Some("text/html".to_owned());
    }
    Some(Answer { response, status, headers, decompressed, time })
}

/// Sends a response the policy does not rewrite on untouched but for its header rules, with
/// a log line (at info level for HTML).
fn pass_through(answer: Answer, reason: &'static str, context: &RequestContext, visit: &Visit, cache: CacheState) {
    let Answer { mut response, status, headers, decompressed, .. } = answer;
    // Header rules apply to every response, rewritten or not (an asset, an error).
    let header_changes = fastly_headers::apply(&mut response, &visit.rules.plan(context));
    let html = headers.content_type.as_deref().is_some_and(is_html);
    if html {
        log::info!("{} {}: HTML passed through untouched: {reason}", context.method, context.path);
    }
    let line = serde_json::json!({
        "event": "pass",
        "method": context.method,
        "host": context.host,
        "path": context.path,
        "status": status,
        "reason": reason,
        "headers": header_changes,
        "vcpu_ms": instance::vcpu_ms().saturating_sub(visit.vcpu_at_start),
    });
    // One line for every HTML answer; other answers (assets) only at debug level.
    let level = if html { log::Level::Info } else { log::Level::Debug };
    log::log!(level, "{line}");
    if visit.grants.preview {
        rewrite::mark_preview(&mut response, "not rewritten");
    }
    if decompressed {
        response::ask_to_recompress(&mut response);
    }
    cache.not_kept(status, reason);
    response.set_header(page_cache::X_CACHE, "PASS");
    // The body handle goes straight back to the host: no byte is copied in the guest.
    response.send_to_client();
}

/// Where a rewritten page goes: into the edge cache on a miss it may keep, else to the
/// client alone (and the cache told why, when this request held its insert).
fn output_for(
    cache: CacheState,
    answer: &Answer,
    plan: &Plan<'_>,
    context: &RequestContext,
    visit: &Visit,
    page_key: PageKey,
) -> rewrite::Output {
    let transaction = match cache {
        CacheState::Miss(transaction) => transaction,
        CacheState::Pass(why) => return rewrite::Output::Client { cache: "PASS", why: Some(why) },
    };
    // A cookie a rule gives is this visitor's: the page must not be kept for others.
    if plan.sets_cookie() {
        let why = "a rule sets a cookie";
        page_cache::note_pass(transaction, why);
        return rewrite::Output::Client { cache: "PASS", why: Some(why.into()) };
    }
    let cache_headers = response::CacheHeaders::of(&answer.response);
    let (method, status, range_request, authorization) =
        (context.method.as_str(), answer.status, visit.range_request, visit.authorization);
    let facts = CacheFacts { method, status, range_request, authorization, ..cache_headers.facts() };
    match keep(&facts, context.now) {
        Keep::For(seconds) => match rewrite::edge_ttl(seconds, &visit.limits, &visit.rules, context.now) {
            Some(ttl) => rewrite::Output::Cache(page_cache::Insert {
                transaction,
                ttl,
                surrogate_keys: response::surrogate_keys(&answer.response),
                vary_by: page_cache::vary_by(facts.vary),
                page_key,
            }),
            None => {
                let _ = transaction.cancel_insert_or_update();
                rewrite::Output::Client { cache: "PASS", why: Some("a rule changes within the second".into()) }
            }
        },
        Keep::No(why) => {
            CacheState::Miss(transaction).not_kept(status, why);
            rewrite::Output::Client { cache: "PASS", why: Some(why.to_owned()) }
        }
    }
}
