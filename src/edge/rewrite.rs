//! One HTML response rewritten and streamed to the client, and the structured log line
//! that says how it went.

use std::io::{Cursor, Read, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use edge_rewriter::http::{Decoding, decoded};
use edge_rewriter::store::Limits;
use edge_rewriter::{
    CpuDeadline, PageKey, Plan, Report, RequestContext, RewriteOptions, RuleSet, Streamed, http::PageEncoding,
    response::RewrittenPage, stream, stream_with_fragments,
};
use fastly::http::body::StreamingBody;
use fastly::http::header::CACHE_CONTROL;
use fastly::{Backend, Body, Response};
use serde_json::json;

use super::access::{Grants, PREVIEW_HEADER};
use super::fastly_headers;
use super::includes::Fetches;
use super::instance::vcpu_ms;
use super::page_cache;
use super::response;
use super::rules_source::{Edition, RuleSource};

/// Which rules ran, for debugging (only with a valid token).
const RULES_HEADER: &str = "x-edge-rewriter-rules";

/// The rules a request is rewritten with: the draft for a preview, the live ones otherwise.
pub fn rules_for(grants: Grants, source: &mut RuleSource) -> (Rc<RuleSet>, Edition) {
    if grants.preview { source.preview() } else { (source.live(), Edition::Live) }
}

/// How long a rewritten page stays at the edge: what the origin allows, capped by the
/// `limits` (`cache_max_ttl_s`) and by the next instant any rule's output changes with the
/// clock (a time window opens or closes, `{{date}}` turns). `None` when that is now.
pub fn edge_ttl(origin_seconds: u64, limits: &Limits, rules: &RuleSet, now: i64) -> Option<Duration> {
    let mut seconds = origin_seconds.min(limits.cache_max_ttl_s);
    if let Some(change) = rules.dependence().next_change_after(now) {
        seconds = seconds.min(u64::try_from(change - now).unwrap_or(0));
    }
    (seconds > 0).then(|| Duration::from_secs(seconds))
}

/// Where the rewritten body goes.
pub enum Output {
    /// Straight to the client; `cache` and `why` say why it is not kept (for `X-Cache`).
    Client { cache: &'static str, why: Option<String> },
    /// Into the edge cache, and to the client from there as it is written.
    Cache(page_cache::Insert),
}

/// A response the policy says to rewrite: what the rewrite needs, and the log's part made
/// before it.
pub struct Job<'a> {
    pub context: &'a RequestContext,
    /// The rules that apply, planned with the response's facts.
    pub plan: Plan<'a>,
    pub rules: &'a RuleSet,
    pub response: Response,
    pub body: BodyFacts,
    pub grants: Grants,
    pub limits: Limits,
    pub page_key: PageKey,
    pub output: Output,
    pub includes: Includes,
    pub log: LogFacts,
}

/// How the body is read, as the policy decided.
pub struct BodyFacts {
    pub decoding: Decoding,
    pub encoding: PageEncoding,
    /// The media type the rewrite was decided on; the client gets it as the one
    /// `Content-Type` line.
    pub content_type: String,
}

/// A page's fragment requests.
pub struct Includes {
    /// Those sent for the plan made before the origin answered.
    pub fetches: Fetches,
    /// The page's origin: fragments from `"origin"` come from it.
    pub origin: Backend,
    /// How many fragment requests the page may send in all.
    pub room: usize,
}

/// What the log line says of the request before its rewrite: made once, by the handler.
pub struct LogFacts {
    pub edition: Edition,
    /// Rules left out of the set in use because they are invalid.
    pub rule_errors: usize,
    /// The version the rules index names, if it names one.
    pub rules_version: Option<String>,
    /// From sending the request to the origin's response headers.
    pub origin_time: Duration,
    /// Reading and planning the rules (both plans).
    pub rules_time: Duration,
    /// The instance's vCPU reading when the request arrived.
    pub vcpu_at_start: u64,
}

/// Rewrites the response body into the client's (or the cache's), chunk by chunk, and logs
/// one JSON line.
pub fn run(job: Job<'_>) {
    let Job { context, plan, rules, mut response, body, grants, limits, page_key, output, includes, log } = job;
    let origin_body = response.take_body();
    let page = RewrittenPage {
        decoded: body.decoding != Decoding::Identity,
        content_type: &body.content_type,
        page_key: &page_key,
        dependence: rules.dependence(),
        plan: &plan,
    };
    let header_changes = set_headers(&mut response, &page, grants, &log);
    let cache = CacheLog::of(&output, &page_key);
    let mut line =
        LogLine { facts: log, cpu_budget_ms: limits.cpu_budget_ms, vcpu_at_stream_end: None, cache, header_changes };
    if context.method == "HEAD" {
        // The headers GET would get, without a body.
        fastly_headers::give_cookie(&mut response, &plan);
        response.send_to_client();
        line.log(context, &plan, None, Duration::ZERO, "headers only (HEAD)");
        return;
    }
    let options =
        RewriteOptions { encoding: body.encoding, cpu_deadline: cpu_deadline(&limits), ..RewriteOptions::default() };
    let mut input = Source::of(body.decoding, origin_body);
    // The headers leave once the first bytes are in hand: a body that fails before its first
    // byte (a reset, a stream that is not gzip) gets a clear 502, not a 200 cut at nothing.
    let first = match read_first(&mut input, options.read_buffer) {
        Ok(first) => first,
        Err(err) => return fail_before_first_byte(&err, output, context, &plan, &mut line),
    };
    let (sink, inserting) = open_sink(response, output, &plan, &mut line.cache, &context.path);
    let rewrite_started = Instant::now();
    let mut head = Cursor::new(first);
    let page = (&mut head).chain(&mut input);
    let Streamed { sink: mut client, report, mut result } =
        rewrite_body(&plan, &options, page, sink, includes, &context.host);
    // What the guest itself spent: after this, only the host's splice of the rest (which
    // Viceroy adds to the guest's vCPU, as it counts hostcall time).
    line.vcpu_at_stream_end = Some(vcpu_ms());
    if report.cpu_stop && result.is_ok() {
        result = pass_on_the_rest(&mut client, head, input).map_err(edge_rewriter::StreamError::Input);
    }
    let rewrite_time = rewrite_started.elapsed();
    let outcome = finish(client, &result, &report, inserting, &page_key, &mut line.cache, &context.path);
    line.log(context, &plan, Some(&report), rewrite_time, outcome);
}

/// Sets the page's headers before they leave, and before a miss stores them: all but the
/// visitor cookie; and the preview and debug headers the request may see. Returns what the
/// rules changed, for the log.
fn set_headers(response: &mut Response, page: &RewrittenPage<'_>, grants: Grants, log: &LogFacts) -> Vec<String> {
    let header_changes = fastly_headers::page_headers(response, page);
    if grants.preview {
        mark_preview(response, log.edition.label());
    }
    if grants.debug {
        // Debug headers are for the one who asked: no cache may keep them for others.
        response.set_header(CACHE_CONTROL, "private, no-store");
        let vcpu = Duration::from_millis(vcpu_ms().saturating_sub(log.vcpu_at_start));
        response.set_header(
            "server-timing",
            server_timing(&[("origin", log.origin_time), ("rules", log.rules_time), ("vcpu", vcpu)]),
        );
        // The rewrite's own time is known only once the body has gone, after the headers:
        // it is in the log line instead.
        response.set_header(RULES_HEADER, page.plan.rule_ids().collect::<Vec<_>>().join(", "));
    }
    header_changes
}

/// The CPU deadline the rewrite stops at, if the limits set a budget.
fn cpu_deadline(limits: &Limits) -> Option<CpuDeadline> {
    // The budget covers the whole instance (see `instance`): `vcpu_ms` counts from its start.
    // Viceroy never stops a guest and counts wall time as vCPU; Fastly stops it at 50 ms:
    // the deadline and its finishing allowance are what keep a page complete there.
    limits
        .cpu_deadline_ms()
        .zip(limits.cpu_finish_by_ms())
        .map(|(stop_at_ms, finish_by_ms)| CpuDeadline::new(vcpu_ms, stop_at_ms, finish_by_ms))
}

/// The origin's body failed before its first byte: a 502, and nothing kept.
fn fail_before_first_byte(
    err: &std::io::Error,
    output: Output,
    context: &RequestContext,
    plan: &Plan<'_>,
    line: &mut LogLine,
) {
    log::error!("{}: the origin's body failed before its first byte: {err}; answering 502", context.path);
    if let Output::Cache(insert) = output {
        let _ = insert.transaction.cancel_insert_or_update();
    }
    response::broken_origin_body().send_to_client();
    line.log(context, plan, None, Duration::ZERO, "bad gateway: the origin's body could not be read");
}

/// Sends the headers and opens the body's way out: to the client, or into the cache (and to
/// the client from there); a cache that refuses the page leaves it to the client alone.
/// Returns the body and whether it goes into the cache.
fn open_sink(
    mut response: Response,
    output: Output,
    plan: &Plan<'_>,
    cache: &mut CacheLog,
    path: &str,
) -> (StreamingBody, bool) {
    match output {
        Output::Client { cache, .. } => {
            response.set_header(page_cache::X_CACHE, cache);
            fastly_headers::give_cookie(&mut response, plan);
            (response.stream_to_client(), false)
        }
        Output::Cache(insert) => match insert.start(response, |response| fastly_headers::give_cookie(response, plan)) {
            Ok(writer) => (writer, true),
            Err(refused) => {
                let (mut response, why) = *refused;
                log::warn!("{path}: {why}; the page is served without being kept");
                cache.status = "PASS";
                cache.why = Some(why);
                response.set_header(page_cache::X_CACHE, "PASS");
                fastly_headers::give_cookie(&mut response, plan);
                (response.stream_to_client(), false)
            }
        },
    }
}

/// Streams the page through the plan into `sink`, with its fragments when it has includes.
fn rewrite_body(
    plan: &Plan<'_>,
    options: &RewriteOptions,
    page: impl Read,
    sink: StreamingBody,
    includes: Includes,
    host: &str,
) -> Streamed<StreamingBody> {
    if plan.includes().is_empty() {
        return stream(plan, options, page, sink);
    }
    // The plan now knows the response: fragments it no longer needs are dropped, new
    // ones sent.
    let fetches = includes.fetches.resend_for(plan.includes(), host, &includes.origin, includes.room);
    stream_with_fragments(plan, options, page, sink, Box::new(fetches))
}

/// Ends the body as the rewrite went: finished when whole (and, after a CPU stop, taken back
/// out of the cache), abandoned when not. Returns the outcome for the log.
fn finish(
    client: StreamingBody,
    result: &Result<(), edge_rewriter::StreamError>,
    report: &Report,
    inserting: bool,
    page_key: &PageKey,
    cache: &mut CacheLog,
    path: &str,
) -> &'static str {
    match result {
        Ok(()) => match client.finish() {
            Ok(()) if inserting && report.cpu_stop => {
                // Where a CPU stop falls depends on the instance's clock, not on the request:
                // the next request may rewrite further, so no one else gets this page from
                // the cache (the client already has it whole).
                page_cache::unkeep(page_key);
                cache.status = "PASS";
                cache.why = Some("rewriting stopped at the CPU budget: the page is not kept".into());
                "complete"
            }
            Ok(()) => "complete",
            Err(err) => {
                log::warn!("{path}: finishing the client response failed: {err}");
                "client gone"
            }
        },
        Err(err) => {
            // The client must be able to tell the body is incomplete: abandon, never finish.
            log::error!(
                "{path}: {err}; client response abandoned after {} bytes so it is visibly incomplete",
                report.bytes_out
            );
            if inserting {
                // Nobody may get this cut body from the cache later either.
                page_cache::discard(client, page_key);
            } else if let Err(err) = client.abandon() {
                log::warn!("{path}: abandoning the client response failed: {err}");
            }
            "abandoned"
        }
    }
}

/// After a stop at the CPU budget: the unread rest of the page goes to the client as it came.
/// An identity body is appended whole, host to host, without a byte passing through the
/// guest; a body the guest decodes (a coding the host did not decode) is copied through.
fn pass_on_the_rest(client: &mut StreamingBody, head: Cursor<Vec<u8>>, input: Source) -> std::io::Result<()> {
    let unread_head = &head.get_ref()[head.position() as usize..];
    client.write_all(unread_head)?;
    // `append` panics if the client is gone; a flush finds that out first.
    client.flush()?;
    match input {
        Source::Raw(body) => client.append(body),
        Source::Decoded(mut decoder) => {
            log::warn!("the rest of a body the guest decodes is copied through the guest, not spliced");
            std::io::copy(&mut decoder, client)?;
        }
    }
    Ok(())
}

/// The origin's body as the rewriter reads it.
enum Source {
    /// As it came (the host decoded any gzip): can be handed back to the host unread.
    Raw(Body),
    /// Decoded in the guest.
    Decoded(Box<dyn Read>),
}

impl Source {
    fn of(decoding: Decoding, body: Body) -> Source {
        match decoding {
            Decoding::Identity => Source::Raw(body),
            coded => Source::Decoded(decoded(coded, body)),
        }
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Source::Raw(body) => body.read(buf),
            Source::Decoded(decoder) => decoder.read(buf),
        }
    }
}

/// The first piece of `input`: whatever one read returns (empty at the end of input).
fn read_first(input: &mut dyn Read, limit: usize) -> std::io::Result<Vec<u8>> {
    let mut first = vec![0; limit];
    loop {
        match input.read(&mut first) {
            Ok(read) => {
                first.truncate(read);
                return Ok(first);
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
}

/// Says on a response that it is a preview (and keeps caches from storing it).
pub fn mark_preview(response: &mut Response, label: &str) {
    response.set_header(PREVIEW_HEADER, label);
    response.set_header(CACHE_CONTROL, "private, no-store");
}

/// `name;dur=milliseconds, ...`
fn server_timing(parts: &[(&str, Duration)]) -> String {
    parts
        .iter()
        .map(|(name, time)| format!("{name};dur={:.2}", time.as_secs_f64() * 1e3))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How the edge cache served a response, for the log line.
struct CacheLog {
    status: &'static str,
    /// The page key's digest, shortened.
    key: String,
    /// Why it was not kept, when it was not.
    why: Option<String>,
    /// How long it is kept, when it is.
    ttl: Option<u64>,
}

impl CacheLog {
    fn of(output: &Output, page_key: &PageKey) -> CacheLog {
        match output {
            Output::Client { cache, why } => {
                CacheLog { status: cache, key: page_key.short(), why: why.clone(), ttl: None }
            }
            Output::Cache(insert) => {
                CacheLog { status: "MISS", key: page_key.short(), why: None, ttl: Some(insert.ttl.as_secs()) }
            }
        }
    }
}

/// The facts of one rewrite, logged as one JSON line.
struct LogLine {
    facts: LogFacts,
    cpu_budget_ms: u64,
    /// The vCPU reading when the rewrite itself was done.
    vcpu_at_stream_end: Option<u64>,
    cache: CacheLog,
    /// What the rules did to the response's headers (`"set x-frame-options"`).
    header_changes: Vec<String>,
}

impl LogLine {
    fn log(
        &self,
        context: &RequestContext,
        plan: &Plan<'_>,
        report: Option<&Report>,
        rewrite_time: Duration,
        outcome: &str,
    ) {
        let ms = |time: Duration| (time.as_secs_f64() * 1e5).round() / 1e2;
        let hits = hit_counts(report.map(|r| &r.hits[..]), plan.rule_ids());
        let shadow_hits = hit_counts(report.map(|r| &r.shadow_hits[..]), plan.shadow_ids());
        let line = json!({
            "event": "rewrite",
            "method": context.method,
            "host": context.host,
            "path": context.path,
            "status": context.status,
            "rules": self.facts.edition.label(),
            "rules_version": self.facts.rules_version,
            "hits": hits,
            "shadow_hits": shadow_hits,
            "not_applicable": plan.not_applicable(),
            "headers": self.header_changes,
            "experiments": plan.experiments().map(|(id, variant)| (id.to_owned(), json!(variant))).collect::<serde_json::Map<_, _>>(),
            "variant_forced": plan.forced(),
            "rule_errors": self.facts.rule_errors,
            "bytes_in": report.map(|r| r.bytes_in),
            "bytes_out": report.map(|r| r.bytes_out),
            "bail_out": report.and_then(|r| r.bail_out.clone()),
            "includes": report.map(|r| includes_log(&r.includes)).unwrap_or_default(),
            "vcpu_ms": vcpu_ms().saturating_sub(self.facts.vcpu_at_start),
            "vcpu_ms_rewrite": self.vcpu_at_stream_end.map(|at| at.saturating_sub(self.facts.vcpu_at_start)),
            "cpu_budget_ms": self.cpu_budget_ms,
            "cache": { "status": self.cache.status, "key": self.cache.key, "why": self.cache.why, "ttl_s": self.cache.ttl },
            "outcome": outcome,
            "ms": { "origin": ms(self.facts.origin_time), "rules": ms(self.facts.rules_time), "rewrite": ms(rewrite_time) },
        });
        log::info!("{line}");
    }
}

/// Each include: its rule and path, what was inserted (and why not the fragment), how many
/// bytes, how long the page waited for it (its response and its body), and in how many
/// places it went.
fn includes_log(includes: &[edge_rewriter::include::IncludeOutcome]) -> Vec<serde_json::Value> {
    includes
        .iter()
        .map(|include| {
            json!({
                "rule": include.rule,
                "path": include.path,
                "result": include.result.label(),
                "why": include.result.why(),
                "bytes": include.bytes,
                "waited_ms": include.waited.as_millis(),
                "places": include.places,
            })
        })
        .collect()
}

/// Hits by rule id: the report's counts, or `null` for each rule when nothing was rewritten
/// (a `HEAD`, a body that failed before its first byte).
fn hit_counts<'a>(
    counts: Option<&[(String, u64)]>,
    planned: impl Iterator<Item = &'a str>,
) -> serde_json::Map<String, serde_json::Value> {
    match counts {
        Some(counts) => counts.iter().map(|(id, n)| (id.clone(), json!(n))).collect(),
        None => planned.map(|id| (id.to_owned(), json!(null))).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_timing_is_in_milliseconds() {
        assert_eq!(
            server_timing(&[("origin", Duration::from_micros(12_345)), ("rules", Duration::from_micros(250))]),
            "origin;dur=12.35, rules;dur=0.25"
        );
    }

    #[test]
    fn previews_say_so_and_are_not_cached() {
        let mut response = Response::from_status(200).with_header(CACHE_CONTROL, "public, max-age=600");
        mark_preview(&mut response, "draft");
        assert_eq!(response.get_header_str(PREVIEW_HEADER), Some("draft"));
        assert_eq!(response.get_header_str(CACHE_CONTROL), Some("private, no-store"));
    }
}
