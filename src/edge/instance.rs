//! One wasm instance's life: the requests it serves (Fastly's sandbox reuse), what it keeps
//! between them, and when it stops taking more.
//!
//! Fastly gives one *execution* 50 ms of vCPU and does not say whether the requests a reused
//! sandbox serves share it. We take the strict reading: the CPU budget (`limits`) covers the
//! whole instance. `elapsed_vcpu_ms` counts from the instance's start, so a rewrite stops at
//! the budget whichever request is running, and the instance takes no further request once
//! it has used half of it, so each request it takes still has half the budget to work with.
//! Under the other reading (a budget per request) this is merely cautious.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use edge_rewriter::store::Limits;
use fastly::Request;
use fastly::compute_runtime::{elapsed_vcpu_ms, heap_memory_snapshot_mib};
use fastly::http::serve::{NextRequestOptions, RequestPromise};

/// Requests one instance may serve before it is recycled.
const MAX_REQUESTS: usize = 200;
/// How long an idle instance waits for another request before it exits.
const IDLE_TIMEOUT: Duration = Duration::from_secs(1);
/// An instance whose heap grew past this (MiB) is not reused.
const MAX_HEAP_MIB: u32 = 64;

/// Backend requests one execution may make (Fastly's limit; 10 on trial accounts). Under
/// the same strict reading as the CPU budget, the instance's requests share them.
pub const BACKEND_REQUEST_LIMIT: usize = 32;

/// Backend requests this instance has made (origin fetches and includes).
static BACKEND_REQUESTS: AtomicUsize = AtomicUsize::new(0);

/// Counts one backend request.
pub fn count_backend_request() {
    BACKEND_REQUESTS.fetch_add(1, Ordering::Relaxed);
}

/// Backend requests the instance may still make.
pub fn backend_requests_left() -> usize {
    BACKEND_REQUEST_LIMIT.saturating_sub(BACKEND_REQUESTS.load(Ordering::Relaxed))
}

/// vCPU milliseconds this instance has used since it started (0 if the platform cannot say).
pub fn vcpu_ms() -> u64 {
    elapsed_vcpu_ms().unwrap_or(0)
}

/// Why the instance takes no further request, if it should not.
pub fn reason_to_stop(served: usize, limits: &Limits) -> Option<String> {
    if served >= MAX_REQUESTS {
        return Some(format!("it served {served} requests"));
    }
    // The next request needs its origin fetch and may need every include a page may send.
    let needed = 1 + usize::from(limits.max_includes);
    if backend_requests_left() < needed {
        return Some(format!(
            "{} of its {BACKEND_REQUEST_LIMIT} backend requests are left, and a request may need {needed}",
            backend_requests_left()
        ));
    }
    let vcpu = vcpu_ms();
    if limits.cpu_deadline_ms().is_some_and(|budget| vcpu * 2 >= budget) {
        return Some(format!("it used {vcpu} ms of vCPU, half or more of its {} ms budget", limits.cpu_budget_ms));
    }
    // Unreadable usage counts as too much: better a new instance than an exhausted one.
    let heap = heap_memory_snapshot_mib().unwrap_or(u32::MAX);
    if heap > MAX_HEAP_MIB {
        return Some(format!("its heap is {heap} MiB"));
    }
    None
}

/// Waits for the instance's next request, up to the idle timeout.
pub fn next_request() -> Option<Request> {
    let promise = match RequestPromise::new(&NextRequestOptions::default().with_timeout(IDLE_TIMEOUT)) {
        Ok(promise) => promise,
        Err(err) => {
            log::warn!("cannot wait for another request: {err:?}");
            return None;
        }
    };
    promise.wait().ok()
}
