//! A backend response's body read against a deadline: each read waits for bytes no later
//! than the deadline, then fails with `TimedOut`.
//!
//! The SDK (fastly 0.13) has no timed read: `Body` and `BodyHandle` reads block until bytes
//! come, and a between-bytes timeout (fastly.toml, or a dynamic backend's builder) bounds
//! only the gaps, so a body that trickles a byte now and then is never cut by it. The host
//! does offer a timed wait: `fastly_async_io::select` takes body handles as well as pending
//! requests (an async item is ready when bytes or the end of the body can be read without
//! blocking), but the SDK keeps its wrapper crate-private. So the one hostcall is made here,
//! through fastly-sys (the SDK's own bindings, pinned to the SDK's version).
//!
//! Viceroy 0.22 implements it (`AsyncItem::Body` awaits a chunk and puts it back), with one
//! difference from Fastly: if the body fails while `select` waits, Viceroy drops the error
//! and the next read sees the end of the body. Fastly returns the error on the read. Either
//! way the splicer keeps the page whole; only the log says `inserted` instead of `cut`.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use fastly::handle::BodyHandle;

/// A body whose reads fail with `TimedOut` once `deadline` passes without bytes.
pub struct TimedBody {
    handle: BodyHandle,
    deadline: Instant,
    /// The include's timeout, for the message.
    timeout: Duration,
}

impl TimedBody {
    pub fn new(handle: BodyHandle, deadline: Instant, timeout: Duration) -> Self {
        Self { handle, deadline, timeout }
    }

    fn timed_out(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the body did not end within its timeout ({} ms)", self.timeout.as_millis()),
        )
    }
}

impl Read for TimedBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || !ready_within(&self.handle, left)? {
            return Err(self.timed_out());
        }
        self.handle.read(buf)
    }
}

/// Waits until `handle` can be read without blocking, no longer than `within`: `false` when
/// the time ran out first.
fn ready_within(handle: &BodyHandle, within: Duration) -> io::Result<bool> {
    // The hostcall reads 0 as "wait forever": at least 1 ms.
    let timeout_ms = u32::try_from(within.as_millis()).unwrap_or(u32::MAX).max(1);
    // SAFETY: `as_u32` only copies the handle's number; `handle` is borrowed, so it stays
    // open for the call, and the host checks the number it is given.
    let handles = [unsafe { handle.as_u32() }];
    let mut done = 0u32;
    // SAFETY: the pointer and length describe `handles`, which outlives the call, and `done`
    // is a valid place for the one u32 the host writes.
    let status = unsafe { fastly_sys::fastly_async_io::select(handles.as_ptr(), handles.len(), timeout_ms, &mut done) };
    if !status.is_ok() {
        return Err(io::Error::other(format!("waiting for the body failed: {status:?}")));
    }
    // The host signals a timeout with u32::MAX as the index.
    Ok(done != u32::MAX)
}
