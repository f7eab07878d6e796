//! Rewritten pages kept at the edge with Fastly's Core Cache API, so a page many visitors
//! share is rewritten once per page key, not once per request.
//!
//! The key is the page's [`PageKey`]: method, URL, the rule set's version, the rules that
//! apply and every value they fill in. A lookup is a transaction: concurrent misses for one
//! key collapse, one request fetches and rewrites while the others wait and then stream the
//! bytes as they are written. A hit streams the stored body to the client without a byte
//! entering the guest. A page found not to be kept leaves a note ([`PASS_NOTE_TTL`]) so that
//! requests for it stop queueing, without keeping the next cacheable answer out. What the origin's `Vary` names is left to the cache's own variance
//! (`vary_by`), fed with the client's request headers.
//!
//! Viceroy 0.22 implements this part of the API (not the HTTP-cache hooks `set_after_send`
//! and `set_body_transform`, which are not used). Viceroy keeps everything in memory and
//! never evicts; Fastly evicts and keeps objects up to 100 MB.

use std::time::Duration;

use bytes::Bytes;
use edge_rewriter::PageKey;
use fastly::cache::core::{CacheKey, Found, Transaction};
use fastly::http::body::StreamingBody;
use fastly::http::header::{ACCEPT_ENCODING, HeaderName, HeaderValue};
use fastly::{Request, Response};
use serde::{Deserialize, Serialize};

/// How long a request waits for another one that is already rewriting the same page.
const COLLAPSE_WAIT: Duration = Duration::from_secs(10);
/// How long a page found not to be kept is remembered as such ("hit-for-miss", as Varnish
/// calls it). Without the note, every request for a page no cache may keep would take the
/// lookup's transaction in turn, each waiting until the one before has heard from the
/// origin: concurrent requests for a popular private page would reach the origin one at a
/// time.
///
/// The note is stored stale from the start, usable for this long
/// (`stale_while_revalidate`): a transactional lookup that finds it is either the one
/// request designated to freshen it, which goes to the origin and stores its answer if that
/// one may be kept (a private answer to one visitor does not keep the page uncached for the
/// others), or any other, which passes at once without waiting. Fastly and Viceroy both hand
/// a stale-but-usable object to every concurrent lookup and the obligation to one.
const PASS_NOTE_TTL: Duration = Duration::from_secs(60);
/// A surrogate key on every rewritten page: purging it purges them all.
pub const ALL_PAGES_KEY: &str = "edge-rewriter";
/// Says how a response was served: `HIT`, `MISS` or `PASS`.
pub const X_CACHE: &str = "x-cache";

/// What a lookup found.
pub enum Lookup {
    /// A stored page: send it.
    Hit(Found),
    /// No page yet: this request fetches, rewrites and inserts it (others wait on it).
    Miss(Transaction),
    /// The cache could not be used (an error, or a wait past [`COLLAPSE_WAIT`]): fetch and
    /// rewrite without it.
    Unavailable(String),
    /// The page was recently found not to be kept, and why, and another request is already
    /// finding out whether it may be kept now: fetch without waiting on it.
    Pass(String),
}

/// Looks `page_key` up, with the client's request headers for the origin's `Vary`.
pub fn lookup(page_key: &PageKey, request: &Request) -> Lookup {
    let key = CacheKey::copy_from_slice(page_key.key());
    let mut builder = Transaction::lookup(key).timeout(COLLAPSE_WAIT);
    for (name, value) in request.get_headers() {
        builder = builder.header(name, value);
    }
    let transaction = match builder.execute() {
        Ok(transaction) => transaction,
        Err(err) => return Lookup::Unavailable(format!("cache lookup failed: {err}")),
    };
    match transaction.found() {
        Some(found) if !transaction.must_insert_or_update() => {
            match serde_json::from_slice::<PassNote>(&found.user_metadata()) {
                Ok(note) => Lookup::Pass(format!("{} (noted {} s ago)", note.pass, found.age().as_secs())),
                Err(_) => Lookup::Hit(found),
            }
        }
        _ => Lookup::Miss(transaction),
    }
}

/// What a pass note holds: why the page is not kept.
#[derive(Debug, Serialize, Deserialize)]
struct PassNote {
    pass: String,
}

/// Notes for [`PASS_NOTE_TTL`] that this page key is not kept, and why, so the next requests
/// go to the origin at once instead of queueing on the transaction, while one at a time may
/// still store the page. An empty stale object whose metadata says so; purged with every
/// rewritten page.
pub fn note_pass(transaction: Transaction, why: &str) {
    let note = match serde_json::to_vec(&PassNote { pass: why.to_owned() }) {
        Ok(note) => Bytes::from(note),
        Err(_) => {
            let _ = transaction.cancel_insert_or_update();
            return;
        }
    };
    let noted = transaction
        .insert(Duration::ZERO)
        .stale_while_revalidate(PASS_NOTE_TTL)
        .surrogate_keys([ALL_PAGES_KEY])
        .user_metadata(note)
        .execute()
        .map_err(|err| err.to_string())
        .and_then(|body| body.finish().map_err(|err| err.to_string()));
    if let Err(err) = noted {
        log::warn!("noting a page that is not kept failed: {err}");
    }
}

/// A rewritten response's status and headers, kept beside its body.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
}

/// What a miss inserts: for how long, under which surrogate keys, varying on what.
pub struct Insert {
    pub transaction: Transaction,
    pub ttl: Duration,
    /// The origin's `Surrogate-Key` values (purging one purges its rewrites too).
    pub surrogate_keys: Vec<String>,
    /// The request headers the origin's `Vary` names.
    pub vary_by: Vec<HeaderName>,
    /// The page's key: names its own surrogate key.
    pub page_key: PageKey,
}

/// The object's own surrogate key, to purge it if its body fails half-way.
pub fn object_key(page_key: &PageKey) -> String {
    format!("er-{}", page_key.short())
}

impl Insert {
    /// Starts inserting: `response` (its headers final) is sent to the client with the
    /// cache's copy of the body as it is written; the returned writer takes the body.
    ///
    /// `for_this_client` adds what only this client may get (a visitor's cookie): after the
    /// headers are stored, so the cache never hands it to anyone else.
    pub fn start(
        self,
        mut response: Response,
        for_this_client: impl FnOnce(&mut Response),
    ) -> Result<StreamingBody, Box<(Response, String)>> {
        let stored = Stored {
            status: response.get_status().as_u16(),
            headers: response
                .get_headers()
                .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
                .collect(),
        };
        let metadata = match serde_json::to_vec(&stored) {
            Ok(metadata) => Bytes::from(metadata),
            Err(err) => return Err(Box::new((response, format!("the headers could not be stored: {err}")))),
        };
        let object = object_key(&self.page_key);
        // Fastly accepts printable ASCII keys; Viceroy refuses the whole insert otherwise.
        let keys: Vec<&str> = [ALL_PAGES_KEY, object.as_str()]
            .into_iter()
            .chain(self.surrogate_keys.iter().map(String::as_str))
            .filter(|key| !key.is_empty() && key.bytes().all(|b| (0x21..=0x7e).contains(&b)))
            .collect();
        let mut builder = self.transaction.insert(self.ttl).surrogate_keys(keys).user_metadata(metadata);
        // An empty `vary_by` is refused (Viceroy answers ERROR): only when there is something.
        if !self.vary_by.is_empty() {
            builder = builder.vary_by(self.vary_by.iter());
        }
        match builder.execute_and_stream_back() {
            Ok((writer, found)) => match found.to_stream() {
                Ok(body) => {
                    response.set_body(body);
                    response.set_header(X_CACHE, "MISS");
                    for_this_client(&mut response);
                    response.send_to_client();
                    Ok(writer)
                }
                Err(err) => {
                    let _ = writer.abandon();
                    Err(Box::new((response, format!("the stored body cannot be streamed back: {err}"))))
                }
            },
            Err(err) => Err(Box::new((response, format!("the insert was refused: {err}")))),
        }
    }
}

/// Whether a hit answers `If-None-Match` with 304: the stored ETag is among the client's.
fn not_modified(etag: Option<&HeaderValue>, if_none_match: Option<&str>) -> bool {
    let (Some(etag), Some(wanted)) = (etag.and_then(|v| v.to_str().ok()), if_none_match) else { return false };
    let bare = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    wanted.trim() == "*" || wanted.split(',').any(|tag| bare(tag) == bare(etag))
}

/// A stored page, ready to send.
pub struct Hit {
    /// The stored status and headers, the stored body streamed by the host (or none, for a
    /// 304), and `Age` and `X-Cache`.
    pub response: Response,
    /// The status the page was rewritten for (the origin's).
    pub status: u16,
    /// The `Content-Type` it was rewritten for.
    pub content_type: Option<String>,
}

/// The response a hit sends, and the facts of the response the page was made from.
pub fn hit_response(found: &Found, if_none_match: Option<&str>) -> Result<Hit, String> {
    let stored: Stored = serde_json::from_slice(&found.user_metadata())
        .map_err(|err| format!("the stored headers are unreadable: {err}"))?;
    let mut response = Response::from_status(stored.status);
    for (name, value) in &stored.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(value)) {
            response.append_header(name, value);
        }
    }
    response.set_header("age", found.age().as_secs().to_string());
    response.set_header(X_CACHE, "HIT");
    let content_type = response.get_header_str("content-type").map(str::to_owned);
    if not_modified(response.get_header("etag"), if_none_match) {
        let mut not_modified = Response::from_status(304);
        for name in ["etag", "cache-control", "vary", "age", X_CACHE] {
            if let Some(value) = response.get_header(name) {
                not_modified.set_header(name, value.clone());
            }
        }
        return Ok(Hit { response: not_modified, status: stored.status, content_type });
    }
    let body = found.to_stream().map_err(|err| format!("the stored body cannot be read: {err}"))?;
    response.set_body(body);
    Ok(Hit { response, status: stored.status, content_type })
}

/// The request headers an origin's `Vary` names, as the cache varies on them. The client's
/// `Accept-Encoding` is left out: the rewrite decodes the origin's encoding and Fastly
/// compresses for each client, so the stored page does not depend on it.
pub fn vary_by(vary: Option<&str>) -> Vec<HeaderName> {
    vary.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .filter_map(|name| HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).ok())
        .filter(|name| *name != ACCEPT_ENCODING)
        .collect()
}

/// A whole object no one else may get (a page whose rewrite stopped at the CPU budget):
/// purged as soon as it is written, while the client that made it reads it to its end.
pub fn unkeep(page_key: &PageKey) {
    if let Err(err) = fastly::http::purge::purge_surrogate_key(&object_key(page_key)) {
        log::error!("purging a page that must not be kept failed: {err}");
    }
}

/// A half-written object: abandon it and purge it, so no later request gets its cut body
/// (Viceroy, at least, keeps an abandoned object as found and fresh).
pub fn discard(writer: StreamingBody, page_key: &PageKey) {
    if let Err(err) = writer.abandon() {
        log::warn!("abandoning a half-written page failed: {err}");
    }
    unkeep(page_key);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly() {
        let etag = HeaderValue::from_static("W/\"v1-er0011223344556677\"");
        assert!(not_modified(Some(&etag), Some("W/\"v1-er0011223344556677\"")));
        assert!(not_modified(Some(&etag), Some("\"x\", \"v1-er0011223344556677\"")));
        assert!(not_modified(Some(&etag), Some("*")));
        assert!(!not_modified(Some(&etag), Some("W/\"v1\"")));
        assert!(!not_modified(None, Some("*")));
    }

    /// Runs inside Viceroy (its Core Cache): a page stored under one rule set is not found
    /// under another, the way an editor's change to the store makes the next request a miss
    /// with the new output. (Viceroy loads its config stores once, so an end-to-end test
    /// cannot change them under a running service; two local stores stand in.)
    #[test]
    fn a_changed_rule_set_is_another_key() {
        use crate::edge::rules_source::RuleSource;
        use edge_rewriter::RequestContext;

        let mut source = RuleSource::default();
        let live = source.live();
        let updated = source.live_from_store("edge_rewriter_rules_updated");
        let request = RequestContext::for_url("GET", "https://www.example.com/cache-test").unwrap();
        let before = PageKey::of(&edge_rewriter::Prospect::of(&live, &request), "live");
        let after = PageKey::of(&edge_rewriter::Prospect::of(&updated, &request), "live");
        assert_ne!(before, after);

        let client = Request::get("https://www.example.com/cache-test");
        let Lookup::Miss(transaction) = lookup(&before, &client) else { panic!("an empty cache") };
        let mut writer = transaction.insert(Duration::from_secs(60)).execute().unwrap();
        std::io::Write::write_all(&mut writer, b"<p>stored</p>").unwrap();
        writer.finish().unwrap();
        assert!(matches!(lookup(&before, &client), Lookup::Hit(_)), "the same rules: a hit");
        match lookup(&after, &client) {
            Lookup::Miss(transaction) => transaction.cancel_insert_or_update().unwrap(),
            _ => panic!("other rules: a miss"),
        }
    }

    #[test]
    fn vary_leaves_out_accept_encoding() {
        let names = vary_by(Some("Accept-Encoding, Cookie,accept-language"));
        assert_eq!(names.iter().map(HeaderName::as_str).collect::<Vec<_>>(), ["cookie", "accept-language"]);
    }
}
