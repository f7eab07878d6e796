//! Bytes that are not UTF-8, carried through lol_html unchanged.
//!
//! lol_html decodes a page to text for handlers and, where a handler looks at text (every
//! text rule does), writes that text back out from its decoded form: a byte that is not
//! valid UTF-8 would come out as U+FFFD. So before lol_html sees a UTF-8 page, each such
//! byte `b` is written as the private-use character U+10FF00 + `b` (U+10FF80 to U+10FFFF),
//! and on the way out each of those characters becomes its byte again. A page that already
//! holds one of those rare characters has its bytes carried the same way, so the mapping
//! is exact both ways. Pages that are valid UTF-8 (nearly all) are only validated.

use std::borrow::Cow;

/// The first character of the range (U+10FF80 carries byte 0x80).
const CARRIER_BASE: u32 = 0x10FF00;

/// The input side: rewrites invalid bytes as carrier characters.
#[derive(Debug, Default)]
pub(crate) struct Carry {
    /// The start of a character cut by the end of the last chunk.
    pub pending: Vec<u8>,
    /// Whether any byte was carried (only then must the output side look for carriers).
    pub used: bool,
}

impl Carry {
    /// `chunk` with its invalid bytes carried; `last` when no more input follows. A
    /// character cut by the chunk's end is kept for the next chunk.
    pub fn encode<'a>(&mut self, chunk: &'a [u8], last: bool) -> Cow<'a, [u8]> {
        if self.pending.is_empty() && !needs_carrying(chunk) {
            return Cow::Borrowed(chunk);
        }
        let mut input = std::mem::take(&mut self.pending);
        input.extend_from_slice(chunk);
        let mut out = Vec::with_capacity(input.len() + 16);
        let mut rest = &input[..];
        loop {
            match simdutf8::compat::from_utf8(rest) {
                Ok(valid) => {
                    self.copy_valid(valid.as_bytes(), &mut out);
                    break;
                }
                Err(err) => {
                    let (valid, after) = rest.split_at(err.valid_up_to());
                    self.copy_valid(valid, &mut out);
                    match err.error_len() {
                        Some(len) => {
                            after[..len].iter().for_each(|&byte| self.carry(byte, &mut out));
                            rest = &after[len..];
                        }
                        // A character cut by the end of the input: wait for its rest.
                        None if !last => {
                            self.pending = after.to_vec();
                            break;
                        }
                        None => {
                            after.iter().for_each(|&byte| self.carry(byte, &mut out));
                            break;
                        }
                    }
                }
            }
        }
        Cow::Owned(out)
    }

    /// Valid text, with any carrier characters already in it carried byte by byte.
    fn copy_valid(&mut self, valid: &[u8], out: &mut Vec<u8>) {
        let mut from = 0;
        for at in memchr::memchr_iter(0xF4, valid) {
            if at >= from && is_carrier(&valid[at..]) {
                out.extend_from_slice(&valid[from..at]);
                valid[at..at + 4].iter().for_each(|&byte| self.carry(byte, out));
                from = at + 4;
            }
        }
        out.extend_from_slice(&valid[from..]);
    }

    fn carry(&mut self, byte: u8, out: &mut Vec<u8>) {
        self.used = true;
        let carrier = char::from_u32(CARRIER_BASE + u32::from(byte)).expect("U+10FF80..U+10FFFF are characters");
        out.extend_from_slice(carrier.encode_utf8(&mut [0; 4]).as_bytes());
    }
}

/// Whether `chunk` holds anything to carry: invalid UTF-8 (or a character cut at its end),
/// or a carrier character.
fn needs_carrying(chunk: &[u8]) -> bool {
    simdutf8::basic::from_utf8(chunk).is_err() || memchr::memchr(0xF4, chunk).is_some_and(|_| has_carrier(chunk))
}

fn has_carrier(bytes: &[u8]) -> bool {
    memchr::memchr_iter(0xF4, bytes).any(|at| is_carrier(&bytes[at..]))
}

/// Whether `bytes` starts with a carrier character (F4 8F BE/BF xx).
fn is_carrier(bytes: &[u8]) -> bool {
    matches!(bytes, [0xF4, 0x8F, 0xBE | 0xBF, 0x80..=0xBF, ..])
}

/// The output side: turns carrier characters back into their bytes.
#[derive(Debug, Default)]
pub(crate) struct Uncarry {
    /// The start of a carrier cut by the end of the last output chunk.
    pending: Vec<u8>,
}

impl Uncarry {
    /// `chunk` with carriers turned back into bytes, passed to `emit`. The start of a
    /// carrier cut by the chunk's end is kept for the next call (or [`finish`](Self::finish)).
    pub fn decode(&mut self, chunk: &[u8], emit: &mut dyn FnMut(&[u8])) {
        let joined;
        let bytes = if self.pending.is_empty() {
            chunk
        } else {
            let mut buffer = std::mem::take(&mut self.pending);
            buffer.extend_from_slice(chunk);
            joined = buffer;
            &joined[..]
        };
        let mut from = 0;
        for at in memchr::memchr_iter(0xF4, bytes) {
            if at < from {
                continue;
            }
            let tail = &bytes[at..];
            if tail.len() < 4 && [0xF4, 0x8F, 0xBE].iter().zip(tail).all(|(a, b)| a == b || (*a == 0xBE && *b == 0xBF))
            {
                emit(&bytes[from..at]);
                self.pending = tail.to_vec();
                return;
            }
            if is_carrier(tail) {
                emit(&bytes[from..at]);
                emit(&[0x80 + ((tail[2] - 0xBE) << 6) + (tail[3] & 0x3F)]);
                from = at + 4;
            }
        }
        emit(&bytes[from..]);
    }

    /// What is left at the end of the output (the start of a carrier that never finished).
    pub fn finish(&mut self, emit: &mut dyn FnMut(&[u8])) {
        let pending = std::mem::take(&mut self.pending);
        emit(&pending);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Carries `input` in pieces of `size` and back, returning what lol_html would see and
    /// the bytes out.
    fn round_trip(input: &[u8], size: usize) -> (Vec<u8>, Vec<u8>) {
        let mut carry = Carry::default();
        let mut carried = Vec::new();
        let pieces: Vec<&[u8]> = input.chunks(size).collect();
        for (i, piece) in pieces.iter().enumerate() {
            carried.extend_from_slice(&carry.encode(piece, i + 1 == pieces.len()));
        }
        let mut out = Vec::new();
        let mut uncarry = Uncarry::default();
        for piece in carried.chunks(size) {
            uncarry.decode(piece, &mut |bytes| out.extend_from_slice(bytes));
        }
        uncarry.finish(&mut |bytes| out.extend_from_slice(bytes));
        (carried, out)
    }

    #[test]
    fn valid_utf8_is_borrowed() {
        let mut carry = Carry::default();
        assert!(matches!(carry.encode("café ☕ 𝄞".as_bytes(), true), Cow::Borrowed(_)));
        assert!(!carry.used);
    }

    #[test]
    fn invalid_bytes_become_valid_text_and_come_back_exactly() {
        let input: &[u8] = b"caf\xe9 \x80 \xff\xfe lait \xe2\x82 ok \xf4\x8f\xbf\xbf \xf4\x8f\xbe\x80 end \xe2";
        for size in [1, 2, 3, 5, 7, input.len()] {
            let (carried, out) = round_trip(input, size);
            assert!(std::str::from_utf8(&carried).is_ok(), "lol_html sees valid UTF-8 (pieces of {size})");
            assert!(!String::from_utf8(carried).unwrap().contains('\u{fffd}'));
            assert_eq!(out, input, "pieces of {size}");
        }
    }

    #[test]
    fn each_invalid_byte_is_one_character() {
        let (carried, _) = round_trip(b"a\xe9b", 10);
        assert_eq!(String::from_utf8(carried).unwrap(), "a\u{10FFE9}b");
    }
}
