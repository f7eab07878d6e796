//! The CPU meter: where one rewrite stands against its deadline, checked where the work is.
//!
//! Every lol_html handler the plan registers calls [`CpuMeter::element`] or
//! [`CpuMeter::text`] first, with an estimate of the work it is about to do (from the cost
//! model, [`crate::rules::cost`]); the meter adds it up and reads the clock once the sum
//! reaches [`CpuDeadline::check_every_ns`], so a reading costs one hostcall per fraction of
//! a millisecond of work, whatever the rules. Between the slices the input is fed in
//! ([`CpuMeter::between_slices`]) the clock is read too: that bounds lol_html's own work
//! (parsing, matching selectors) where no handler runs.
//!
//! Past the deadline the rewrite stops at a sound point:
//!
//! * with no element open that a rule removes, replaces, renames or unwraps, the next
//!   element or comment handler fails with [`CpuStop::Budget`]: lol_html flushes the rest of
//!   its chunk as it came (a graceful bail-out), and the caller passes the rest of the page
//!   through unread;
//! * with such elements open, the page goes on in the cheapest mode that can finish them
//!   ([`State::Finishing`]): every handler skips its work, only the end tags of those
//!   elements are handled, then the stop happens as above;
//! * if finishing them would run past [`CpuDeadline::finish_by_ms`] (a `replace` on `body` of
//!   a huge page), the rewrite fails with [`CpuStop::Unfinishable`]: the caller ends the
//!   response visibly incomplete rather than send a whole page of the wrong structure.
//!
//! Text handlers never fail (lol_html may have sent part of a text node already, and a
//! failure there would repeat it): past the deadline they skip, and the stop comes at the
//! next element, comment or slice.

use std::cell::Cell;

/// When a rewrite must stop to stay within its CPU budget, read from `clock` (milliseconds
/// of CPU as the platform counts them: on Fastly, since the instance started).
#[derive(Debug, Clone, Copy)]
pub struct CpuDeadline {
    /// Milliseconds of CPU used so far.
    pub clock: fn() -> u64,
    /// The reading at which to stop rewriting.
    pub stop_at_ms: u64,
    /// The reading by which elements a rule changes, open at the stop, must be finished;
    /// past it the response is abandoned (visibly incomplete) instead.
    pub finish_by_ms: u64,
    /// Estimated nanoseconds of handler work between two readings of the clock.
    pub check_every_ns: u32,
}

/// Estimated handler work between two clock readings by default: 0.2 ms, so a stop comes
/// at most that much work after the reading that passed the deadline (plus the clock's own
/// 1 ms resolution).
pub const CHECK_EVERY_NS: u32 = 200_000;

impl CpuDeadline {
    /// A deadline at `stop_at_ms`, with `finish_by_ms` to finish changed elements open then.
    pub fn new(clock: fn() -> u64, stop_at_ms: u64, finish_by_ms: u64) -> Self {
        Self { clock, stop_at_ms, finish_by_ms: finish_by_ms.max(stop_at_ms), check_every_ns: CHECK_EVERY_NS }
    }

    /// Whether the deadline has passed.
    pub fn passed(&self) -> bool {
        (self.clock)() >= self.stop_at_ms
    }
}

/// Where a rewrite stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Rewriting.
    Running,
    /// Past the deadline with changed elements open: handlers skip their work until the
    /// end tags of those elements are seen.
    Finishing,
    /// Past the deadline with nothing open: stop at the next sound point.
    Due,
    /// Stopped (lol_html bailed out or is being ended): handlers leave everything as it is.
    Stopped,
    /// Past `finish_by_ms` with changed elements still open.
    Unfinishable,
}

/// What a handler does with the element, comment or text in hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Go {
    /// Its work.
    Apply,
    /// Nothing: the page passes as it came.
    Skip,
}

/// What the caller does before the next slice of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Feed it to lol_html.
    Go,
    /// Stop rewriting: pass it and the rest through unchanged.
    Stop,
    /// Give up the response: it cannot be finished soundly in time.
    Unfinishable,
}

/// Why a handler stopped lol_html.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CpuStop {
    /// The deadline passed with nothing open: the rest passes through unchanged.
    #[error("the request reached its CPU budget (`cpu_budget_ms`)")]
    Budget,
    /// The deadline passed inside elements a rule changes, and finishing them did not fit.
    #[error(
        "the request reached its CPU budget (`cpu_budget_ms`) inside an element a rule removes, replaces, renames \
         or unwraps, and finishing it did not fit in the budget's headroom"
    )]
    Unfinishable,
}

/// Slices fed to lol_html once the deadline is near or past: the stop comes within this
/// many bytes of parsing after it is due.
pub(crate) const SMALL_SLICE: usize = 2 << 10;
/// How near the deadline (ms) slices become small.
const NEAR_MS: u64 = 3;
/// Estimated work (ns) finishing must have done before it may be given up: under Viceroy
/// the clock is wall time, and a guest the machine set aside for a few milliseconds would
/// otherwise see finishing a 200-byte element "take" longer than the allowance. On Fastly
/// the clock is CPU time and the two agree.
const MIN_FINISHING_NS: u64 = 1_000_000;

/// The meter one rewrite's handlers share.
#[derive(Debug)]
pub(crate) struct CpuMeter {
    deadline: Option<CpuDeadline>,
    /// Estimated nanoseconds of handler work since the clock was last read.
    work: Cell<u32>,
    state: Cell<State>,
    /// Elements a rule removes, replaces, renames or unwraps whose end tag is still to come.
    open: Cell<u32>,
    /// The last reading of the clock.
    last_reading: Cell<u64>,
    /// Bytes fed to lol_html at once while the deadline is far.
    slice: usize,
    /// Estimated work per byte fed (the plan's, by the cost model).
    ns_per_byte: u64,
    /// Estimated work done while finishing.
    finishing_ns: Cell<u64>,
}

impl CpuMeter {
    /// A meter for `deadline` (none: it never stops), feeding `slice` bytes at a time while
    /// the deadline is far, each byte estimated at `ns_per_byte` of work.
    pub(crate) fn new(deadline: Option<CpuDeadline>, slice: usize, ns_per_byte: u64) -> Self {
        Self {
            deadline,
            work: Cell::new(0),
            state: Cell::new(State::Running),
            open: Cell::new(0),
            last_reading: Cell::new(0),
            slice: slice.max(1),
            ns_per_byte,
            finishing_ns: Cell::new(0),
        }
    }

    /// `bytes` were fed to lol_html: while finishing, that is finishing's work.
    pub(crate) fn fed(&self, bytes: usize) {
        if self.state.get() == State::Finishing {
            self.add_finishing(bytes as u64 * self.ns_per_byte);
        }
    }

    fn add_finishing(&self, ns: u64) {
        self.finishing_ns.set(self.finishing_ns.get().saturating_add(ns));
    }

    /// For an element or comment handler about to do `cost_ns` of work: whether to do it,
    /// or the error that stops lol_html here (the element's start tag and the rest of the
    /// chunk then pass as they came).
    #[inline]
    pub(crate) fn element(&self, cost_ns: u32) -> Result<Go, CpuStop> {
        if self.state.get() == State::Running && !self.reading_due(cost_ns) {
            return Ok(Go::Apply);
        }
        self.settle(cost_ns, true)
    }

    /// For a text handler about to do `cost_ns` of work: whether to do it. Never stops
    /// lol_html (see the module's doc).
    #[inline]
    pub(crate) fn text(&self, cost_ns: u32) -> Go {
        if self.state.get() == State::Running && !self.reading_due(cost_ns) {
            return Go::Apply;
        }
        self.settle(cost_ns, false).unwrap_or(Go::Skip)
    }

    /// Whether handlers that change the page at its end (or around a cut) must leave it as
    /// it is: the rewrite is past its deadline.
    pub(crate) fn stopping(&self) -> bool {
        self.state.get() != State::Running
    }

    /// The state after the clock was read (when due) with `cost_ns` more work.
    #[cold]
    fn settle(&self, cost_ns: u32, may_stop: bool) -> Result<Go, CpuStop> {
        let state = match self.state.get() {
            // `element` and `text` found a reading due.
            State::Running => self.read_clock(),
            State::Finishing => {
                self.add_finishing(u64::from(cost_ns));
                if self.reading_due(cost_ns) { self.read_clock() } else { State::Finishing }
            }
            state => state,
        };
        match state {
            State::Running => Ok(Go::Apply),
            State::Due if may_stop => {
                self.state.set(State::Stopped);
                Err(CpuStop::Budget)
            }
            State::Unfinishable if may_stop => Err(CpuStop::Unfinishable),
            State::Finishing | State::Due | State::Stopped | State::Unfinishable => Ok(Go::Skip),
        }
    }

    /// Before the next slice of input (the clock is read each time).
    pub(crate) fn between_slices(&self) -> Verdict {
        if self.deadline.is_none() {
            return Verdict::Go;
        }
        self.work.set(0);
        match self.read_clock() {
            State::Running | State::Finishing => Verdict::Go,
            State::Due | State::Stopped => Verdict::Stop,
            State::Unfinishable => Verdict::Unfinishable,
        }
    }

    /// How many bytes to feed lol_html next: fewer once the deadline is near or past.
    pub(crate) fn slice_len(&self) -> usize {
        let Some(deadline) = self.deadline else { return self.slice };
        let near = self.last_reading.get() + NEAR_MS >= deadline.stop_at_ms;
        if near || self.state.get() != State::Running { self.slice.min(SMALL_SLICE) } else { self.slice }
    }

    /// An element a rule removes, replaces, renames or unwraps has started; [`Self::closed`]
    /// is called at its end tag.
    pub(crate) fn opened(&self) {
        self.open.set(self.open.get() + 1);
    }

    /// The end tag of an element [`Self::opened`] was seen: once none is open past the
    /// deadline, the rewrite may stop.
    pub(crate) fn closed(&self) {
        self.open.set(self.open.get().saturating_sub(1));
        if self.open.get() == 0 && self.state.get() == State::Finishing {
            self.state.set(State::Due);
        }
    }

    /// Rewriting stops here: handlers run from now on (lol_html ending) leave the page alone.
    pub(crate) fn stop(&self) {
        if self.state.get() != State::Unfinishable {
            self.state.set(State::Stopped);
        }
    }

    /// Whether the rewrite ran out of time with changed elements unfinished.
    pub(crate) fn unfinishable(&self) -> bool {
        self.state.get() == State::Unfinishable
    }

    /// Adds `cost_ns`; true when the clock should be read.
    #[inline]
    fn reading_due(&self, cost_ns: u32) -> bool {
        let Some(deadline) = &self.deadline else { return false };
        let work = self.work.get().saturating_add(cost_ns);
        let due = work >= deadline.check_every_ns;
        self.work.set(if due { 0 } else { work });
        due
    }

    /// Reads the clock and moves on from `Running` or `Finishing` as the reading says.
    fn read_clock(&self) -> State {
        let Some(deadline) = &self.deadline else { return self.state.get() };
        let now = (deadline.clock)();
        self.last_reading.set(now);
        let next = match self.state.get() {
            State::Running if now >= deadline.stop_at_ms => {
                if self.open.get() == 0 {
                    State::Due
                } else {
                    State::Finishing
                }
            }
            State::Finishing if now >= deadline.finish_by_ms && self.finishing_ns.get() >= MIN_FINISHING_NS => {
                State::Unfinishable
            }
            state => state,
        };
        self.state.set(next);
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static NOW: Cell<u64> = const { Cell::new(0) };
    }

    fn now() -> u64 {
        NOW.with(Cell::get)
    }

    fn set_now(ms: u64) {
        NOW.with(|now| now.set(ms));
    }

    fn meter(check_every_ns: u32) -> CpuMeter {
        set_now(0);
        let deadline = CpuDeadline { check_every_ns, ..CpuDeadline::new(now, 10, 15) };
        CpuMeter::new(Some(deadline), 64 << 10, 10)
    }

    #[test]
    fn the_clock_is_read_once_per_check_interval_of_work() {
        let meter = meter(1_000);
        set_now(10);
        // 999 ns of work: no reading yet, so the deadline is not seen.
        for _ in 0..999 {
            assert_eq!(meter.element(1), Ok(Go::Apply));
        }
        assert_eq!(meter.element(1), Err(CpuStop::Budget), "the reading at 1,000 ns sees it");
        assert!(meter.stopping());
        assert_eq!(meter.element(1), Ok(Go::Skip), "stopped once: lol_html has bailed out");
    }

    #[test]
    fn open_changed_elements_are_finished_before_the_stop() {
        let meter = meter(0);
        meter.opened();
        meter.opened();
        set_now(10);
        assert_eq!(meter.element(5), Ok(Go::Skip), "finishing: handlers skip, nothing stops yet");
        assert_eq!(meter.text(5), Go::Skip);
        assert_eq!(meter.between_slices(), Verdict::Go);
        assert_eq!(meter.slice_len(), SMALL_SLICE);
        meter.closed();
        assert_eq!(meter.element(5), Ok(Go::Skip), "one still open");
        meter.closed();
        assert_eq!(meter.text(5), Go::Skip, "text never stops lol_html");
        assert_eq!(meter.element(5), Err(CpuStop::Budget), "the next sound point");
    }

    #[test]
    fn finishing_past_its_allowance_is_unfinishable() {
        let meter = meter(0);
        meter.opened();
        set_now(10);
        assert_eq!(meter.between_slices(), Verdict::Go);
        set_now(15);
        assert_eq!(meter.text(1), Go::Skip);
        assert!(!meter.unfinishable(), "the clock jumped, but finishing has hardly begun (a preempted guest)");
        meter.fed(200_000);
        assert_eq!(meter.text(1), Go::Skip);
        assert!(meter.unfinishable());
        assert_eq!(meter.element(1), Err(CpuStop::Unfinishable));
        assert_eq!(meter.between_slices(), Verdict::Unfinishable);
    }

    #[test]
    fn without_a_deadline_nothing_stops() {
        let meter = CpuMeter::new(None, 4096, 10);
        for _ in 0..10_000 {
            assert_eq!(meter.element(u32::MAX), Ok(Go::Apply));
        }
        assert_eq!(meter.between_slices(), Verdict::Go);
        assert_eq!(meter.slice_len(), 4096);
    }

    #[test]
    fn slices_shrink_near_the_deadline() {
        let meter = meter(0);
        set_now(1);
        assert_eq!(meter.between_slices(), Verdict::Go);
        assert_eq!(meter.slice_len(), 64 << 10);
        set_now(8);
        assert_eq!(meter.between_slices(), Verdict::Go);
        assert_eq!(meter.slice_len(), SMALL_SLICE);
        set_now(10);
        assert_eq!(meter.between_slices(), Verdict::Stop);
    }
}
