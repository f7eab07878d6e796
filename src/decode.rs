//! Reading a body in the encoding the origin sent, as a stream of decoded bytes.

use std::io::Read;

use flate2::read::MultiGzDecoder;

use crate::policy::Decoding;

/// `input` decoded as `decoding` says. gzip is decoded incrementally: memory stays at the
/// decoder's fixed window whatever the ratio, and a truncated or corrupt stream is a read
/// error, never a silently short page.
pub fn decoded<'a, R: Read + 'a>(decoding: Decoding, input: R) -> Box<dyn Read + 'a> {
    match decoding {
        Decoding::Identity => Box::new(input),
        Decoding::Gzip => Box::new(MultiGzDecoder::new(input)),
    }
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

    #[test]
    fn gzip_is_decoded() {
        let mut out = String::new();
        decoded(Decoding::Gzip, &gzip(b"<p>hello</p>")[..]).read_to_string(&mut out).unwrap();
        assert_eq!(out, "<p>hello</p>");
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let packed = gzip(&b"<p>hello</p>".repeat(1000));
        let mut out = Vec::new();
        let result = decoded(Decoding::Gzip, &packed[..packed.len() / 2]).read_to_end(&mut out);
        assert!(result.is_err());
    }
}
