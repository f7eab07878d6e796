//! Includes on Fastly: every fragment a page's plan needs is sent at once, before (and so
//! while) the origin is asked, with `send_async`; the rewrite then takes each response at
//! its insertion point. The include's timeout bounds the whole fragment: its response, then
//! every read of its body ([`TimedBody`]), all counted from when it was sent.
//!
//! Fragments go through Fastly's cache like any backend request, so their own freshness
//! applies. (Viceroy has no HTTP cache for backend requests: locally every include reaches
//! its backend.) They come from the page's origin, a backend the service declares, or a site
//! of the sites map; the request names none of them.

use std::thread::sleep;
use std::time::{Duration, Instant};

use edge_rewriter::include::{Fragment, FragmentFrom, FragmentSource, PlannedInclude};
use fastly::http::request::{PendingRequest, PollResult};
use fastly::{Backend, Request};

use super::instance;
use super::sites::{self, Route};

mod timed_body;

use timed_body::TimedBody;

/// Fragments on their way: one slot per include of the plan.
#[derive(Default)]
pub struct Fetches {
    slots: Vec<Slot>,
    /// The backend requests sent for these includes (each counts against the platform's
    /// per-execution limit).
    pub sent: usize,
}

enum Slot {
    // A `PendingRequest` is large; slots are few (at most 31) and live for one request.
    Sent { pending: Box<PendingRequest>, at: Instant, key: (FragmentFrom, String) },
    Failed(String),
    Taken,
}

impl Fetches {
    /// Sends a request for each include in `includes`, in order, while `room` (backend
    /// requests this request may still make) lasts; the others fail with why. `host` is the
    /// page's host, `origin` its backend.
    pub fn send(includes: &[PlannedInclude], host: &str, origin: &Backend, room: usize) -> Self {
        let mut fetches = Fetches::default();
        for include in includes {
            let slot = if let Some(why) = &include.unusable {
                // Never requested: the splicer gives it its fallback.
                Slot::Failed(why.clone())
            } else if fetches.sent >= room {
                Slot::Failed(format!(
                    "over the include budget: a page may send {room} fragment requests (the platform allows 32 \
                     backend requests per execution, the origin's included)"
                ))
            } else {
                match send_one(include, host, origin) {
                    Ok(pending) => {
                        fetches.sent += 1;
                        instance::count_backend_request();
                        Slot::Sent {
                            pending: Box::new(pending),
                            at: Instant::now(),
                            key: (include.from.clone(), include.path.clone()),
                        }
                    }
                    Err(why) => Slot::Failed(why),
                }
            };
            fetches.slots.push(slot);
        }
        fetches
    }

    /// Keeps the requests already sent for the same fragments as `includes` (a plan made
    /// again once the response is known), and sends the rest: the fetches for `includes`.
    pub fn resend_for(mut self, includes: &[PlannedInclude], host: &str, origin: &Backend, room: usize) -> Self {
        let mut next = Fetches { slots: Vec::with_capacity(includes.len()), sent: self.sent };
        for include in includes {
            let key = (include.from.clone(), include.path.clone());
            let reused =
                self.slots.iter_mut().find(|slot| matches!(slot, Slot::Sent { key: sent, .. } if *sent == key));
            match reused {
                Some(slot) => next.slots.push(std::mem::replace(slot, Slot::Taken)),
                None => {
                    let mut one =
                        Fetches::send(std::slice::from_ref(include), host, origin, room.saturating_sub(next.sent));
                    next.sent += one.sent;
                    next.slots.append(&mut one.slots);
                }
            }
        }
        next
    }
}

fn send_one(include: &PlannedInclude, page_host: &str, origin: &Backend) -> Result<PendingRequest, String> {
    let (backend, host) = match &include.from {
        FragmentFrom::Origin => (origin.clone(), page_host.to_owned()),
        FragmentFrom::Backend(name) => match Backend::from_name(name) {
            Ok(backend) if backend.exists() => (backend, page_host.to_owned()),
            _ => return Err(format!("the service has no backend named {name:?}")),
        },
        FragmentFrom::Site(site) => match sites::route(site) {
            Route::To(backend) => (backend, site.clone()),
            Route::UnknownHost => return Err(format!("{site:?} is not in the sites map")),
            Route::Broken(why) => return Err(why),
        },
    };
    let url = format!("http://{host}{}", include.path);
    let mut request = Request::get(url);
    request.set_header("host", &host);
    request.set_header("accept", "text/html, text/plain;q=0.9, */*;q=0.5");
    request.set_header("accept-encoding", "gzip");
    request.set_auto_decompress_gzip(true);
    request.send_async(backend).map_err(|err| format!("sending the fragment request failed: {err}"))
}

/// How often a wait for a fragment looks again: soon at first, then less often, so a long
/// wait costs few wake-ups (time spent asleep is not vCPU).
fn poll_interval(waited: Duration) -> Duration {
    match waited.as_millis() {
        0..10 => Duration::from_millis(1),
        10..100 => Duration::from_millis(4),
        _ => Duration::from_millis(10),
    }
}

impl FragmentSource for Fetches {
    fn fragment(&mut self, index: usize, include: &PlannedInclude) -> Fragment {
        let Some(slot) = self.slots.get_mut(index) else {
            return Fragment::Unavailable("no request was sent for it".into());
        };
        let (mut pending, sent_at) = match std::mem::replace(slot, Slot::Taken) {
            Slot::Sent { pending, at, .. } => (*pending, at),
            Slot::Failed(why) => return Fragment::Unavailable(why),
            Slot::Taken => return Fragment::Unavailable("already inserted".into()),
        };
        // `PendingRequest` has no timed wait; polling with growing sleeps stands in for one.
        let deadline = sent_at + include.timeout;
        let waiting = Instant::now();
        let response = loop {
            match pending.poll() {
                PollResult::Done(result) => break result,
                PollResult::Pending(still) => pending = still,
            }
            let now = Instant::now();
            if now >= deadline {
                return Fragment::timed_out(include);
            }
            sleep(poll_interval(now - waiting).min(deadline - now));
        };
        match response {
            Ok(mut response) => Fragment::Response {
                status: response.get_status().as_u16(),
                content_type: response.get_header_str("content-type").map(str::to_owned),
                content_length: response.get_header_str("content-length").and_then(|length| length.trim().parse().ok()),
                // The rest of the same time for the body: a fragment that sends its headers
                // and then trickles is cut (or replaced) when the time is up.
                body: Box::new(TimedBody::new(response.take_body().into_handle(), deadline, include.timeout)),
            },
            Err(err) => Fragment::Unavailable(format!("the fragment request failed: {err}")),
        }
    }
}
