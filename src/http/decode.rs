//! Reading a body in the encoding the origin sent, as a stream of decoded bytes.

use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::GzDecoder;

/// How the body reaches the rewriter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoding {
    /// Not encoded.
    Identity,
    /// gzip-encoded: decoded while streaming.
    Gzip,
}

/// `input` decoded as `decoding` says. gzip is decoded incrementally: memory stays at the
/// decoder's fixed window whatever the ratio, and a truncated or corrupt stream is a read
/// error, never a silently short page.
pub fn decoded<'a, R: Read + 'a>(decoding: Decoding, input: R) -> Box<dyn Read + 'a> {
    match decoding {
        Decoding::Identity => Box::new(input),
        Decoding::Gzip => Box::new(GzipMembers::new(input)),
    }
}

/// gzip as browsers read it: one member after another while the bytes that follow start a
/// new member; bytes after the last member that do not (zero padding, garbage a proxy
/// appended) end the body instead of failing it. A member cut short or corrupt inside is
/// still an error.
struct GzipMembers<'a> {
    /// The member being decoded; `None` once the body has ended.
    member: Option<GzDecoder<Box<dyn BufRead + 'a>>>,
}

/// The two bytes every gzip member starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl<'a> GzipMembers<'a> {
    fn new<R: Read + 'a>(input: R) -> Self {
        Self { member: Some(GzDecoder::new(Box::new(BufReader::new(input)))) }
    }
}

impl Read for GzipMembers<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(member) = &mut self.member else { return Ok(0) };
            let read = member.read(buf)?;
            if read > 0 || buf.is_empty() {
                return Ok(read);
            }
            // This member ended at its footer: what follows decides whether another does.
            let rest = self.member.take().expect("a member was being read").into_inner();
            let (next, rest) = peek(rest, GZIP_MAGIC.len())?;
            if next == GZIP_MAGIC {
                self.member = Some(GzDecoder::new(rest));
            } else if !next.is_empty() {
                log::info!("bytes after the gzip body's last member were ignored, as browsers ignore them");
            }
        }
    }
}

/// The first `n` bytes of `input` (fewer at its end), and the input with them still unread.
fn peek<'a>(mut input: Box<dyn BufRead + 'a>, n: usize) -> io::Result<(Vec<u8>, Box<dyn BufRead + 'a>)> {
    let available = input.fill_buf()?;
    if available.len() >= n || available.is_empty() {
        let next = available[..n.min(available.len())].to_vec();
        return Ok((next, input));
    }
    // The buffer ends inside the `n` bytes: take them out and read on.
    let mut next = available.to_vec();
    input.consume(next.len());
    while next.len() < n {
        let more = input.fill_buf()?;
        if more.is_empty() {
            break;
        }
        let take = more.len().min(n - next.len());
        next.extend_from_slice(&more[..take]);
        input.consume(take);
    }
    let rest: Box<dyn BufRead + 'a> = Box::new(io::Cursor::new(next.clone()).chain(input));
    Ok((next, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn read(bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        decoded(Decoding::Gzip, bytes).read_to_end(&mut out).map(|_| out)
    }

    #[test]
    fn gzip_is_decoded() {
        assert_eq!(read(&gzip(b"<p>hello</p>")).unwrap(), b"<p>hello</p>");
    }

    #[test]
    fn concatenated_members_are_one_body() {
        let body = [gzip(b"<p>one</p>"), gzip(b"<p>two</p>")].concat();
        assert_eq!(read(&body).unwrap(), b"<p>one</p><p>two</p>");
    }

    #[test]
    fn bytes_after_the_last_member_are_ignored() {
        for trailer in [&b"\0\0\0\0"[..], b"garbage appended by a proxy", b"\x1f"] {
            let body = [gzip(b"<p>hello</p>"), trailer.to_vec()].concat();
            assert_eq!(read(&body).unwrap(), b"<p>hello</p>", "{trailer:?}");
        }
    }

    #[test]
    fn a_member_split_across_reads_is_found() {
        /// Hands out one byte per read, so the magic of the second member is split.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let Some((first, rest)) = self.0.split_first() else { return Ok(0) };
                buf[0] = *first;
                self.0 = rest;
                Ok(1)
            }
        }
        let body = [gzip(b"<p>one</p>"), gzip(b"<p>two</p>")].concat();
        let mut out = Vec::new();
        decoded(Decoding::Gzip, Trickle(&body)).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"<p>one</p><p>two</p>");
    }

    #[test]
    fn truncated_or_corrupt_gzip_is_an_error() {
        let packed = gzip(&b"<p>hello</p>".repeat(1000));
        assert!(read(&packed[..packed.len() / 2]).is_err());
        let mut corrupt = packed.clone();
        corrupt[40] ^= 0xff;
        assert!(read(&corrupt).is_err());
        assert!(read(b"not gzip at all").is_err());
        // A second member cut short is as much an error as a first.
        let body = [gzip(b"<p>one</p>"), packed[..packed.len() / 2].to_vec()].concat();
        assert!(read(&body).is_err());
    }
}
