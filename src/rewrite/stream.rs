//! The streaming driver: bytes in, rewritten bytes out, never a whole page in memory.
//!
//! [`Rewriter`] wraps lol_html over any [`std::io::Write`] sink; [`stream`] pumps a reader
//! through it. Both are what the Fastly adapter, the CLI and the tests share.
//!
//! A page the rewriter cannot handle within its memory limit is never cut short: lol_html's
//! graceful bail-out flushes what it holds unchanged, every later byte is copied through
//! untouched, and the [`Report`] (plus a log line) says why. A page that would take more CPU
//! than the request may use stops the same way at its [`CpuDeadline`], at a sound point
//! ([`crate::rewrite::meter`]): [`stream`] then leaves the rest of the input unread, for the
//! caller to pass on without reading it. Input is fed to lol_html in slices sized by the
//! plan's estimated cost, with the deadline checked between them and inside the handlers.

use std::cell::{Cell, RefCell};
use std::io::{self, BufWriter, Read, Write};
use std::rc::Rc;

use lol_html::errors::RewritingError;
use lol_html::{HtmlRewriter, MemorySettings, OutputSink};

use crate::http::charset::PageEncoding;
use crate::http::prescan::{Prescan, prescan};
use crate::rewrite::include::{FragmentSource, IncludeOutcome, NoFragments, Splicer};
use crate::rewrite::invalid_bytes::{Carry, Uncarry};
pub use crate::rewrite::meter::CpuDeadline;
use crate::rewrite::meter::{CpuMeter, CpuStop, SMALL_SLICE, Verdict};
use crate::rewrite::plan::{Plan, PlannedRule};

/// Knobs for one rewrite.
#[derive(Debug, Clone)]
pub struct RewriteOptions {
    /// Memory lol_html may hold for one page (partial tags, open elements). Past it the
    /// rewriter bails out and the rest of the page passes through unchanged.
    pub max_memory: usize,
    /// Size of the buffer [`stream`] reads into.
    pub read_buffer: usize,
    /// The page's encoding; output is written in the same one.
    pub encoding: PageEncoding,
    /// When to stop rewriting for lack of CPU; `None` never stops.
    pub cpu_deadline: Option<CpuDeadline>,
}

impl Default for RewriteOptions {
    fn default() -> Self {
        // 64 KiB reads: under Viceroy a 697 KB page rewrites about 4% faster than with 16 KiB
        // (fewer hostcalls and flushes; BENCHMARKS.md), and a read returns whatever has
        // arrived, so the first bytes leave no later.
        Self { max_memory: 4 << 20, read_buffer: 64 << 10, encoding: PageEncoding::Sniffed, cpu_deadline: None }
    }
}

/// What one rewrite did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Bytes fed in.
    pub bytes_in: u64,
    /// Bytes written to the sink.
    pub bytes_out: u64,
    /// For each rule that ran, in order: its id and how many elements it acted on.
    pub hits: Vec<(String, u64)>,
    /// The same for each shadow rule that ran: what it would have acted on.
    pub shadow_hits: Vec<(String, u64)>,
    /// Why rewriting stopped early, if it did; the rest of the page passed through unchanged.
    pub bail_out: Option<String>,
    /// Whether rewriting stopped at the CPU deadline, leaving the rest of the input unread
    /// for the caller to pass on.
    pub cpu_stop: bool,
    /// What became of each of the plan's includes, in order.
    pub includes: Vec<IncludeOutcome>,
}

/// A streaming rewriter over a sink: [`write`](Self::write) chunks, then
/// [`finish`](Self::finish), then take the sink back with [`into_parts`](Self::into_parts).
pub struct Rewriter<'r, W: Write> {
    stage: Stage<'r, W>,
    sink: SharedSink<W>,
    plan: &'r Plan<'r>,
    options: RewriteOptions,
    hits: Rc<[Cell<u64>]>,
    bytes_in: u64,
    bail_out: Option<String>,
    cpu_stop: bool,
    /// For a page known to be UTF-8: carries bytes that are not through lol_html.
    carry: Option<Carry>,
    /// The CPU deadline, asked by the handlers and between slices; once it says stop,
    /// handlers leave what lol_html flushes as it is.
    meter: Rc<CpuMeter>,
}

enum Stage<'r, W: Write> {
    /// The first bytes, held until the page's encoding is known: a byte-order mark ruled in
    /// or out and, when the headers name no charset, the `<meta>` prescan done (up to
    /// 1,024 bytes, and usually far fewer: it ends at the first `<meta charset>` or with
    /// the head).
    Sniffing(Vec<u8>),
    Rewriting(Box<HtmlRewriter<'r, SharedSink<W>>>),
    /// Copying input through unchanged: after a bail-out, or for a UTF-16 page.
    PassingThrough,
    Finished,
}

/// Why a page is in a charset the rewriter cannot work in, found from its first bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub(crate) struct PageCharsetError {
    reason: String,
}

impl PageCharsetError {
    fn new(reason: impl Into<String>) -> Self {
        Self { reason: reason.into() }
    }
}

/// Bytes needed to recognise a byte-order mark.
const BOM_LEN: usize = 3;

/// Whether `head`, the first bytes so far, settles the page's encoding.
fn encoding_known(head: &[u8], declared: PageEncoding) -> bool {
    if head.len() < BOM_LEN {
        return false;
    }
    let bom = matches!(head, [0xEF, 0xBB, 0xBF, ..] | [0xFE, 0xFF, ..] | [0xFF, 0xFE, ..]);
    bom || declared != PageEncoding::Sniffed || prescan(head, false) != Prescan::NeedMore
}

/// The encoding to rewrite a page in whose first bytes are `head`, or why it cannot be.
fn page_encoding(head: &[u8], declared: PageEncoding) -> Result<PageEncoding, PageCharsetError> {
    match head {
        [0xEF, 0xBB, 0xBF, ..] => return Ok(PageEncoding::Declared(encoding_rs::UTF_8)),
        [0xFE, 0xFF, ..] | [0xFF, 0xFE, ..] => {
            return Err(PageCharsetError::new(
                "the page starts with a UTF-16 byte-order mark, a charset the rewriter cannot work in",
            ));
        }
        _ => {}
    }
    if declared != PageEncoding::Sniffed {
        return Ok(declared);
    }
    match prescan(head, true) {
        Prescan::Declared(label) => match encoding_rs::Encoding::for_label_no_replacement(label.as_bytes()) {
            Some(encoding) if encoding.is_ascii_compatible() => Ok(PageEncoding::Declared(encoding)),
            Some(encoding) => Err(PageCharsetError::new(format!(
                "the page's <meta> declares {}, a charset that is not ASCII-compatible, and the headers name none",
                encoding.name()
            ))),
            None => Err(PageCharsetError::new(format!(
                "the page's <meta> declares the unknown charset {label:?}, and the headers name none"
            ))),
        },
        Prescan::None | Prescan::NeedMore => Ok(PageEncoding::Sniffed),
    }
}

/// The encoding the rewriter reads a page in, from its first bytes (a byte-order mark, then
/// the header's charset, then a `<meta>` in the first 1,024 bytes, else UTF-8), for tools
/// that show pages to people; `None` when the rewriter passes such a page through untouched.
pub fn page_charset(head: &[u8], declared: PageEncoding) -> Option<&'static encoding_rs::Encoding> {
    match page_encoding(head, declared) {
        Ok(PageEncoding::Declared(encoding)) => Some(encoding),
        Ok(PageEncoding::Sniffed) => Some(encoding_rs::UTF_8),
        Err(_) => None,
    }
}

impl<'r, W: Write> Rewriter<'r, W> {
    /// A rewriter applying `plan` (the rules for one request) and writing to `sink`.
    pub fn new(plan: &'r Plan<'r>, options: &RewriteOptions, sink: W) -> Self {
        // Slices of about a quarter of a millisecond of estimated work each: lol_html's own work
        // (parsing, matching selectors) between two readings of the clock stays small.
        let slice = match options.cpu_deadline {
            Some(_) => (SLICE_WORK_NS / plan.ns_per_byte().max(1)).clamp(SMALL_SLICE as u64, 64 << 10) as usize,
            None => usize::MAX,
        };
        let meter = Rc::new(CpuMeter::new(options.cpu_deadline, slice, plan.ns_per_byte()));
        Self {
            stage: Stage::Sniffing(Vec::with_capacity(BOM_LEN)),
            sink: SharedSink(Rc::new(RefCell::new(SinkState {
                writer: BufWriter::with_capacity(OUTPUT_BUFFER, sink),
                bytes_out: 0,
                error: None,
                uncarry: None,
                // Markers never reach the sink: without a source, includes get their fallback.
                splicer: (!plan.includes().is_empty())
                    .then(|| Splicer::new(plan.include_token(), plan.includes().to_vec(), Box::new(NoFragments))),
                meter: Rc::clone(&meter),
            }))),
            plan,
            options: options.clone(),
            hits: (0..plan.len()).map(|_| Cell::new(0)).collect(),
            bytes_in: 0,
            bail_out: None,
            cpu_stop: false,
            carry: None,
            meter,
        }
    }

    /// Takes the plan's fragments from `source` (the adapter's requests in flight, the CLI's
    /// files): each is streamed in where its rule puts it.
    pub fn with_fragments(self, source: Box<dyn FragmentSource>) -> Self {
        if let Some(splicer) = &mut self.sink.0.borrow_mut().splicer {
            splicer.set_source(source);
        }
        self
    }

    /// Rewrites one chunk of input. An error means the sink failed (or, never expected, the
    /// rewriter lost bytes): the output is incomplete and must not be finished as whole.
    pub fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.bytes_in += chunk.len() as u64;
        match &mut self.stage {
            Stage::Sniffing(head) => {
                head.extend_from_slice(chunk);
                if encoding_known(head, self.options.encoding) {
                    let head = std::mem::take(head);
                    self.start(&head)?;
                }
            }
            Stage::Rewriting(_) => self.rewrite_in_slices(chunk)?,
            Stage::PassingThrough => self.sink.0.borrow_mut().write_raw(chunk),
            Stage::Finished => return Err(io::Error::other("write after finish")),
        }
        self.sink.0.borrow_mut().take_error()
    }

    /// Feeds `chunk` to lol_html a slice at a time, asking the CPU meter before each: at the
    /// deadline (with no changed element open) the rest of the chunk passes as it came.
    fn rewrite_in_slices(&mut self, mut chunk: &[u8]) -> io::Result<()> {
        while !chunk.is_empty() {
            if !matches!(self.stage, Stage::Rewriting(_)) {
                // Stopped inside this chunk.
                self.sink.0.borrow_mut().write_raw(chunk);
                return Ok(());
            }
            match self.meter.between_slices() {
                Verdict::Go => {}
                Verdict::Stop => {
                    self.halt_for_cpu()?;
                    continue;
                }
                Verdict::Unfinishable => return Err(self.unfinishable()),
            }
            let (slice, rest) = split_slice(chunk, self.meter.slice_len());
            self.rewrite(slice)?;
            self.meter.fed(slice.len());
            chunk = rest;
        }
        Ok(())
    }

    /// Whether, before reading more input, the rewrite should stop for lack of CPU; an error
    /// when elements a rule changes cannot be finished in time.
    pub fn cpu_verdict(&mut self) -> io::Result<bool> {
        if self.cpu_stop {
            return Ok(true);
        }
        match self.meter.between_slices() {
            Verdict::Go => Ok(false),
            Verdict::Stop => Ok(true),
            Verdict::Unfinishable => Err(self.unfinishable()),
        }
    }

    /// Whether rewriting stopped at the CPU deadline, leaving the rest to pass through.
    pub fn cpu_stopped(&self) -> bool {
        self.cpu_stop
    }

    /// Whether the rewrite failed because elements a rule changes could not be finished
    /// within the CPU deadline's headroom: the output must be abandoned, never finished.
    pub fn cpu_unfinished(&self) -> bool {
        self.meter.unfinishable()
    }

    /// The error for a rewrite that cannot be finished soundly in time; logs why once.
    fn unfinishable(&mut self) -> io::Error {
        let reason = CpuStop::Unfinishable.to_string();
        if self.bail_out.is_none() {
            log::error!(
                "rewriting stopped after {} input bytes: {reason}; the response is ended visibly incomplete rather \
                 than as a page of the wrong structure",
                self.bytes_in
            );
            self.bail_out = Some(reason.clone());
        }
        self.stage = Stage::PassingThrough;
        io::Error::other(reason)
    }

    /// Notes (and logs, once) that rewriting stopped at the CPU deadline.
    fn note_cpu_stop(&mut self) {
        if self.cpu_stop || self.bail_out.is_some() {
            return;
        }
        let reason = CpuStop::Budget.to_string();
        log::warn!(
            "rewriting stopped after {} input bytes: {reason}; the rest of the page passes through unchanged",
            self.bytes_in
        );
        self.bail_out = Some(reason);
        self.cpu_stop = true;
    }

    /// Stops rewriting here, at a sound point (no element a rule changes is open): what
    /// lol_html holds (the start of a tag cut by the chunk's end, text a rule keeps back) is
    /// flushed as it is, with no handler changing it, and later input passes through.
    fn halt_for_cpu(&mut self) -> io::Result<()> {
        self.note_cpu_stop();
        self.cpu_stop = true;
        self.meter.stop();
        if let Stage::Sniffing(head) = &mut self.stage {
            let head = std::mem::take(head);
            self.stage = Stage::PassingThrough;
            self.sink.0.borrow_mut().write_raw(&head);
        }
        if let Stage::Rewriting(_) = self.stage {
            self.rewrite(&[])?;
        }
        if let Stage::Rewriting(html) = std::mem::replace(&mut self.stage, Stage::PassingThrough) {
            // At the end of input lol_html flushes a cut tag as it came; comment and
            // document-end handlers see the meter stopped and leave it so.
            if let Err(err) = html.end() {
                self.bail(err)?;
                self.stage = Stage::PassingThrough;
            }
        }
        Ok(())
    }

    /// Pushes what has been rewritten so far on to the client.
    pub fn flush(&mut self) -> io::Result<()> {
        self.sink.0.borrow_mut().writer.flush()
    }

    /// Ends the input: emits what lol_html still holds and flushes the sink.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Stage::Sniffing(head) = &mut self.stage {
            let head = std::mem::take(head);
            self.start(&head)?;
        }
        if let Stage::Rewriting(_) = self.stage {
            // A character cut by the end of the page: its bytes, carried.
            self.rewrite(&[])?;
        }
        if let Stage::Rewriting(html) = std::mem::replace(&mut self.stage, Stage::Finished)
            && let Err(err) = html.end()
        {
            self.bail(err)?;
        }
        if self.meter.stopping() && !self.cpu_stop {
            // The deadline passed while changed elements were being finished, and the page
            // ended first: complete, rewritten up to the deadline.
            self.note_cpu_stop();
            self.cpu_stop = false;
        }
        self.stage = Stage::Finished;
        self.sink.0.borrow_mut().finish_carried();
        self.sink.0.borrow_mut().finish_includes();
        self.sink.0.borrow_mut().take_error()?;
        self.flush()
    }

    /// Stops rewriting here, for lack of CPU, at a sound point: what lol_html holds (the
    /// start of a tag cut by the chunk's end, text a rule keeps back) is flushed as it is,
    /// with no handler changing it, and later input passes through unchanged. The caller
    /// should pass the rest of the page on without feeding it here, where it would still
    /// cost a copy.
    pub fn stop_for_cpu(&mut self) -> io::Result<()> {
        self.halt_for_cpu()?;
        self.sink.0.borrow_mut().finish_carried();
        // The caller passes the rest on itself, past this sink: nothing may stay held.
        self.sink.0.borrow_mut().finish_includes();
        self.sink.0.borrow_mut().take_error()?;
        self.flush()
    }

    /// The sink and the report. Call after [`finish`](Self::finish), or after an error to get
    /// the sink back and abandon it.
    pub fn into_parts(mut self) -> (W, Report) {
        // Drop lol_html first: it holds the other handle to the sink.
        self.stage = Stage::Finished;
        let (shadow, live): (Vec<_>, Vec<_>) =
            self.plan.rules.iter().zip(self.hits.iter()).partition(|(rule, _)| rule.shadow);
        let counts = |rules: Vec<(&PlannedRule<'_>, &Cell<u64>)>| {
            rules.into_iter().map(|(rule, hits)| (rule.id.to_owned(), hits.get())).collect()
        };
        let mut report = Report {
            bytes_in: self.bytes_in,
            bytes_out: self.sink.0.borrow().bytes_out,
            hits: counts(live),
            shadow_hits: counts(shadow),
            bail_out: self.bail_out.take(),
            cpu_stop: self.cpu_stop,
            includes: Vec::new(),
        };
        let state =
            Rc::into_inner(self.sink.0).expect("the rewriter's sink has no other owner once lol_html is dropped");
        let state = state.into_inner();
        // What happened to each include, however far the page got.
        report.includes = state.splicer.as_ref().map(Splicer::outcomes).unwrap_or_default();
        // Normally empty here (`finish` flushed it); after an error, what is still held goes
        // out if it can, as it would have written straight through.
        let sink = state.writer.into_inner().unwrap_or_else(|err| err.into_inner().into_parts().0);
        (sink, report)
    }

    /// Starts rewriting once the first bytes are in: a byte-order mark overrides any
    /// declared charset (as in browsers), then the header's charset, then a `<meta>` in
    /// the first bytes. A charset the rewriter cannot work in (UTF-16, ISO-2022-JP, an
    /// unknown one) means the page passes through untouched, never parsed as UTF-8.
    fn start(&mut self, head: &[u8]) -> io::Result<()> {
        let encoding = match page_encoding(head, self.options.encoding) {
            Ok(encoding) => encoding,
            Err(reason) => {
                log::warn!("{reason}; the page passes through unchanged");
                self.bail_out = Some(reason.to_string());
                self.stage = Stage::PassingThrough;
                self.sink.0.borrow_mut().write_raw(head);
                return Ok(());
            }
        };
        if encoding == PageEncoding::Declared(encoding_rs::UTF_8) {
            self.carry = Some(Carry::default());
        }
        if let (Some(splicer), PageEncoding::Declared(page)) = (&mut self.sink.0.borrow_mut().splicer, encoding) {
            splicer.encoding = page;
        }
        let memory = MemorySettings::new()
            .with_max_allowed_memory_usage(self.options.max_memory)
            .with_graceful_bail_out_on_memory_limit_exceeded(true);
        let settings = self
            .plan
            .settings(&self.hits, &self.meter)
            .with_memory_settings(memory)
            .with_graceful_bail_out_on_content_handler_error(true)
            .with_encoding(encoding.lol_html_encoding())
            // A header charset wins; without one, `<meta charset>` decides, as in browsers.
            .with_adjust_charset_on_meta_tag(encoding == PageEncoding::Sniffed)
            // Strict mode refuses ambiguous markup (`<select><xmp><script>`) by failing
            // mid-page with bytes already consumed: the page would be cut. Without it the
            // page is always complete; rules may then see such markup as text.
            .with_strict(false);
        self.stage = Stage::Rewriting(Box::new(HtmlRewriter::new(settings, self.sink.clone())));
        self.rewrite(head)
    }

    /// Feeds `chunk` to lol_html (empty at the end of the page, to release a cut
    /// character).
    fn rewrite(&mut self, chunk: &[u8]) -> io::Result<()> {
        let Stage::Rewriting(html) = &mut self.stage else { return Ok(()) };
        let carried = match &mut self.carry {
            Some(carry) => {
                let carried = carry.encode(chunk, chunk.is_empty());
                if carry.used {
                    self.sink.0.borrow_mut().carrying();
                }
                carried
            }
            None => std::borrow::Cow::Borrowed(chunk),
        };
        if carried.is_empty() {
            return Ok(());
        }
        if let Err(err) = html.write(&carried) {
            self.stage = Stage::PassingThrough;
            self.bail(err)?;
            // Bytes of a character cut by this chunk's end never reached lol_html.
            if let Some(carry) = self.carry.take() {
                self.sink.0.borrow_mut().write_raw(&carry.pending);
            }
        }
        Ok(())
    }

    /// Handles an error lol_html returned: a graceful bail-out (it has flushed everything it
    /// held, unchanged) switches to copying input through; anything else loses bytes.
    fn bail(&mut self, err: RewritingError) -> io::Result<()> {
        let reason = match &err {
            RewritingError::MemoryLimitExceeded(_) => {
                "the page needs more parser memory than the limit allows (a huge \
                                                       tag, attribute or comment, or very deep nesting)"
                    .to_owned()
            }
            RewritingError::ContentHandlerError(cause) => match cause.downcast_ref::<CpuStop>() {
                // lol_html has flushed the rest of its chunk as it came.
                Some(CpuStop::Budget) => {
                    self.note_cpu_stop();
                    self.meter.stop();
                    if !matches!(self.stage, Stage::Finished) {
                        self.stage = Stage::PassingThrough;
                    }
                    return Ok(());
                }
                Some(CpuStop::Unfinishable) => return Err(self.unfinishable()),
                None => format!("a rule failed: {cause}"),
            },
            other => {
                log::error!("rewriter failed after {} input bytes: {other}", self.bytes_in);
                return Err(io::Error::other(format!("rewriter failed: {other}")));
            }
        };
        log::warn!(
            "rewriting stopped after {} input bytes: {reason}; the rest of the page passes through unchanged",
            self.bytes_in
        );
        self.bail_out = Some(reason);
        if matches!(self.stage, Stage::Finished) {
            return Ok(());
        }
        self.stage = Stage::PassingThrough;
        Ok(())
    }
}

/// What the sink gathers before writing to the client: lol_html hands it a piece per token,
/// and one copy into this buffer is cheaper than a call down to the client's writer each
/// (on Fastly, a `write_all` loop into the body's own 8 KiB buffer, and a hostcall per 8
/// KiB). The rewriter still flushes after every read of the input, so nothing waits longer.
const OUTPUT_BUFFER: usize = 64 << 10;

struct SinkState<W: Write> {
    writer: BufWriter<W>,
    bytes_out: u64,
    /// The first write error; lol_html's sink callback cannot return one.
    error: Option<io::Error>,
    /// Once invalid bytes were carried through lol_html, puts them back in its output.
    uncarry: Option<Uncarry>,
    /// Replaces include markers with fragments, when the plan has includes.
    splicer: Option<Splicer<'static>>,
    /// Once the rewrite cannot be finished soundly, nothing more goes out: lol_html's flush
    /// of the rest as it came would be a page of the wrong structure.
    meter: Rc<CpuMeter>,
}

impl<W: Write> SinkState<W> {
    /// Output from lol_html: carried bytes are put back.
    fn write_rewritten(&mut self, bytes: &[u8]) {
        match self.uncarry.take() {
            Some(mut uncarry) => {
                uncarry.decode(bytes, &mut |bytes| self.write(bytes));
                self.uncarry = Some(uncarry);
            }
            None => self.write(bytes),
        }
    }

    /// Input copied through unchanged (after a bail-out): never looked at for carriers.
    fn write_raw(&mut self, bytes: &[u8]) {
        self.finish_carried();
        self.write(bytes);
    }

    /// From now on, lol_html's output may hold carried bytes.
    fn carrying(&mut self) {
        self.uncarry.get_or_insert_with(Uncarry::default);
    }

    /// Writes what the carrier decoder still holds.
    fn finish_carried(&mut self) {
        if let Some(mut uncarry) = self.uncarry.take() {
            uncarry.finish(&mut |bytes| self.write(bytes));
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.error.is_some() || self.meter.unfinishable() {
            return;
        }
        let mut out = CountingWriter { writer: &mut self.writer, bytes: &mut self.bytes_out };
        let written = match &mut self.splicer {
            Some(splicer) => splicer.write(bytes, &mut out),
            None => out.write_all(bytes),
        };
        if let Err(err) = written {
            self.error = Some(err);
        }
    }

    /// The end of the page (or of rewriting): what the splicer held goes out.
    fn finish_includes(&mut self) {
        let Some(splicer) = &mut self.splicer else { return };
        let mut out = CountingWriter { writer: &mut self.writer, bytes: &mut self.bytes_out };
        if let Err(err) = splicer.finish(&mut out) {
            self.error.get_or_insert(err);
        }
    }

    fn take_error(&mut self) -> io::Result<()> {
        self.error.take().map_or(Ok(()), Err)
    }
}

/// A writer that counts what it passes on.
struct CountingWriter<'a, W> {
    writer: &'a mut W,
    bytes: &'a mut u64,
}

impl<W: Write> Write for CountingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.writer.write(buf)?;
        *self.bytes += written as u64;
        Ok(written)
    }

    /// lol_html hands the sink a piece per token: the output buffer's own `write_all` (a
    /// copy while it has room) rather than the default loop of `write` calls around it.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer.write_all(buf)?;
        *self.bytes += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// The sink, shared between lol_html (which writes to it) and the [`Rewriter`] (which copies
/// input straight through after a bail-out and hands the sink back at the end).
struct SharedSink<W: Write>(Rc<RefCell<SinkState<W>>>);

impl<W: Write> Clone for SharedSink<W> {
    fn clone(&self) -> Self {
        Self(Rc::clone(&self.0))
    }
}

impl<W: Write> OutputSink for SharedSink<W> {
    fn handle_chunk(&mut self, chunk: &[u8]) {
        self.0.borrow_mut().write_rewritten(chunk);
    }
}

/// Why a [`stream`] did not complete.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Reading the input failed: the page is incomplete.
    #[error("reading the page failed: {0}")]
    Input(io::Error),
    /// Writing the output failed (the client went away, or the rewriter lost bytes).
    #[error("writing the rewritten page failed: {0}")]
    Output(io::Error),
    /// The CPU deadline passed inside elements a rule changes, and finishing them did not
    /// fit in the headroom: the page is incomplete, never of the wrong structure.
    #[error("{0}")]
    Cpu(io::Error),
}

/// What [`stream`] hands back: the sink (to finish, or to abandon on error) and the report.
pub struct Streamed<W> {
    /// The sink, returned whatever happened.
    pub sink: W,
    /// What the rewrite did.
    pub report: Report,
    /// `Ok` only if the whole input was read and rewritten. On `Err` the output is
    /// incomplete: tell the client (abandon the stream), never finish it as whole.
    pub result: Result<(), StreamError>,
}

/// Reads `input` through a [`Rewriter`], flushing the sink after every chunk so rewritten
/// bytes leave while the input is still arriving. It reads to the end, unless the options'
/// [`CpuDeadline`] passes: then it stops between two chunks, [`Report::cpu_stop`] says so, and
/// the rest of `input` is left unread (pass `&mut reader` to keep it).
pub fn stream<R: Read, W: Write>(plan: &Plan<'_>, options: &RewriteOptions, input: R, sink: W) -> Streamed<W> {
    pump(Rewriter::new(plan, options, sink), options, input)
}

/// [`stream`], with the plan's includes taken from `fragments`.
pub fn stream_with_fragments<R: Read, W: Write>(
    plan: &Plan<'_>,
    options: &RewriteOptions,
    input: R,
    sink: W,
    fragments: Box<dyn FragmentSource>,
) -> Streamed<W> {
    pump(Rewriter::new(plan, options, sink).with_fragments(fragments), options, input)
}

fn pump<R: Read, W: Write>(mut rewriter: Rewriter<'_, W>, options: &RewriteOptions, mut input: R) -> Streamed<W> {
    let mut buffer = vec![0; options.read_buffer.max(1)];
    let output_error = |rewriter: &Rewriter<'_, W>, err| {
        if rewriter.cpu_unfinished() { StreamError::Cpu(err) } else { StreamError::Output(err) }
    };
    let result = loop {
        match rewriter.cpu_verdict() {
            Ok(false) => {}
            Ok(true) => break rewriter.stop_for_cpu().map_err(StreamError::Output),
            Err(err) => break Err(StreamError::Cpu(err)),
        }
        let read = match input.read(&mut buffer) {
            Ok(0) => break rewriter.finish().map_err(|err| output_error(&rewriter, err)),
            Ok(read) => read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => break Err(StreamError::Input(err)),
        };
        if let Err(err) = rewriter.write(&buffer[..read]).and_then(|()| rewriter.flush()) {
            break Err(output_error(&rewriter, err));
        }
    };
    let (sink, report) = rewriter.into_parts();
    Streamed { sink, report, result }
}

/// Estimated work (guest ns) fed to lol_html at once, between two readings of the clock.
const SLICE_WORK_NS: u64 = 250_000;

/// `chunk` cut after about `len` bytes: before a `<` in its second half where there is one,
/// so lol_html neither holds a cut tag nor loses its fast path for a cut character (no
/// ASCII-compatible charset has `<` inside a character), else at `len`.
fn split_slice(chunk: &[u8], len: usize) -> (&[u8], &[u8]) {
    if chunk.len() <= len {
        return (chunk, &[]);
    }
    let cut = memchr::memrchr(b'<', &chunk[len / 2..len]).map_or(len, |at| len / 2 + at).max(1);
    chunk.split_at(cut)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::RequestContext;
    use crate::rules::compile::RuleSet;

    fn rules(json: &str) -> RuleSet {
        let (set, errors) = RuleSet::from_entries(&[("t".to_owned(), json.to_owned())]);
        assert!(errors.is_empty(), "{errors:?}");
        set
    }

    fn rewrite_in_chunks(rules: &RuleSet, page: &[u8], chunk: usize) -> (Vec<u8>, Report) {
        let plan = rules.plan(&RequestContext::default());
        let mut rewriter = Rewriter::new(&plan, &RewriteOptions::default(), Vec::new());
        for piece in page.chunks(chunk) {
            rewriter.write(piece).unwrap();
        }
        rewriter.finish().unwrap();
        rewriter.into_parts()
    }

    const BANNER: &str = r#"{"id":"banner","selector":"body","actions":[{"prepend":{"html":"<b>Sale</b>"}}]}"#;

    #[test]
    fn applies_rules_whatever_the_chunking() {
        let set = rules(BANNER);
        let page = b"<html><body class=x><p>hi</p></body></html>";
        for chunk in [1, 2, 7, page.len()] {
            let (out, report) = rewrite_in_chunks(&set, page, chunk);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                "<html><body class=x><b>Sale</b><p>hi</p></body></html>",
                "chunk size {chunk}"
            );
            assert_eq!(report.hits, vec![("banner".to_owned(), 1)]);
            assert_eq!(report.bytes_in, page.len() as u64);
        }
    }

    #[test]
    fn text_content_is_escaped_and_html_is_not() {
        let set = rules(
            r#"[{"id":"t","selector":"p","actions":[{"append":{"text":"<i>&"}}]},
                {"id":"h","selector":"p","actions":[{"append":{"html":"<i>&amp;</i>"}}]}]"#,
        );
        let (out, _) = rewrite_in_chunks(&set, b"<p>x</p>", 3);
        assert_eq!(String::from_utf8(out).unwrap(), "<p>x&lt;i&gt;&amp;<i>&amp;</i></p>");
    }

    #[test]
    fn repeated_insertions_come_out_in_the_order_written() {
        let set = rules(
            r#"[{"id":"a","selector":"p","actions":[{"after":{"html":"1"}},{"prepend":{"html":"A"}}]},
                {"id":"b","selector":"p","actions":[{"after":{"html":"2"}},{"prepend":{"html":"B"}},
                                                     {"before":{"html":"<"}},{"append":{"html":">"}}]}]"#,
        );
        let (out, report) = rewrite_in_chunks(&set, b"<p>x</p>", 100);
        assert_eq!(String::from_utf8(out).unwrap(), "<<p>ABx></p>12");
        assert_eq!(report.hits, vec![("a".to_owned(), 1), ("b".to_owned(), 1)]);
    }

    #[test]
    fn replace_and_remove() {
        let set = rules(
            r##"[{"id":"r","selector":"#ad","actions":[{"replace":{"html":"<i>gone</i>"}}]},
                {"id":"d","selector":".tracker","actions":["remove"]},
                {"id":"s","selector":"h1","actions":[{"set_inner":{"text":"New & improved"}}]}]"##,
        );
        let page = b"<h1>Old</h1><div id=ad><p>buy</p></div><span class=tracker>t</span><p>end</p>";
        let (out, _) = rewrite_in_chunks(&set, page, 5);
        assert_eq!(String::from_utf8(out).unwrap(), "<h1>New &amp; improved</h1><i>gone</i><p>end</p>");
    }

    #[test]
    fn a_page_over_the_memory_limit_is_passed_through_whole() {
        // A rule on `div` makes lol_html capture whole div start tags: the huge one cannot fit.
        let set =
            rules(&format!(r#"[{BANNER}, {{"id":"divs","selector":"div","actions":[{{"append":{{"html":"!"}}}}]}}]"#));
        let huge_attribute = "x".repeat(200_000);
        let page = format!("<html><body><p>a</p><div data-x=\"{huge_attribute}\"><body>tail</div></body></html>");
        let options = RewriteOptions { max_memory: 64 << 10, ..RewriteOptions::default() };
        let streamed = stream(&set.plan(&RequestContext::default()), &options, page.as_bytes(), Vec::new());
        streamed.result.unwrap();
        let out = String::from_utf8(streamed.sink).unwrap();
        assert!(streamed.report.bail_out.is_some());
        // Rewritten up to the bail-out, byte-identical after it: nothing is lost.
        assert_eq!(out, page.replacen("<body>", "<body><b>Sale</b>", 1));
    }

    #[test]
    fn an_input_error_is_reported_and_the_sink_returned() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::new(io::ErrorKind::ConnectionReset, "origin went away"));
                }
                self.0 -= 1;
                let part = b"<body><p>part</p>";
                buf[..part.len()].copy_from_slice(part);
                Ok(part.len())
            }
        }
        let set = rules(BANNER);
        let streamed =
            stream(&set.plan(&RequestContext::default()), &RewriteOptions::default(), Failing(1), Vec::new());
        assert!(matches!(streamed.result, Err(StreamError::Input(_))));
        assert!(String::from_utf8(streamed.sink).unwrap().starts_with("<body><b>Sale</b>"));
    }

    #[test]
    fn a_sink_error_stops_the_stream() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::BrokenPipe, "client gone"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let set = rules(BANNER);
        let page = "<p>x</p>".repeat(10_000);
        let streamed =
            stream(&set.plan(&RequestContext::default()), &RewriteOptions::default(), page.as_bytes(), Closed);
        assert!(matches!(streamed.result, Err(StreamError::Output(_))));
        assert!(streamed.report.bytes_in < page.len() as u64, "stopped reading early");
    }

    #[test]
    fn ambiguous_markup_is_never_cut() {
        let set = rules(BANNER);
        let page = b"<body><select><xmp><script>\"use strict\";</script></select><p>after</p></body>";
        let (out, report) = rewrite_in_chunks(&set, page, 4);
        assert!(report.bail_out.is_none());
        let out = String::from_utf8(out).unwrap();
        assert!(out.ends_with("<p>after</p></body>"), "{out}");
    }

    thread_local! {
        /// A pretend CPU clock for the deadline tests: milliseconds go up one per reading.
        static READINGS: Cell<u64> = const { Cell::new(0) };
    }

    fn ticking_clock() -> u64 {
        READINGS.with(|readings| {
            readings.set(readings.get() + 1);
            readings.get()
        })
    }

    /// Streams `page` in `chunk`-byte reads with a deadline `after` clock readings away.
    fn stream_until(set: &RuleSet, page: &[u8], chunk: usize, after: u64) -> (Vec<u8>, Report, usize) {
        READINGS.with(|readings| readings.set(0));
        // Read between reads only, as the tests below count.
        let deadline = CpuDeadline { check_every_ns: u32::MAX, ..CpuDeadline::new(ticking_clock, after, after + 100) };
        let options = RewriteOptions { read_buffer: chunk, cpu_deadline: Some(deadline), ..RewriteOptions::default() };
        let mut input = page;
        let streamed = stream(&set.plan(&RequestContext::default()), &options, &mut input, Vec::new());
        streamed.result.unwrap();
        (streamed.sink, streamed.report, input.len())
    }

    #[test]
    fn at_the_cpu_deadline_the_rest_is_left_unread_for_the_caller() {
        let set = rules(
            r#"[{"id":"b","selector":"p","actions":[{"append":{"html":"!"}}]},
                           {"id":"t","actions":[{"replace_text":{"find":"cat","replace":"dog"}}]}]"#,
        );
        // The <meta> settles the charset at once: the prescan holds nothing back.
        let page =
            [&b"<meta charset=utf-8>"[..], &b"<p>cat</p><p>cat</p><p>cat</p><p>cat</p><p>cat</p>".repeat(4)].concat();
        let (out, report, unread) = stream_until(&set, &page, 16, 4);
        assert!(report.cpu_stop && report.bail_out.as_deref().is_some_and(|why| why.contains("CPU budget")));
        let consumed = page.len() - unread;
        assert_eq!(report.bytes_in as usize, consumed);
        // The caller passes the unread rest on: together, a whole page, rewritten up to the stop.
        let whole = [out.clone(), page[consumed..].to_vec()].concat();
        let text = String::from_utf8(whole).unwrap();
        assert!(text.starts_with("<meta charset=utf-8><p>dog!</p>"), "{text}");
        assert_eq!(text.replace("dog", "cat").replace('!', ""), String::from_utf8(page.to_vec()).unwrap());
        assert!(text.ends_with("<p>cat</p>"), "unchanged after the stop: {text}");
    }

    #[test]
    fn a_stop_inside_a_comment_or_a_tag_keeps_their_bytes() {
        let set = rules(
            r#"[{"id":"c","actions":["remove_comments"]},
                           {"id":"a","selector":"a","actions":[{"set_attribute":{"name":"x","value":"1"}}]},
                           {"id":"end","actions":[{"append_to_document":{"html":"<footer>"}}]}]"#,
        );
        let page = b"<meta charset=utf-8><!-- one --><p>text</p><!-- a long comment cut by the stop --><a href=x>l</a>";
        let mut stopped_in_the_comment = false;
        for after in 1..12 {
            let (out, _, unread) = stream_until(&set, page, 20, after);
            let whole = [out, page[page.len() - unread..].to_vec()].concat();
            let text = String::from_utf8(whole).unwrap();
            assert!(!text.contains("<footer>") || unread == 0, "no end-of-document content mid-page: {text}");
            let kept_comment = text.contains("<!-- a long comment cut by the stop -->");
            let removed_comment = !text.contains("a long comment");
            assert!(kept_comment || removed_comment, "a comment is kept or removed whole, never cut ({after}): {text}");
            // Readings: one before each read, one before each slice fed to lol_html.
            assert!(!text.contains("<!-- one -->") || after < 4, "the first comment was removed before the stop");
            stopped_in_the_comment |= kept_comment;
        }
        assert!(stopped_in_the_comment, "some deadline falls inside the long comment");
    }

    #[test]
    fn the_deadline_is_seen_inside_a_chunk_by_the_handlers() {
        let set = rules(r#"{"id":"mark","selector":"p","actions":[{"set_attribute":{"name":"x","value":"1"}}]}"#);
        let page = [&b"<meta charset=utf-8>"[..], &b"<p>a</p>".repeat(1_000)].concat();
        READINGS.with(|readings| readings.set(0));
        // The clock is read before every handler's work: the deadline falls on the 100th.
        let deadline = CpuDeadline { check_every_ns: 0, ..CpuDeadline::new(ticking_clock, 100, 200) };
        let options = RewriteOptions { cpu_deadline: Some(deadline), ..RewriteOptions::default() };
        let mut input = &page[..];
        let streamed = stream(&set.plan(&RequestContext::default()), &options, &mut input, Vec::new());
        streamed.result.unwrap();
        assert!(streamed.report.cpu_stop);
        let out = String::from_utf8(streamed.sink).unwrap();
        let marked = out.matches("<p x=\"1\">").count();
        assert!(marked > 50 && marked < 100, "stopped inside the one chunk, after {marked} elements");
        // Rewritten up to the stop, the rest of the chunk as it came.
        assert_eq!(out.replace(" x=\"1\"", "").len() + input.len(), page.len());
    }

    #[test]
    fn text_held_back_is_not_lost_when_lol_html_bails_out() {
        // A regex rule holds its text node until it ends; the huge attribute after it makes
        // lol_html bail out for memory before the node's end is seen.
        let set = rules(r#"{"id":"r","actions":[{"replace_text":{"regex":"zz+","replace":"y"}}]}"#);
        let page = format!("<p>keep me tail<b title=\"{}\"></p>", "x".repeat(100_000));
        let options = RewriteOptions { max_memory: 32 << 10, read_buffer: 7, ..RewriteOptions::default() };
        let streamed = stream(&set.plan(&RequestContext::default()), &options, page.as_bytes(), Vec::new());
        streamed.result.unwrap();
        assert!(streamed.report.bail_out.is_some());
        assert_eq!(String::from_utf8(streamed.sink).unwrap(), page, "every byte is still there");
    }
}
