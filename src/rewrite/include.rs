//! Includes: fragments fetched from elsewhere and streamed into the page where a rule puts
//! them.
//!
//! A lol_html handler cannot wait for a response, and what it inserts is a string. So the
//! handler inserts a *marker*, an HTML comment holding a token and the include's number, and
//! the rewriter's output passes through a [`Splicer`]: it copies the page up to each marker,
//! pushes those bytes on to the client, then streams that include's fragment in the marker's
//! place from a [`FragmentSource`] (the Fastly adapter's pending requests; the CLI's files)
//! and carries on. The fragment's body goes from source to output a buffer at a time, never
//! whole. The token is random for every page, so a page cannot forge a marker.
//!
//! Whatever happens to a fragment (an error, a timeout, a status that is not 2xx, a body over
//! its size cap) the page is complete: the include's fallback, or nothing, takes its place,
//! and the [`IncludeOutcome`] says why.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use encoding_rs::{CoderResult, Encoding, UTF_8};
use memchr::memmem;

use crate::http::charset::declared_encoding;
use crate::rules::template::escape::html_text_into;

/// Where a fragment is fetched from. Never a host the request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FragmentFrom {
    /// The page's own origin (its backend, with the page's host).
    Origin,
    /// A backend the service declares, by name.
    Backend(String),
    /// A site of the sites map, by host: its backend, with that host.
    Site(String),
}

/// What takes an include's place when its fragment cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// The content, templates filled in.
    pub content: String,
    /// Inserted as text (escaped) rather than as markup.
    pub as_text: bool,
}

/// One include as planned for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedInclude {
    /// The rule that asked for it.
    pub rule: String,
    /// Where the fragment comes from.
    pub from: FragmentFrom,
    /// The fragment's path (and query), templates filled in and escaped; starts with `/`.
    pub path: String,
    /// How long to wait for the fragment's response, from when it was sent.
    pub timeout: Duration,
    /// Insert the fragment's body as text (escaped) rather than as markup.
    pub as_text: bool,
    /// What to insert when the fragment cannot be used; nothing without one.
    pub fallback: Option<Fallback>,
    /// The largest fragment body inserted, in bytes.
    pub max_bytes: u64,
    /// Why the rendered path may not be requested, if it may not (a value made a `..`
    /// segment): no request is sent and the fallback takes its place.
    pub unusable: Option<String>,
}

/// A fragment as its source delivers it.
pub enum Fragment {
    /// A response: its status, `Content-Type`, `Content-Length` if known, and body.
    Response {
        /// The status: anything but 2xx gets the fallback.
        status: u16,
        /// Its `Content-Type`: the charset it names is converted to the page's.
        content_type: Option<String>,
        /// Its `Content-Length`, when known: over `max_bytes`, the fallback without reading.
        content_length: Option<u64>,
        /// The body, read a buffer at a time.
        body: Box<dyn Read>,
    },
    /// No response, and why (an error, a timeout, no such file).
    Unavailable(String),
}

impl Fragment {
    /// No response came within the include's timeout: said the same at the edge and on a
    /// laptop (`rewrite apply --fragment PATH=FILE@500ms`).
    pub fn timed_out(include: &PlannedInclude) -> Fragment {
        Fragment::Unavailable(format!("no response within its timeout ({} ms)", include.timeout.as_millis()))
    }
}

/// Delivers the fragments of a page's includes.
pub trait FragmentSource {
    /// The fragment for include `index` (its position in the plan's includes), waiting for it
    /// no later than its timeout allows.
    fn fragment(&mut self, index: usize, include: &PlannedInclude) -> Fragment;
}

/// What became of one include.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncludeOutcome {
    /// The rule that asked for it.
    pub rule: String,
    /// The fragment's path.
    pub path: String,
    /// What was inserted.
    pub result: IncludeResult,
    /// Bytes inserted in its place (fragment or fallback), as written to the page.
    pub bytes: u64,
    /// How long the page waited for the fragment's response at the insertion point.
    pub waited: Duration,
}

/// What was inserted for an include.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncludeResult {
    /// The fragment, whole.
    Inserted,
    /// The fallback (or nothing), and why the fragment was not used.
    Fallback(String),
    /// The start of the fragment only, and why it stopped (over its size cap mid-way, or
    /// its body failed after some of it had been sent).
    Cut(String),
    /// The page never reached the place it was to go (no element matched, or rewriting
    /// stopped first).
    NotPlaced,
}

impl IncludeResult {
    /// A short word for log lines: `inserted`, `fallback`, `cut`, `not_placed`.
    pub fn label(&self) -> &'static str {
        match self {
            IncludeResult::Inserted => "inserted",
            IncludeResult::Fallback(_) => "fallback",
            IncludeResult::Cut(_) => "cut",
            IncludeResult::NotPlaced => "not_placed",
        }
    }

    /// Why the fragment was not inserted whole, if it was not.
    pub fn why(&self) -> Option<&str> {
        match self {
            IncludeResult::Fallback(why) | IncludeResult::Cut(why) => Some(why),
            IncludeResult::Inserted | IncludeResult::NotPlaced => None,
        }
    }
}

/// Why a rendered include path cannot be requested, if it cannot: it must be an absolute
/// path (one `/`, not `//`, which would name another host) without `.` or `..` segments
/// (which would climb out of the directory the rule names, whatever a value held).
pub(crate) fn include_path_problem(path: &str) -> Option<String> {
    if !path.starts_with('/') || path.starts_with("//") || path.contains('\\') {
        return Some(format!("the path {path:?} must start with a single `/`"));
    }
    if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Some(format!("the path {path:?} holds spaces or control characters"));
    }
    let path_only = path.split(['?', '#']).next().unwrap_or_default();
    let dot_segment = path_only.split('/').any(|segment| {
        let lower = segment.to_ascii_lowercase().replace("%2e", ".");
        lower == "." || lower == ".."
    });
    dot_segment.then(|| format!("the path {path:?} has a `.` or `..` segment"))
}

/// The source for pages rewritten without one: every include gets its fallback.
pub(crate) struct NoFragments;

impl FragmentSource for NoFragments {
    fn fragment(&mut self, _index: usize, _include: &PlannedInclude) -> Fragment {
        Fragment::Unavailable("no fragments are fetched here".to_owned())
    }
}

/// The marker a handler inserts for include `index`.
pub(crate) fn marker(token: &str, index: usize) -> String {
    format!("{}{index}-->", marker_prefix(token))
}

/// What every marker of a page starts with.
fn marker_prefix(token: &str) -> String {
    format!("<!--edge-rewriter-include:{token}:")
}

/// A token no page can guess: 128 random bits, in hex.
pub(crate) fn new_token() -> String {
    let mut bytes = [0u8; 16];
    // Without randomness (never expected) a fixed token still works; it is only guessable.
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Bytes read from a fragment before any is written: a fragment that ends within them is
/// inserted whole or not at all (its failures and its size are known before the page gets
/// any of it). Larger fragments stream.
const HOLD_BYTES: usize = 64 << 10;

/// The rewriter's output on its way to the sink: markers replaced by fragments.
pub(crate) struct Splicer<'s> {
    prefix: Vec<u8>,
    /// The end of the last output that may be the start of a marker.
    held: Vec<u8>,
    includes: Vec<PlannedInclude>,
    source: Box<dyn FragmentSource + 's>,
    /// The page's encoding: fragments and fallbacks are written in it.
    pub encoding: &'static Encoding,
    outcomes: Vec<Option<IncludeOutcome>>,
}

impl<'s> Splicer<'s> {
    pub fn new(token: &str, includes: Vec<PlannedInclude>, source: Box<dyn FragmentSource + 's>) -> Self {
        let outcomes = vec![None; includes.len()];
        Self {
            prefix: marker_prefix(token).into_bytes(),
            held: Vec::new(),
            includes,
            source,
            encoding: UTF_8,
            outcomes,
        }
    }

    /// Takes fragments from `source` from now on.
    pub fn set_source(&mut self, source: Box<dyn FragmentSource + 's>) {
        self.source = source;
    }

    /// Passes `bytes` of rewritten page on to `out`, a fragment in each marker's place.
    pub fn write(&mut self, bytes: &[u8], out: &mut dyn Write) -> io::Result<()> {
        let joined;
        let mut rest = if self.held.is_empty() {
            bytes
        } else {
            let mut held = std::mem::take(&mut self.held);
            held.extend_from_slice(bytes);
            joined = held;
            &joined[..]
        };
        loop {
            let Some(at) = memmem::find(rest, &self.prefix) else {
                let keep = self.partial_marker_len(rest);
                out.write_all(&rest[..rest.len() - keep])?;
                self.held = rest[rest.len() - keep..].to_vec();
                return Ok(());
            };
            out.write_all(&rest[..at])?;
            let after = &rest[at + self.prefix.len()..];
            let digits = after.iter().take_while(|b| b.is_ascii_digit()).count();
            let tail = &after[digits..];
            if digits > 0 && tail.starts_with(b"-->") {
                let index = std::str::from_utf8(&after[..digits]).ok().and_then(|n| n.parse().ok());
                rest = &tail[3..];
                if let Some(index) = index {
                    self.splice(index, out)?;
                }
            } else if tail.len() < 3 && b"-->".starts_with(tail) && digits < 20 {
                // The marker is cut by the end of this output: wait for the rest.
                self.held = rest[at..].to_vec();
                return Ok(());
            } else {
                // The token, but not a marker: only a page that guessed it; left as it is.
                out.write_all(&rest[at..at + self.prefix.len()])?;
                rest = after;
            }
        }
    }

    /// The end of the page: writes what was held.
    pub fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(&std::mem::take(&mut self.held))
    }

    /// What became of each include so far, in plan order.
    pub fn outcomes(&self) -> Vec<IncludeOutcome> {
        self.includes
            .iter()
            .zip(&self.outcomes)
            .map(|(include, outcome)| {
                outcome.clone().unwrap_or_else(|| IncludeOutcome {
                    rule: include.rule.clone(),
                    path: include.path.clone(),
                    result: IncludeResult::NotPlaced,
                    bytes: 0,
                    waited: Duration::ZERO,
                })
            })
            .collect()
    }

    /// How many bytes at the end of `bytes` could start a marker.
    fn partial_marker_len(&self, bytes: &[u8]) -> usize {
        let window = bytes.len().min(self.prefix.len() - 1);
        let tail = &bytes[bytes.len() - window..];
        // The prefix holds one `<`, its first byte.
        match memchr::memrchr(b'<', tail) {
            Some(at) if self.prefix.starts_with(&tail[at..]) => window - at,
            _ => 0,
        }
    }

    /// Streams include `index`'s fragment (or its fallback) to `out`. An include is
    /// inserted once: a second marker for it gets nothing.
    fn splice(&mut self, index: usize, out: &mut dyn Write) -> io::Result<()> {
        let Some(include) = self.includes.get(index) else { return Ok(()) };
        if self.outcomes[index].is_some() {
            return Ok(());
        }
        // The page so far reaches the client before the wait.
        out.flush()?;
        let started = Instant::now();
        let fragment = match &include.unusable {
            Some(why) => Fragment::Unavailable(why.clone()),
            None => self.source.fragment(index, include),
        };
        let waited = started.elapsed();
        let mut counted = Counted { out, bytes: 0 };
        let result = insert(include, fragment, self.encoding, &mut counted)?;
        match result.why() {
            Some(why) => log::warn!(
                "include {} (rule {}): {}: {why}",
                include.path,
                include.rule,
                if matches!(result, IncludeResult::Cut(_)) { "cut short" } else { "fallback used" }
            ),
            None => log::debug!("include {} (rule {}): {} bytes", include.path, include.rule, counted.bytes),
        }
        self.outcomes[index] = Some(IncludeOutcome {
            rule: include.rule.clone(),
            path: include.path.clone(),
            result,
            bytes: counted.bytes,
            waited,
        });
        Ok(())
    }
}

/// Counts what goes through to the page.
struct Counted<'o> {
    out: &'o mut dyn Write,
    bytes: u64,
}

impl Write for Counted<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.out.write(buf)?;
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Writes `fragment` (or `include`'s fallback) to `out` in the page's `encoding`. Only an
/// error writing to `out` is an error: everything wrong with the fragment is a result.
fn insert(
    include: &PlannedInclude,
    fragment: Fragment,
    encoding: &'static Encoding,
    out: &mut dyn Write,
) -> io::Result<IncludeResult> {
    let fallback = |out: &mut dyn Write, why: String| -> io::Result<IncludeResult> {
        if let Some(fallback) = &include.fallback {
            let mut transcoder = Transcoder::new(UTF_8, encoding, fallback.as_text);
            transcoder.write(fallback.content.as_bytes(), true, out)?;
        }
        Ok(IncludeResult::Fallback(why))
    };
    let (status, content_type, content_length, mut body) = match fragment {
        Fragment::Unavailable(why) => return fallback(out, why),
        Fragment::Response { status, content_type, content_length, body } => {
            (status, content_type, content_length, body)
        }
    };
    if !(200..300).contains(&status) {
        return fallback(out, format!("the fragment's response is {status}, not 2xx"));
    }
    if let Some(length) = content_length.filter(|length| *length > include.max_bytes) {
        return fallback(out, format!("the fragment is {length} bytes, over its max_bytes ({})", include.max_bytes));
    }
    let from = content_type.as_deref().and_then(declared_encoding).unwrap_or(UTF_8);
    let mut transcoder = Transcoder::new(from, encoding, include.as_text);
    // Held first: a small fragment is known whole before any of it is written.
    let hold = usize::try_from(include.max_bytes).unwrap_or(usize::MAX).min(HOLD_BYTES);
    let mut held = Vec::with_capacity(hold.min(16 << 10));
    let ended = match read_up_to(&mut body, &mut held, hold + 1) {
        Ok(ended) => ended,
        Err(err) => return fallback(out, format!("reading the fragment failed: {err}")),
    };
    if held.len() as u64 > include.max_bytes {
        return fallback(out, format!("the fragment is over its max_bytes ({})", include.max_bytes));
    }
    transcoder.write(&held, ended, out)?;
    if ended {
        return Ok(IncludeResult::Inserted);
    }
    let mut total = held.len() as u64;
    let mut buffer = vec![0u8; 16 << 10];
    loop {
        let read = match body.read(&mut buffer) {
            Ok(0) => {
                transcoder.write(&[], true, out)?;
                return Ok(IncludeResult::Inserted);
            }
            Ok(read) => read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => {
                transcoder.write(&[], true, out)?;
                return Ok(IncludeResult::Cut(format!("reading the fragment failed after {total} bytes: {err}")));
            }
        };
        let room = include.max_bytes - total;
        if read as u64 > room {
            let room = usize::try_from(room).unwrap_or(read);
            transcoder.write(&buffer[..room], true, out)?;
            return Ok(IncludeResult::Cut(format!("the fragment is over its max_bytes ({})", include.max_bytes)));
        }
        total += read as u64;
        transcoder.write(&buffer[..read], false, out)?;
        out.flush()?;
    }
}

/// Reads from `body` into `held` until it ends (`true`) or holds `limit` bytes (`false`).
fn read_up_to(body: &mut dyn Read, held: &mut Vec<u8>, limit: usize) -> io::Result<bool> {
    let mut buffer = [0u8; 8 << 10];
    while held.len() < limit {
        let want = buffer.len().min(limit - held.len());
        match body.read(&mut buffer[..want]) {
            Ok(0) => return Ok(true),
            Ok(read) => held.extend_from_slice(&buffer[..read]),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(false)
}

/// A fragment's bytes into the page's encoding, escaped when inserted as text. Characters
/// the page's encoding lacks become character references, as lol_html writes them.
struct Transcoder {
    /// Bytes pass as they are: both sides UTF-8 and nothing to escape.
    direct: bool,
    decoder: encoding_rs::Decoder,
    encoder: encoding_rs::Encoder,
    as_text: bool,
    text: String,
    escaped: String,
    bytes: Vec<u8>,
}

impl Transcoder {
    fn new(from: &'static Encoding, to: &'static Encoding, as_text: bool) -> Self {
        Self {
            direct: from == UTF_8 && to == UTF_8 && !as_text,
            decoder: from.new_decoder_with_bom_removal(),
            encoder: to.output_encoding().new_encoder(),
            as_text,
            text: String::new(),
            escaped: String::new(),
            bytes: Vec::new(),
        }
    }

    fn write(&mut self, input: &[u8], last: bool, out: &mut dyn Write) -> io::Result<()> {
        if self.direct {
            return out.write_all(input);
        }
        self.text.clear();
        self.text.reserve(self.decoder.max_utf8_buffer_length(input.len()).unwrap_or(input.len() * 3 + 16));
        let (result, _, _) = self.decoder.decode_to_string(input, &mut self.text, last);
        debug_assert_eq!(result, CoderResult::InputEmpty);
        let text = if self.as_text {
            self.escaped.clear();
            html_text_into(&self.text, &mut self.escaped);
            &self.escaped
        } else {
            &self.text
        };
        self.bytes.clear();
        let mut rest = text.as_str();
        loop {
            let needed =
                self.encoder.max_buffer_length_from_utf8_if_no_unmappables(rest.len()).unwrap_or(rest.len() * 4);
            self.bytes.reserve(needed + 16);
            let (result, read, _) = self.encoder.encode_from_utf8_to_vec(rest, &mut self.bytes, last);
            rest = &rest[read..];
            if result == CoderResult::InputEmpty {
                break;
            }
        }
        out.write_all(&self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// Fragments from memory: path → (status, content type, body).
    struct Fixed(HashMap<String, (u16, Option<&'static str>, Vec<u8>)>);

    impl FragmentSource for Fixed {
        fn fragment(&mut self, _index: usize, include: &PlannedInclude) -> Fragment {
            match self.0.get(&include.path) {
                Some((status, content_type, body)) => Fragment::Response {
                    status: *status,
                    content_type: content_type.map(str::to_owned),
                    content_length: None,
                    body: Box::new(io::Cursor::new(body.clone())),
                },
                None => Fragment::Unavailable("no such fragment".into()),
            }
        }
    }

    fn include(path: &str) -> PlannedInclude {
        PlannedInclude {
            rule: "r".into(),
            from: FragmentFrom::Origin,
            path: path.into(),
            timeout: Duration::from_secs(1),
            as_text: false,
            fallback: Some(Fallback { content: "<i>later</i>".into(), as_text: false }),
            max_bytes: 1 << 20,
            unusable: include_path_problem(path),
        }
    }

    fn splice(
        includes: Vec<PlannedInclude>,
        fragments: Fixed,
        page: &[u8],
        chunk: usize,
    ) -> (Vec<u8>, Vec<IncludeOutcome>) {
        let mut splicer = Splicer::new("t0k", includes, Box::new(fragments));
        let mut out = Vec::new();
        for piece in page.chunks(chunk) {
            splicer.write(piece, &mut out).unwrap();
        }
        splicer.finish(&mut out).unwrap();
        (out, splicer.outcomes())
    }

    fn fixed(entries: &[(&str, u16, &[u8])]) -> Fixed {
        Fixed(entries.iter().map(|(path, status, body)| ((*path).into(), (*status, None, body.to_vec()))).collect())
    }

    #[test]
    fn markers_become_fragments_whatever_the_chunking() {
        let page = format!("<p>a</p>{}<p>b</p>{}<p>c</p>", marker("t0k", 0), marker("t0k", 1));
        for chunk in 1..=page.len() {
            let fragments = fixed(&[("/one", 200, b"<b>1</b>"), ("/two", 200, b"<b>2</b>")]);
            let (out, outcomes) = splice(vec![include("/one"), include("/two")], fragments, page.as_bytes(), chunk);
            assert_eq!(String::from_utf8(out).unwrap(), "<p>a</p><b>1</b><p>b</p><b>2</b><p>c</p>", "chunk {chunk}");
            assert!(outcomes.iter().all(|outcome| outcome.result == IncludeResult::Inserted));
            assert_eq!(outcomes[0].bytes, 8);
        }
    }

    #[test]
    fn failures_get_the_fallback() {
        let page = format!("{}|{}|{}", marker("t0k", 0), marker("t0k", 1), marker("t0k", 2));
        let mut big = include("/big");
        big.max_bytes = 4;
        let mut bare = include("/missing");
        bare.fallback = None;
        let fragments = fixed(&[("/gone", 404, b"<h1>Not found</h1>"), ("/big", 200, b"<b>too big</b>")]);
        let (out, outcomes) = splice(vec![include("/gone"), big, bare], fragments, page.as_bytes(), 5);
        assert_eq!(String::from_utf8(out).unwrap(), "<i>later</i>|<i>later</i>|");
        let whys: Vec<_> = outcomes.iter().map(|outcome| outcome.result.why().unwrap().to_owned()).collect();
        assert!(whys[0].contains("404"), "{whys:?}");
        assert!(whys[1].contains("max_bytes"), "{whys:?}");
        assert_eq!(whys[2], "no such fragment");
    }

    #[test]
    fn a_fragment_is_inserted_once_and_unplaced_ones_are_reported() {
        let page = format!("{}{}", marker("t0k", 0), marker("t0k", 0));
        let fragments = fixed(&[("/one", 200, b"1")]);
        let (out, outcomes) = splice(vec![include("/one"), include("/two")], fragments, page.as_bytes(), 3);
        assert_eq!(out, b"1");
        assert_eq!(outcomes[1].result, IncludeResult::NotPlaced);
    }

    #[test]
    fn other_tokens_and_near_misses_pass_as_written() {
        let page = format!("{}<!--edge-rewriter-include:t0k:x--><!--edge-rewriter-include:t0", marker("other", 0));
        let (out, _) = splice(vec![include("/one")], fixed(&[("/one", 200, b"1")]), page.as_bytes(), 4);
        assert_eq!(String::from_utf8(out).unwrap(), page);
    }

    #[test]
    fn text_fragments_are_escaped_and_transcoded() {
        let mut as_text = include("/t");
        as_text.as_text = true;
        let mut fragments = fixed(&[]);
        fragments.0.insert("/t".into(), (200, Some("text/plain; charset=windows-1252"), b"caf\xe9 <b>".to_vec()));
        let mut splicer = Splicer::new("t0k", vec![as_text], Box::new(fragments));
        splicer.encoding = encoding_rs::SHIFT_JIS;
        let mut out = Vec::new();
        splicer.write(marker("t0k", 0).as_bytes(), &mut out).unwrap();
        splicer.finish(&mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "caf&#233; &lt;b&gt;");
    }

    #[test]
    fn a_large_fragment_streams_and_is_cut_at_its_cap() {
        let body = vec![b'x'; HOLD_BYTES * 3];
        let mut capped = include("/large");
        capped.max_bytes = (HOLD_BYTES * 2) as u64;
        let fragments = fixed(&[("/large", 200, &body)]);
        let (out, outcomes) = splice(vec![capped], fragments, marker("t0k", 0).as_bytes(), 64);
        assert_eq!(out.len(), HOLD_BYTES * 2);
        assert!(matches!(outcomes[0].result, IncludeResult::Cut(_)), "{outcomes:?}");
    }
}
