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
//! and the [`IncludeOutcome`] says why. A fragment that stops part-way (cut at its size cap,
//! failing or out of time mid-body) stops at a whole tag and character with the elements it
//! opened closed ([`balance`]), so the page after it is read as the origin wrote it.
//!
//! An include goes wherever its rule's selector matches, as any content does: the fragment
//! is fetched once, and what went into the first place is kept (within a page-wide cap) and
//! written again at every other.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use encoding_rs::{Encoding, UTF_8};
use memchr::memmem;

mod balance;
mod insert;

use insert::insert;

// What an include is, as a rule plans it, is the rules' (rules never import rewrite).
pub use crate::rules::include::{FragmentFrom, PlannedInclude};

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
    /// Bytes inserted in its first place (fragment or fallback), as written to the page.
    pub bytes: u64,
    /// How long the page was held at the first place: the fragment's response and body.
    pub waited: Duration,
    /// How many places it went in: each element its rule acted on.
    pub places: usize,
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

/// Bytes of fragments a page keeps to write again at their rules' other matches, all
/// includes together: past it, the other matches get the fallback.
const KEPT_BYTES: usize = 8 << 20;

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
    /// What each include's first place got, for its other places (`None` when its rule acts
    /// once, or the copy did not fit in [`KEPT_BYTES`]).
    copies: Vec<Option<Vec<u8>>>,
    /// Bytes in `copies`.
    kept: usize,
}

impl<'s> Splicer<'s> {
    pub fn new(token: &str, includes: Vec<PlannedInclude>, source: Box<dyn FragmentSource + 's>) -> Self {
        let outcomes = vec![None; includes.len()];
        let copies = vec![None; includes.len()];
        Self {
            prefix: marker_prefix(token).into_bytes(),
            held: Vec::new(),
            includes,
            source,
            encoding: UTF_8,
            outcomes,
            copies,
            kept: 0,
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
                    places: 0,
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

    /// Streams include `index`'s fragment (or its fallback) to `out` at its first place;
    /// writes what went there again at the others.
    fn splice(&mut self, index: usize, out: &mut dyn Write) -> io::Result<()> {
        let Some(include) = self.includes.get(index) else { return Ok(()) };
        if let Some(outcome) = &mut self.outcomes[index] {
            outcome.places += 1;
            return match &self.copies[index] {
                Some(copy) => out.write_all(copy),
                None => {
                    let why = format!(
                        "what its first place got was not kept for its other matches (a page keeps {} MiB of \
                         fragments for that): give the rule \"max\": 1 or the include a smaller max_bytes",
                        KEPT_BYTES >> 20
                    );
                    log::warn!(
                        "include {} (rule {}): fallback used at place {}: {why}",
                        include.path,
                        include.rule,
                        outcome.places
                    );
                    insert(include, Fragment::Unavailable(why), self.encoding, out).map(drop)
                }
            };
        }
        // The page so far reaches the client before the wait.
        out.flush()?;
        let started = Instant::now();
        let fragment = match &include.unusable {
            Some(why) => Fragment::Unavailable(why.clone()),
            None => self.source.fragment(index, include),
        };
        let room = if include.repeats { KEPT_BYTES - self.kept } else { 0 };
        let mut counted = Counted { out, bytes: 0, copy: include.repeats.then(Vec::new), room };
        let result = insert(include, fragment, self.encoding, &mut counted)?;
        let waited = started.elapsed();
        let (bytes, copy) = (counted.bytes, counted.copy);
        match result.why() {
            Some(why) => log::warn!(
                "include {} (rule {}): {}: {why}",
                include.path,
                include.rule,
                if matches!(result, IncludeResult::Cut(_)) { "cut short" } else { "fallback used" }
            ),
            None => log::debug!("include {} (rule {}): {bytes} bytes", include.path, include.rule),
        }
        self.kept += copy.as_ref().map_or(0, Vec::len);
        self.copies[index] = copy;
        self.outcomes[index] = Some(IncludeOutcome {
            rule: include.rule.clone(),
            path: include.path.clone(),
            result,
            bytes,
            waited,
            places: 1,
        });
        Ok(())
    }
}

/// Counts what goes through to the page, and keeps a copy while it fits in `room`.
struct Counted<'o> {
    out: &'o mut dyn Write,
    bytes: u64,
    copy: Option<Vec<u8>>,
    room: usize,
}

impl Write for Counted<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.out.write(buf)?;
        self.bytes += written as u64;
        if let Some(copy) = &mut self.copy {
            if copy.len() + written <= self.room {
                copy.extend_from_slice(&buf[..written]);
            } else {
                self.copy = None;
            }
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::rules::include::{Fallback, include_path_problem};

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
            repeats: true,
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
    fn a_fragment_goes_in_every_place_and_unplaced_ones_are_reported() {
        let page = format!("{}|{}|{}", marker("t0k", 0), marker("t0k", 0), marker("t0k", 0));
        let fragments = fixed(&[("/one", 200, b"<b>1")]);
        let (out, outcomes) = splice(vec![include("/one"), include("/two")], fragments, page.as_bytes(), 3);
        assert_eq!(String::from_utf8(out).unwrap(), "<b>1</b>|<b>1</b>|<b>1</b>");
        assert_eq!((outcomes[0].places, outcomes[0].bytes), (3, 8));
        assert_eq!(outcomes[1].result, IncludeResult::NotPlaced);
    }

    #[test]
    fn past_the_page_wide_cap_other_places_get_the_fallback() {
        let page = format!("{}|{}", marker("t0k", 0), marker("t0k", 0));
        let mut splicer = Splicer::new("t0k", vec![include("/one")], Box::new(fixed(&[("/one", 200, b"<b>1</b>")])));
        splicer.kept = KEPT_BYTES - 4;
        let mut out = Vec::new();
        splicer.write(page.as_bytes(), &mut out).unwrap();
        splicer.finish(&mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "<b>1</b>|<i>later</i>");
        assert_eq!(splicer.outcomes()[0].places, 2);
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
        let body = vec![b'x'; insert::HOLD_BYTES * 3];
        let mut capped = include("/large");
        capped.max_bytes = (insert::HOLD_BYTES * 2) as u64;
        let fragments = fixed(&[("/large", 200, &body)]);
        let (out, outcomes) = splice(vec![capped], fragments, marker("t0k", 0).as_bytes(), 64);
        assert_eq!(out.len(), insert::HOLD_BYTES * 2);
        assert!(matches!(outcomes[0].result, IncludeResult::Cut(_)), "{outcomes:?}");
    }
}
