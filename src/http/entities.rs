//! Character references in page text, decoded for matching, with a map back to the source
//! bytes so that everything outside a match is emitted exactly as the origin sent it.

use std::borrow::Cow;

use htmlize::{ENTITIES, ENTITY_MAX_LENGTH};

/// The longest reference we look for, `&` and `;` included: the longest HTML5 name,
/// `&CounterClockwiseContourIntegral;`, is 33.
pub const MAX_REFERENCE_LEN: usize = ENTITY_MAX_LENGTH;

/// Text as a reader sees it, and where each part came from in the source.
#[derive(Debug)]
pub(crate) struct Decoded<'a> {
    /// The decoded text.
    pub text: Cow<'a, str>,
    /// One piece per plain run or reference; empty when `text` is the source itself.
    pieces: Vec<Piece>,
    /// Source bytes `text` covers: all of it, except a reference that may still be
    /// completed by the next chunk.
    pub covered: usize,
}

#[derive(Debug, Clone, Copy)]
struct Piece {
    decoded: usize,
    raw: usize,
    raw_len: usize,
    reference: bool,
}

impl Decoded<'_> {
    /// The source offset where decoded byte `at` starts (a reference is taken whole).
    pub fn raw_start(&self, at: usize) -> usize {
        if self.pieces.is_empty() {
            return at;
        }
        if at >= self.text.len() {
            return self.covered;
        }
        let piece = self.pieces[self.pieces.partition_point(|p| p.decoded <= at) - 1];
        if piece.reference { piece.raw } else { piece.raw + (at - piece.decoded) }
    }

    /// The source offset where decoded text ending at `at` (exclusive) ends.
    pub fn raw_end(&self, at: usize) -> usize {
        if self.pieces.is_empty() || at == 0 {
            return at;
        }
        let piece = self.pieces[self.pieces.partition_point(|p| p.decoded < at) - 1];
        if piece.reference { piece.raw + piece.raw_len } else { piece.raw + (at - piece.decoded) }
    }

    /// Whether decoded byte `at` lies strictly inside what one reference decodes to, as
    /// between `f` and `j` of `&fjlig;` (a few HTML5 names decode to two characters).
    pub fn inside_reference(&self, at: usize) -> bool {
        if self.pieces.is_empty() || at == 0 || at >= self.text.len() {
            return false;
        }
        let piece = self.pieces[self.pieces.partition_point(|p| p.decoded <= at) - 1];
        piece.reference && piece.decoded < at
    }
}

/// Text taken as written, offsets mapping one to one (script and style text, which has
/// no references).
pub(crate) fn verbatim(raw: &str) -> Decoded<'_> {
    Decoded { text: Cow::Borrowed(raw), pieces: Vec::new(), covered: raw.len() }
}

/// `text` with its character references decoded, as a reader (or a script engine reading
/// an attribute) sees it.
pub(crate) fn decode_references(text: &str) -> String {
    decode(text, true).text.into_owned()
}

/// Decodes the character references in `raw` (`&amp;`, `&#233;`, `&#xE9;` and the other
/// HTML5 names, each ending in `;`). Unless `complete`, a possible reference at the very end,
/// which the next chunk may complete, is left out of [`Decoded::covered`].
pub(crate) fn decode(raw: &str, complete: bool) -> Decoded<'_> {
    // memchr: most pieces are short and hold no reference; this is the hot path.
    let Some(first) = memchr::memchr(b'&', raw.as_bytes()) else {
        return verbatim(raw);
    };
    let mut text = String::with_capacity(raw.len());
    let mut pieces = Vec::new();
    let mut plain_start = 0;
    let mut at = first;
    let mut covered = raw.len();
    let push_plain = |text: &mut String, pieces: &mut Vec<Piece>, from: usize, to: usize| {
        if from < to {
            pieces.push(Piece { decoded: text.len(), raw: from, raw_len: to - from, reference: false });
            text.push_str(&raw[from..to]);
        }
    };
    let mut utf8 = [0; 4];
    while let Some(offset) = memchr::memchr(b'&', &raw.as_bytes()[at..]) {
        let start = at + offset;
        let (decoded, len): (&str, usize) = match reference_at(&raw[start..]) {
            Reference::Char(c, len) => (c.encode_utf8(&mut utf8), len),
            Reference::Named(named, len) => (named, len),
            Reference::Unfinished if !complete => {
                covered = start;
                break;
            }
            Reference::Unfinished | Reference::None => {
                at = start + 1;
                continue;
            }
        };
        push_plain(&mut text, &mut pieces, plain_start, start);
        pieces.push(Piece { decoded: text.len(), raw: start, raw_len: len, reference: true });
        text.push_str(decoded);
        plain_start = start + len;
        at = plain_start;
    }
    push_plain(&mut text, &mut pieces, plain_start, covered);
    Decoded { text: Cow::Owned(text), pieces, covered }
}

enum Reference {
    /// A numeric reference decoding to this character, this many source bytes long.
    Char(char, usize),
    /// A named reference decoding to this text (one character, or two for a few names),
    /// this many source bytes long.
    Named(&'static str, usize),
    /// Could become a reference if more text followed.
    Unfinished,
    /// Just an `&`.
    None,
}

/// Reads the reference `text` starts with (`text` starts with `&`).
fn reference_at(text: &str) -> Reference {
    let body = &text[1..];
    let (digits_from, radix) = match body.as_bytes() {
        [b'#', b'x' | b'X', ..] => (2, 16),
        [b'#', ..] => (1, 10),
        _ => (0, 0),
    };
    let name_len = body[digits_from..]
        .bytes()
        .take_while(|b| {
            if radix == 16 {
                b.is_ascii_hexdigit()
            } else if radix == 10 {
                b.is_ascii_digit()
            } else {
                b.is_ascii_alphanumeric()
            }
        })
        .count();
    let end = digits_from + name_len;
    if end >= body.len() {
        return if end + 2 <= MAX_REFERENCE_LEN { Reference::Unfinished } else { Reference::None };
    }
    if body.as_bytes()[end] != b';' || name_len == 0 {
        return Reference::None;
    }
    let len = end + 2;
    if radix != 0 {
        let value = u32::from_str_radix(&body[digits_from..end], radix);
        return Reference::Char(value.map_or(char::REPLACEMENT_CHARACTER, numeric_char), len);
    }
    // The table's keys are whole references, `&` and `;` included (a perfect hash: no
    // search, one hash of at most 33 bytes).
    match ENTITIES.get(&text.as_bytes()[..len]).and_then(|named| std::str::from_utf8(named).ok()) {
        Some(named) => Reference::Named(named, len),
        None => Reference::None,
    }
}

/// What a numeric reference means in HTML: the C1 range is read as windows-1252 (as
/// browsers do), and what is not a character becomes U+FFFD.
fn numeric_char(value: u32) -> char {
    const WINDOWS_1252: [u32; 32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,
        0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
        0x0153, 0x9D, 0x017E, 0x0178,
    ];
    let value = match value {
        0x80..=0x9F => WINDOWS_1252[(value - 0x80) as usize],
        other => other,
    };
    match char::from_u32(value) {
        Some('\0') | None => char::REPLACEMENT_CHARACTER,
        Some(c) => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        let decoded = decode("no references here", false);
        assert!(matches!(decoded.text, Cow::Borrowed(_)));
        assert_eq!(decoded.covered, 18);
        assert_eq!((decoded.raw_start(3), decoded.raw_end(5)), (3, 5));
    }

    #[test]
    fn references_are_decoded_and_mapped_back() {
        let raw = "Tom &amp; Jerry &#8211; caf&eacute; &#x27;x&#39; &unknown; & &";
        let decoded = decode(raw, true);
        assert_eq!(decoded.text, "Tom & Jerry – café 'x' &unknown; & &");
        let amp = decoded.text.find('&').unwrap();
        assert_eq!(&raw[decoded.raw_start(amp)..decoded.raw_end(amp + 1)], "&amp;");
        let cafe = decoded.text.find("café").unwrap();
        assert_eq!(&raw[decoded.raw_start(cafe)..decoded.raw_end(cafe + "café".len())], "caf&eacute;");
        assert_eq!(decoded.covered, raw.len());
    }

    #[test]
    fn a_reference_cut_by_the_chunk_end_is_held() {
        let decoded = decode("fish &am", false);
        assert_eq!(decoded.text, "fish ");
        assert_eq!(decoded.covered, 5);
        assert_eq!(decode("fish &am", true).text, "fish &am");
        assert_eq!(decode("fish &#x2", false).covered, 5);
        assert_eq!(decode("fish &", false).covered, 5);
        // Too long to be a reference: just text.
        let long = format!("&{}", "a".repeat(40));
        assert_eq!(decode(&long, false).covered, long.len());
    }

    #[test]
    fn every_html5_name_is_decoded() {
        // Names HTML 4 did not have, one of them decoding to two code points.
        let raw = "&NewLine;&bigstar;&NotNestedGreaterGreater;&fjlig;!";
        let decoded = decode(raw, true);
        assert_eq!(decoded.text, "\n\u{2605}\u{2AA2}\u{338}fj!");
        // Both code points map back to the whole reference.
        let two = decoded.text.find('\u{2AA2}').unwrap();
        let end = two + "\u{2AA2}\u{338}".len();
        assert_eq!(&raw[decoded.raw_start(two)..decoded.raw_end(end)], "&NotNestedGreaterGreater;");
        assert!(decoded.inside_reference(two + '\u{2AA2}'.len_utf8()));
        assert!(!decoded.inside_reference(two) && !decoded.inside_reference(end));
        // HTML5 reads `&lang;` as U+27E8 (HTML 4 had U+2329); only names ending in `;` decode.
        assert_eq!(decode("&lang;&rang; &copy &bigstar", true).text, "\u{27E8}\u{27E9} &copy &bigstar");
    }

    #[test]
    fn the_longest_name_is_held_until_complete() {
        let longest = "&CounterClockwiseContourIntegral;";
        assert_eq!(longest.len(), MAX_REFERENCE_LEN);
        let raw = format!("x {longest} y");
        for cut in 3..raw.len() - 2 {
            let first = decode(&raw[..cut], false);
            assert_eq!(first.covered, 2, "cut at {cut}: the reference is held");
            let rest = decode(&raw[first.covered..], true);
            assert_eq!(format!("{}{}", first.text, rest.text), "x \u{2233} y", "cut at {cut}");
        }
    }

    #[test]
    fn numeric_references_follow_html() {
        assert_eq!(decode("&#150;&#0;&#xD800;&#1114112;", true).text, "–\u{fffd}\u{fffd}\u{fffd}");
    }
}
