//! One fragment into the page: its response checked, its body read (a small one whole before
//! any of it is written, a large one streamed), capped at `max_bytes`, converted to the
//! page's charset, and its markup kept whole ([`BalancedMarkup`]) wherever it stops.

use std::io::{self, Read, Write};

use encoding_rs::{CoderResult, Decoder, Encoder, Encoding, UTF_8};

use super::balance::{BalancedMarkup, Ending};
use super::{Fragment, IncludeResult, PlannedInclude};
use crate::http::charset::declared_encoding;
use crate::rules::template::escape::html_text_into;

/// Bytes read from a fragment before any is written: a fragment that ends within them is
/// inserted whole or not at all (its failures, its size and whether its markup ends inside
/// a tag are known before the page gets any of it). Larger fragments stream.
pub(super) const HOLD_BYTES: usize = 64 << 10;

/// Writes `fragment` (or `include`'s fallback) to `out` in the page's `encoding`. Only an
/// error writing to `out` is an error: everything wrong with the fragment is a result.
pub(super) fn insert(
    include: &PlannedInclude,
    fragment: Fragment,
    encoding: &'static Encoding,
    out: &mut dyn Write,
) -> io::Result<IncludeResult> {
    let fallback = |out: &mut dyn Write, why: String| -> io::Result<IncludeResult> {
        if let Some(fallback) = &include.fallback {
            let mut writer = FragmentWriter::new(UTF_8, encoding, fallback.as_text);
            writer.write(fallback.content.as_bytes(), out)?;
            writer.end(out)?;
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
    let mut writer = FragmentWriter::new(from, encoding, include.as_text);
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
    let mut ready = Vec::with_capacity(held.len() + 64);
    writer.write(&held, &mut ready)?;
    if ended {
        return match writer.end(&mut ready)? {
            Ending::Whole => {
                out.write_all(&ready)?;
                Ok(IncludeResult::Inserted)
            }
            Ending::Cut(why) => fallback(out, why),
        };
    }
    if let Some(why) = writer.failed() {
        return fallback(out, why);
    }
    out.write_all(&ready)?;
    drop(ready);
    let mut total = held.len() as u64;
    let mut buffer = vec![0u8; 16 << 10];
    loop {
        let read = match body.read(&mut buffer) {
            Ok(0) => {
                return Ok(match writer.end(out)? {
                    Ending::Whole => IncludeResult::Inserted,
                    Ending::Cut(why) => IncludeResult::Cut(why),
                });
            }
            Ok(read) => read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => {
                writer.cut(out)?;
                return Ok(IncludeResult::Cut(format!("reading the fragment failed after {total} bytes: {err}")));
            }
        };
        let room = include.max_bytes - total;
        if read as u64 > room {
            let room = usize::try_from(room).unwrap_or(read);
            writer.write(&buffer[..room], out)?;
            writer.cut(out)?;
            return Ok(IncludeResult::Cut(format!("the fragment is over its max_bytes ({})", include.max_bytes)));
        }
        total += read as u64;
        writer.write(&buffer[..read], out)?;
        if let Some(why) = writer.failed() {
            writer.cut(out)?;
            return Ok(IncludeResult::Cut(why));
        }
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

/// A fragment's bytes into the page: decoded from the fragment's charset, its markup kept
/// whole (or, as text, escaped), encoded in the page's. Characters the page's encoding lacks
/// become character references, as lol_html writes them.
struct FragmentWriter {
    /// `None`: UTF-8 markup into a UTF-8 page, bytes pass as they are.
    decoder: Option<Decoder>,
    /// `None`: inserted as text (escaped), so there is no markup to keep whole.
    markup: Option<BalancedMarkup>,
    encoder: PageEncoder,
    text: String,
    escaped: String,
}

impl FragmentWriter {
    fn new(from: &'static Encoding, to: &'static Encoding, as_text: bool) -> Self {
        let direct = from == UTF_8 && to == UTF_8 && !as_text;
        Self {
            decoder: (!direct).then(|| from.new_decoder_with_bom_removal()),
            markup: (!as_text).then(BalancedMarkup::new),
            encoder: PageEncoder::new(to),
            text: String::new(),
            escaped: String::new(),
        }
    }

    fn write(&mut self, input: &[u8], out: &mut dyn Write) -> io::Result<()> {
        self.pass(input, false, out)
    }

    /// Why the markup cannot take more of the fragment, once that is so.
    fn failed(&self) -> Option<String> {
        self.markup.as_ref().and_then(BalancedMarkup::failed)
    }

    /// The fragment ended: the rest goes in (unless its markup ends inside a tag).
    fn end(mut self, out: &mut dyn Write) -> io::Result<Ending> {
        // A character the fragment's last bytes began is written as U+FFFD.
        self.pass(&[], true, out)?;
        let ending = match self.markup.take() {
            Some(markup) => markup.end(&mut self.encoder.writer(out))?,
            None => Ending::Whole,
        };
        self.encoder.finish(out)?;
        Ok(ending)
    }

    /// The fragment stops here, whatever it was in the middle of.
    fn cut(mut self, out: &mut dyn Write) -> io::Result<()> {
        // The decoder's unfinished character is left out.
        if let Some(markup) = self.markup.take() {
            markup.cut(&mut self.encoder.writer(out))?;
        }
        self.encoder.finish(out)
    }

    fn pass(&mut self, input: &[u8], last: bool, out: &mut dyn Write) -> io::Result<()> {
        let Some(decoder) = &mut self.decoder else {
            return match &mut self.markup {
                Some(markup) => markup.write(input, out),
                None => out.write_all(input),
            };
        };
        self.text.clear();
        self.text.reserve(decoder.max_utf8_buffer_length(input.len()).unwrap_or(input.len() * 3 + 16));
        let (result, _, _) = decoder.decode_to_string(input, &mut self.text, last);
        debug_assert_eq!(result, CoderResult::InputEmpty);
        match &mut self.markup {
            Some(markup) => markup.write(self.text.as_bytes(), &mut self.encoder.writer(out)),
            None => {
                self.escaped.clear();
                html_text_into(&self.text, &mut self.escaped);
                self.encoder.encode(&self.escaped, false, out)
            }
        }
    }
}

/// UTF-8 into the page's encoding (`None`: the page is UTF-8, bytes pass as they are).
struct PageEncoder {
    encoder: Option<Encoder>,
    bytes: Vec<u8>,
}

impl PageEncoder {
    fn new(to: &'static Encoding) -> Self {
        Self { encoder: (to != UTF_8).then(|| to.output_encoding().new_encoder()), bytes: Vec::new() }
    }

    /// A writer of UTF-8 into `out` through this encoder.
    fn writer<'a>(&'a mut self, out: &'a mut dyn Write) -> EncodingWriter<'a> {
        EncodingWriter { encoder: self, out }
    }

    fn encode(&mut self, text: &str, last: bool, out: &mut dyn Write) -> io::Result<()> {
        let Some(encoder) = &mut self.encoder else { return out.write_all(text.as_bytes()) };
        self.bytes.clear();
        let mut rest = text;
        loop {
            let needed = encoder.max_buffer_length_from_utf8_if_no_unmappables(rest.len()).unwrap_or(rest.len() * 4);
            self.bytes.reserve(needed + 16);
            let (result, read, _) = encoder.encode_from_utf8_to_vec(rest, &mut self.bytes, last);
            rest = &rest[read..];
            if result == CoderResult::InputEmpty {
                break;
            }
        }
        out.write_all(&self.bytes)
    }

    fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.encode("", true, out)
    }
}

/// [`PageEncoder::writer`]: what the markup writes (whole UTF-8 characters) into the page.
struct EncodingWriter<'a> {
    encoder: &'a mut PageEncoder,
    out: &'a mut dyn Write,
}

impl Write for EncodingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.encoder.encoder.is_none() {
            self.out.write_all(buf)?;
            return Ok(buf.len());
        }
        // The markup passes whole characters of what the decoder made: always UTF-8.
        let text = String::from_utf8_lossy(buf);
        self.encoder.encode(&text, false, self.out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
