//! One HTML response rewritten and streamed to the client, and the structured log line
//! that says how it went.

use std::io::{Cursor, Read, Write};
use std::time::{Duration, Instant};

use edge_rewriter::{
    CpuDeadline, Decoding, Limits, PageEncoding, Plan, Report, RequestContext, RewriteOptions, Streamed, decoded,
    stream,
};
use fastly::http::body::StreamingBody;
use fastly::http::header::CACHE_CONTROL;
use fastly::{Body, Response};
use serde_json::json;

use super::access::{Grants, PREVIEW_HEADER};
use super::instance::vcpu_ms;
use super::response;
use super::rules_source::{Edition, RuleSource};
use super::visitor;

/// Which rules ran, for debugging (only with a valid token).
const RULES_HEADER: &str = "x-edge-rewriter-rules";

/// A response the policy says to rewrite.
pub struct Job<'a> {
    pub context: &'a RequestContext,
    pub response: Response,
    pub decoding: Decoding,
    pub encoding: PageEncoding,
    /// The media type the rewrite was decided on; the client gets it as the one
    /// `Content-Type` line.
    pub content_type: String,
    pub grants: Grants,
    /// From sending the request to the origin's response headers.
    pub origin_time: Duration,
    pub limits: Limits,
    /// The instance's vCPU reading when the request arrived.
    pub vcpu_at_start: u64,
}

/// Rewrites the response body into the client's, chunk by chunk, and logs one JSON line.
pub fn run(job: Job<'_>, source: &mut RuleSource) {
    let Job { context, mut response, decoding, encoding, content_type, grants, origin_time, limits, vcpu_at_start } =
        job;
    let rules_started = Instant::now();
    let (rules, edition) = if grants.preview { source.preview() } else { (source.live(), Edition::Live) };
    let plan = rules.plan(context);
    let rules_time = rules_started.elapsed();

    let body = response.take_body();
    response::prepare_rewritten_headers(&mut response, decoding, &content_type);
    visitor::keep_private(&mut response, &plan);
    visitor::give_cookie(&mut response, &plan);
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
    let mut line = LogLine {
        context,
        plan: &plan,
        edition,
        rule_errors: source.errors(edition),
        origin_time,
        rules_time,
        vcpu_at_start,
        limits,
    };
    if context.method == "HEAD" {
        // The headers GET would get, without a body.
        response.send_to_client();
        line.log(None, Duration::ZERO, "headers only (HEAD)");
        return;
    }

    // The budget covers the whole instance (see `instance`): `vcpu_ms` counts from its start.
    let deadline = CpuDeadline { clock: vcpu_ms, stop_at_ms: limits.cpu_budget_ms };
    let options = RewriteOptions { encoding, cpu_deadline: Some(deadline), ..RewriteOptions::default() };
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
            response::broken_origin_body().send_to_client();
            line.log(None, Duration::ZERO, "bad gateway: the origin's body could not be read");
            return;
        }
    };
    let client = response.stream_to_client();
    let rewrite_started = Instant::now();
    let mut head = Cursor::new(first);
    let Streamed { sink: mut client, report, mut result } =
        stream(&plan, &options, (&mut head).chain(&mut input), client);
    if report.cpu_stop && result.is_ok() {
        result = pass_on_the_rest(&mut client, head, input).map_err(edge_rewriter::StreamError::Input);
    }
    let rewrite_time = rewrite_started.elapsed();
    let outcome = match &result {
        Ok(()) => match client.finish() {
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
            if let Err(err) = client.abandon() {
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

/// The facts of one rewrite, logged as one JSON line.
struct LogLine<'a> {
    context: &'a RequestContext,
    plan: &'a Plan<'a>,
    edition: Edition,
    rule_errors: usize,
    origin_time: Duration,
    rules_time: Duration,
    vcpu_at_start: u64,
    limits: Limits,
}

impl LogLine<'_> {
    fn log(&mut self, report: Option<&Report>, rewrite_time: Duration, outcome: &str) {
        let ms = |time: Duration| (time.as_secs_f64() * 1e5).round() / 1e2;
        let hits: serde_json::Map<String, serde_json::Value> = match report {
            Some(report) => report.hits.iter().map(|(id, n)| (id.clone(), json!(n))).collect(),
            None => self.plan.rule_ids().map(|id| (id.to_owned(), json!(null))).collect(),
        };
        let line = json!({
            "event": "rewrite",
            "method": self.context.method,
            "host": self.context.host,
            "path": self.context.path,
            "status": self.context.status,
            "rules": self.edition.label(),
            "hits": hits,
            "not_applicable": self.plan.not_applicable(),
            "experiments": self.plan.experiments().map(|(id, variant)| (id.to_owned(), json!(variant))).collect::<serde_json::Map<_, _>>(),
            "variant_forced": self.plan.forced(),
            "rule_errors": self.rule_errors,
            "bytes_in": report.map(|r| r.bytes_in),
            "bytes_out": report.map(|r| r.bytes_out),
            "bail_out": report.and_then(|r| r.bail_out.clone()),
            "vcpu_ms": vcpu_ms().saturating_sub(self.vcpu_at_start),
            "cpu_budget_ms": self.limits.cpu_budget_ms,
            "outcome": outcome,
            "ms": { "origin": ms(self.origin_time), "rules": ms(self.rules_time), "rewrite": ms(rewrite_time) },
        });
        log::info!("{line}");
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
