//! One HTML response rewritten and streamed to the client, and the structured log line
//! that says how it went.

use std::io::{Cursor, Read, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use edge_rewriter::{
    CpuDeadline, Decoding, Limits, PageEncoding, Plan, Report, RequestContext, RewriteOptions, RewrittenPage, RuleSet,
    Streamed, Variant, decoded, stream, stream_with_fragments,
};
use fastly::http::body::StreamingBody;
use fastly::http::header::CACHE_CONTROL;
use fastly::{Backend, Body, Response};
use serde_json::json;

use super::access::{Grants, PREVIEW_HEADER};
use super::headers;
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

/// A response the policy says to rewrite.
pub struct Job<'a> {
    pub context: &'a RequestContext,
    /// The rules that apply, planned with the response's facts.
    pub plan: Plan<'a>,
    pub response: Response,
    pub decoding: Decoding,
    pub encoding: PageEncoding,
    /// The media type the rewrite was decided on; the client gets it as the one
    /// `Content-Type` line.
    pub content_type: String,
    pub grants: Grants,
    /// From sending the request to the origin's response headers.
    pub origin_time: Duration,
    /// Reading and planning the rules (both plans).
    pub rules_time: Duration,
    pub limits: Limits,
    /// The instance's vCPU reading when the request arrived.
    pub vcpu_at_start: u64,
    pub rules: &'a RuleSet,
    pub edition: Edition,
    /// Rules left out of the set in use because they are invalid.
    pub rule_errors: usize,
    /// The version the rules index names, if it names one.
    pub rules_version: Option<String>,
    pub variant: Variant,
    pub output: Output,
    /// Fragment requests sent for the plan made before the origin answered.
    pub fetches: Fetches,
    /// The page's origin: fragments from `"origin"` come from it.
    pub origin: Backend,
    /// How many fragment requests the page may send in all.
    pub include_room: usize,
}

/// Rewrites the response body into the client's (or the cache's), chunk by chunk, and logs
/// one JSON line.
pub fn run(job: Job<'_>) {
    let Job {
        context,
        plan,
        mut response,
        decoding,
        encoding,
        content_type,
        grants,
        origin_time,
        rules_time,
        limits,
        vcpu_at_start,
        rules,
        edition,
        rule_errors,
        rules_version,
        variant,
        output,
        fetches,
        origin,
        include_room,
    } = job;
    let body = response.take_body();
    // Before the headers leave, and before a miss stores them: all but the visitor cookie.
    let page = RewrittenPage {
        decoded: decoding != Decoding::Identity,
        content_type: &content_type,
        variant: &variant,
        dependence: rules.dependence(),
        plan: &plan,
    };
    let header_changes = headers::page_headers(&mut response, &page);
    if grants.preview {
        mark_preview(&mut response, edition.label());
    }
    if grants.debug {
        // Debug headers are for the one who asked: no cache may keep them for others.
        response.set_header(CACHE_CONTROL, "private, no-store");
        let vcpu = Duration::from_millis(vcpu_ms().saturating_sub(vcpu_at_start));
        response.set_header(
            "server-timing",
            server_timing(&[("origin", origin_time), ("rules", rules_time), ("vcpu", vcpu)]),
        );
        // The rewrite's own time is known only once the body has gone, after the headers:
        // it is in the log line instead.
        response.set_header(RULES_HEADER, plan.rule_ids().collect::<Vec<_>>().join(", "));
    }
    let cache = match &output {
        Output::Client { cache, why } => CacheLog { status: cache, key: variant.short(), why: why.clone(), ttl: None },
        Output::Cache(insert) => {
            CacheLog { status: "MISS", key: variant.short(), why: None, ttl: Some(insert.ttl.as_secs()) }
        }
    };
    let mut line = LogLine {
        context,
        plan: &plan,
        edition,
        rule_errors,
        rules_version,
        origin_time,
        rules_time,
        vcpu_at_start,
        vcpu_at_stream_end: None,
        limits,
        cache,
        header_changes,
    };
    if context.method == "HEAD" {
        // The headers GET would get, without a body.
        headers::give_cookie(&mut response, &plan);
        response.send_to_client();
        line.log(None, Duration::ZERO, "headers only (HEAD)");
        return;
    }

    // The budget covers the whole instance (see `instance`): `vcpu_ms` counts from its start.
    // Viceroy never stops a guest and counts wall time as vCPU; Fastly stops it at 50 ms:
    // the deadline and its finishing allowance are what keep a page complete there.
    let cpu_deadline = limits
        .cpu_deadline_ms()
        .zip(limits.cpu_finish_by_ms())
        .map(|(stop_at_ms, finish_by_ms)| CpuDeadline::new(vcpu_ms, stop_at_ms, finish_by_ms));
    let options = RewriteOptions { encoding, cpu_deadline, ..RewriteOptions::default() };
    let mut input = match decoding {
        Decoding::Identity => Source::Raw(body),
        coded => Source::Decoded(decoded(coded, body)),
    };
    // The headers leave once the first bytes are in hand: a body that fails before its first
    // byte (a reset, a stream that is not gzip) gets a clear 502, not a 200 cut at nothing.
    let first = match read_first(&mut input, options.read_buffer) {
        Ok(first) => first,
        Err(err) => {
            log::error!("{}: the origin's body failed before its first byte: {err}; answering 502", context.path);
            if let Output::Cache(insert) = output {
                let _ = insert.transaction.cancel_insert_or_update();
            }
            response::broken_origin_body().send_to_client();
            line.log(None, Duration::ZERO, "bad gateway: the origin's body could not be read");
            return;
        }
    };
    let (sink, inserting) = match output {
        Output::Client { cache, .. } => {
            response.set_header(page_cache::X_CACHE, cache);
            headers::give_cookie(&mut response, &plan);
            (response.stream_to_client(), false)
        }
        Output::Cache(insert) => match insert.start(response, |response| headers::give_cookie(response, &plan)) {
            Ok(writer) => (writer, true),
            Err(refused) => {
                let (mut response, why) = *refused;
                log::warn!("{}: {why}; the page is served without being kept", context.path);
                line.cache.status = "PASS";
                line.cache.why = Some(why);
                response.set_header(page_cache::X_CACHE, "PASS");
                headers::give_cookie(&mut response, &plan);
                (response.stream_to_client(), false)
            }
        },
    };
    let rewrite_started = Instant::now();
    let mut head = Cursor::new(first);
    let page = (&mut head).chain(&mut input);
    let Streamed { sink: mut client, report, mut result } = if plan.includes().is_empty() {
        stream(&plan, &options, page, sink)
    } else {
        // The plan now knows the response: fragments it no longer needs are dropped, new
        // ones sent.
        let fetches = fetches.resend_for(plan.includes(), &context.host, &origin, include_room);
        stream_with_fragments(&plan, &options, page, sink, Box::new(fetches))
    };
    // What the guest itself spent: after this, only the host's splice of the rest (which
    // Viceroy adds to the guest's vCPU, as it counts hostcall time).
    line.vcpu_at_stream_end = Some(vcpu_ms());
    if report.cpu_stop && result.is_ok() {
        result = pass_on_the_rest(&mut client, head, input).map_err(edge_rewriter::StreamError::Input);
    }
    let rewrite_time = rewrite_started.elapsed();
    let outcome = match &result {
        Ok(()) => match client.finish() {
            Ok(()) if inserting && report.cpu_stop => {
                // Where a CPU stop falls depends on the instance's clock, not on the request:
                // the next request may rewrite further, so no one else gets this page from
                // the cache (the client already has it whole).
                page_cache::unkeep(&variant);
                line.cache.status = "PASS";
                line.cache.why = Some("rewriting stopped at the CPU budget: the page is not kept".into());
                "complete"
            }
            Ok(()) => "complete",
            Err(err) => {
                log::warn!("{}: finishing the client response failed: {err}", context.path);
                "client gone"
            }
        },
        Err(err) => {
            // The client must be able to tell the body is incomplete: abandon, never finish.
            log::error!(
                "{}: {err}; client response abandoned after {} bytes so it is visibly incomplete",
                context.path,
                report.bytes_out
            );
            if inserting {
                // Nobody may get this cut body from the cache later either.
                page_cache::discard(client, &variant);
            } else if let Err(err) = client.abandon() {
                log::warn!("{}: abandoning the client response failed: {err}", context.path);
            }
            "abandoned"
        }
    };
    line.log(Some(&report), rewrite_time, outcome);
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
    /// The variant's digest, shortened.
    key: String,
    /// Why it was not kept, when it was not.
    why: Option<String>,
    /// How long it is kept, when it is.
    ttl: Option<u64>,
}

/// The facts of one rewrite, logged as one JSON line.
struct LogLine<'a> {
    context: &'a RequestContext,
    plan: &'a Plan<'a>,
    edition: Edition,
    rule_errors: usize,
    rules_version: Option<String>,
    origin_time: Duration,
    rules_time: Duration,
    vcpu_at_start: u64,
    /// The vCPU reading when the rewrite itself was done.
    vcpu_at_stream_end: Option<u64>,
    limits: Limits,
    cache: CacheLog,
    /// What the rules did to the response's headers (`"set x-frame-options"`).
    header_changes: Vec<String>,
}

impl LogLine<'_> {
    fn log(&mut self, report: Option<&Report>, rewrite_time: Duration, outcome: &str) {
        let ms = |time: Duration| (time.as_secs_f64() * 1e5).round() / 1e2;
        let hits = hit_counts(report.map(|r| &r.hits[..]), self.plan.rule_ids());
        let shadow_hits = hit_counts(report.map(|r| &r.shadow_hits[..]), self.plan.shadow_ids());
        let line = json!({
            "event": "rewrite",
            "method": self.context.method,
            "host": self.context.host,
            "path": self.context.path,
            "status": self.context.status,
            "rules": self.edition.label(),
            "rules_version": self.rules_version,
            "hits": hits,
            "shadow_hits": shadow_hits,
            "not_applicable": self.plan.not_applicable(),
            "headers": self.header_changes,
            "experiments": self.plan.experiments().map(|(id, variant)| (id.to_owned(), json!(variant))).collect::<serde_json::Map<_, _>>(),
            "variant_forced": self.plan.forced(),
            "rule_errors": self.rule_errors,
            "bytes_in": report.map(|r| r.bytes_in),
            "bytes_out": report.map(|r| r.bytes_out),
            "bail_out": report.and_then(|r| r.bail_out.clone()),
            "includes": report.map(|r| includes_log(&r.includes)).unwrap_or_default(),
            "vcpu_ms": vcpu_ms().saturating_sub(self.vcpu_at_start),
            "vcpu_ms_rewrite": self.vcpu_at_stream_end.map(|at| at.saturating_sub(self.vcpu_at_start)),
            "cpu_budget_ms": self.limits.cpu_budget_ms,
            "cache": { "status": self.cache.status, "key": self.cache.key, "why": self.cache.why, "ttl_s": self.cache.ttl },
            "outcome": outcome,
            "ms": { "origin": ms(self.origin_time), "rules": ms(self.rules_time), "rewrite": ms(rewrite_time) },
        });
        log::info!("{line}");
    }
}

/// Each include: its rule and path, what was inserted (and why not the fragment), how many
/// bytes, how long the page waited for it (its response and its body), and in how many
/// places it went.
fn includes_log(includes: &[edge_rewriter::IncludeOutcome]) -> Vec<serde_json::Value> {
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
