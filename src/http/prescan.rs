//! The HTML standard's prescan for a `<meta>` charset, run on a page's first bytes when its
//! `Content-Type` names no charset: what encoding a browser will read the page in.

/// How many bytes browsers prescan.
pub const PRESCAN_BYTES: usize = 1024;

/// What the prescan found so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prescan<'a> {
    /// A `<meta>` declares this charset label (as written, not yet looked up).
    Declared(&'a str),
    /// No `<meta>` charset: none in the first 1,024 bytes, or the head is over.
    None,
    /// The bytes end before anything can be said: give more.
    NeedMore,
}

/// Prescans `head`, the page's first bytes; `complete` when no more will come.
///
/// Like a browser, it reads up to 1,024 bytes. It also concludes early, with no charset,
/// once the head is over (`</head>` or `<body>`), so a page whose first bytes arrive slowly
/// is not held back longer than it must be.
pub fn prescan(head: &[u8], complete: bool) -> Prescan<'_> {
    let limit = head.len().min(PRESCAN_BYTES);
    let bytes = &head[..limit];
    let out_of_bytes = if complete || head.len() >= PRESCAN_BYTES { Prescan::None } else { Prescan::NeedMore };
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest[0] != b'<' {
            at += 1;
            continue;
        }
        if rest.starts_with(b"<!--") {
            match find(rest, b"-->", 4) {
                Some(end) => at += end + 3,
                None => return out_of_bytes,
            }
            continue;
        }
        let tag_name_start = if rest.get(1) == Some(&b'/') { 2 } else { 1 };
        if rest.get(tag_name_start).is_some_and(u8::is_ascii_alphabetic) {
            let name_end = rest[tag_name_start..]
                .iter()
                .position(|b| is_space(*b) || *b == b'>' || *b == b'/')
                .map(|p| p + tag_name_start);
            let Some(name_end) = name_end else { return out_of_bytes };
            let name = rest[tag_name_start..name_end].to_ascii_lowercase();
            let end_tag = tag_name_start == 2;
            if name == b"body" || (end_tag && name == b"head") {
                return Prescan::None;
            }
            let mut position = name_end;
            let mut attributes = Vec::new();
            loop {
                match attribute(rest, position) {
                    Attr::Found(name, value, next) => {
                        attributes.push((name, value));
                        position = next;
                    }
                    Attr::TagEnd(next) => {
                        position = next;
                        break;
                    }
                    Attr::NeedMore => return out_of_bytes,
                }
            }
            if !end_tag
                && name == b"meta"
                && let Some(label) = meta_charset(&attributes)
            {
                return Prescan::Declared(label);
            }
            at += position;
            continue;
        }
        if matches!(rest.get(1), Some(b'!' | b'/' | b'?')) {
            match rest.iter().position(|b| *b == b'>') {
                Some(end) => at += end + 1,
                None => return out_of_bytes,
            }
            continue;
        }
        at += 1;
    }
    out_of_bytes
}

enum Attr<'a> {
    Found(String, &'a str, usize),
    TagEnd(usize),
    NeedMore,
}

/// The standard's "get an attribute", from `at` in `tag`.
fn attribute(tag: &[u8], mut at: usize) -> Attr<'_> {
    while at < tag.len() && (is_space(tag[at]) || tag[at] == b'/') {
        at += 1;
    }
    match tag.get(at) {
        None => return Attr::NeedMore,
        Some(b'>') => return Attr::TagEnd(at + 1),
        _ => {}
    }
    let name_start = at;
    while at < tag.len() && !(is_space(tag[at]) || matches!(tag[at], b'=' | b'>' | b'/')) || at == name_start {
        if at >= tag.len() {
            return Attr::NeedMore;
        }
        at += 1;
    }
    let name = String::from_utf8_lossy(&tag[name_start..at]).to_ascii_lowercase();
    while at < tag.len() && is_space(tag[at]) {
        at += 1;
    }
    if tag.get(at) != Some(&b'=') {
        return if at >= tag.len() { Attr::NeedMore } else { Attr::Found(name, "", at) };
    }
    at += 1;
    while at < tag.len() && is_space(tag[at]) {
        at += 1;
    }
    match tag.get(at) {
        None => Attr::NeedMore,
        Some(&quote @ (b'"' | b'\'')) => match tag[at + 1..].iter().position(|b| *b == quote) {
            Some(len) => Attr::Found(name, as_str(&tag[at + 1..at + 1 + len]), at + len + 2),
            None => Attr::NeedMore,
        },
        Some(_) => {
            let start = at;
            while at < tag.len() && !is_space(tag[at]) && tag[at] != b'>' {
                at += 1;
            }
            if at >= tag.len() { Attr::NeedMore } else { Attr::Found(name, as_str(&tag[start..at]), at) }
        }
    }
}

/// The charset a `<meta>` declares: `charset`, or `http-equiv=content-type` with a
/// `content` naming one.
fn meta_charset<'a>(attributes: &[(String, &'a str)]) -> Option<&'a str> {
    let get = |name: &str| attributes.iter().find(|(key, _)| key == name).map(|(_, value)| *value);
    if let Some(charset) = get("charset") {
        return Some(charset.trim());
    }
    let content_type = get("http-equiv").is_some_and(|value| value.trim().eq_ignore_ascii_case("content-type"));
    if !content_type {
        return None;
    }
    charset_in_content(get("content")?)
}

/// "Extract a character encoding from a meta element": `charset=` in a `content` value.
fn charset_in_content(content: &str) -> Option<&str> {
    let lower = content.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find("charset") {
        let mut at = from + found + "charset".len();
        let rest = &content[at..];
        let skipped = rest.len() - rest.trim_start().len();
        at += skipped;
        if !content[at..].starts_with('=') {
            from = at;
            continue;
        }
        let value = content[at + 1..].trim_start();
        return match value.chars().next()? {
            quote @ ('"' | '\'') => value[1..].find(quote).map(|end| &value[1..1 + end]),
            _ => Some(value.split(|c: char| c.is_whitespace() || c == ';').next().unwrap_or("")),
        }
        .filter(|label| !label.is_empty());
    }
    None
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack.get(from..)?.windows(needle.len()).position(|window| window == needle).map(|p| p + from)
}

fn as_str(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or("")
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_charsets_are_found() {
        assert_eq!(prescan(b"<!doctype html><html><head><meta charset=utf-8>", false), Prescan::Declared("utf-8"));
        assert_eq!(prescan(b"<META CHARSET=\"Shift_JIS\">", false), Prescan::Declared("Shift_JIS"));
        assert_eq!(
            prescan(b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-2022-jp\">", false),
            Prescan::Declared("iso-2022-jp")
        );
        assert_eq!(
            prescan(b"<meta content='text/html;charset=\"utf-16\"' http-equiv=content-type>", false),
            Prescan::Declared("utf-16")
        );
        assert_eq!(prescan(b"<!-- <meta charset=x> --><meta charset='utf-7'>", false), Prescan::Declared("utf-7"));
        assert_eq!(prescan(b"<title>a</title><meta name=x><meta charset=euc-kr>", false), Prescan::Declared("euc-kr"));
    }

    #[test]
    fn the_prescan_ends_with_the_head_or_the_first_kilobyte() {
        assert_eq!(prescan(b"<html><head><title>x</title></head><meta charset=x>", false), Prescan::None);
        assert_eq!(prescan(b"<html><body><meta charset=x>", false), Prescan::None);
        assert_eq!(prescan(b"<html><head><title>x", false), Prescan::NeedMore);
        assert_eq!(prescan(b"<html><head><title>x", true), Prescan::None);
        assert_eq!(prescan(b"<meta charset=\"utf", false), Prescan::NeedMore);
        let padded = [&b" ".repeat(1024)[..], b"<meta charset=utf-16>"].concat();
        assert_eq!(prescan(&padded, false), Prescan::None, "only the first 1,024 bytes count");
        assert_eq!(prescan(b"<meta name=description content=\"charset=utf-16\">", true), Prescan::None);
    }
}
