//! A response's media type as browsers read it: every `Content-Type` line counts, as the
//! Fetch standard's "extract a MIME type" says, so two lines (or one line with two types)
//! are read the way the browser will read them, not by taking the first.

/// The media type the `Content-Type` header lines `values` give, serialised
/// (`text/html;charset=utf-8`), or `None` when none of them is a valid type.
///
/// Each line is split at commas outside quotes; each piece is parsed; the last valid one
/// wins, keeping the charset of an earlier piece with the same essence when it has none.
pub fn extract<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut result: Option<MediaType> = None;
    let mut charset: Option<String> = None;
    for value in values {
        for piece in split_outside_quotes(value) {
            let Some(mut parsed) = MediaType::parse(piece) else { continue };
            if parsed.essence() == "*/*" {
                continue;
            }
            let same_essence = result.as_ref().is_some_and(|previous| previous.essence() == parsed.essence());
            if !same_essence {
                charset = parsed.param("charset").map(str::to_owned);
            } else if parsed.param("charset").is_none()
                && let Some(charset) = &charset
            {
                parsed.params.push(("charset".into(), charset.clone()));
            }
            result = Some(parsed);
        }
    }
    result.map(|media_type| media_type.to_string())
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct MediaType {
    kind: String,
    subtype: String,
    params: Vec<(String, String)>,
}

impl MediaType {
    /// The WHATWG MIME Sniffing standard's "parse a MIME type", lenient as browsers are.
    fn parse(text: &str) -> Option<MediaType> {
        let text = text.trim_matches(is_http_space);
        let (kind, rest) = text.split_once('/')?;
        let (subtype, params) = rest.split_once(';').unwrap_or((rest, ""));
        let subtype = subtype.trim_end_matches(is_http_space);
        if !is_token(kind) || !is_token(subtype) {
            return None;
        }
        let mut media_type =
            MediaType { kind: kind.to_ascii_lowercase(), subtype: subtype.to_ascii_lowercase(), params: Vec::new() };
        let mut rest = params;
        while !rest.is_empty() {
            rest = rest.trim_start_matches(is_http_space);
            let name_end = rest.find([';', '=']).unwrap_or(rest.len());
            let name = rest[..name_end].to_ascii_lowercase();
            rest = &rest[name_end..];
            if let Some(after) = rest.strip_prefix(';') {
                rest = after;
                continue;
            }
            rest = rest.strip_prefix('=').unwrap_or(rest);
            let value = if let Some(quoted) = rest.strip_prefix('"') {
                let (value, after) = read_quoted(quoted);
                rest = after.split_once(';').map_or("", |(_, after)| after);
                value
            } else {
                let end = rest.find(';').unwrap_or(rest.len());
                let value = rest[..end].trim_end_matches(is_http_space).to_owned();
                rest = rest.get(end + 1..).unwrap_or("");
                if value.is_empty() {
                    continue;
                }
                value
            };
            if is_token(&name) && media_type.param(&name).is_none() {
                media_type.params.push((name, value));
            }
        }
        Some(media_type)
    }

    fn essence(&self) -> String {
        format!("{}/{}", self.kind, self.subtype)
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

impl std::fmt::Display for MediaType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind, self.subtype)?;
        for (name, value) in &self.params {
            if !value.is_empty() && value.chars().all(is_token_char) {
                write!(f, ";{name}={value}")?;
            } else {
                write!(f, ";{name}=\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))?;
            }
        }
        Ok(())
    }
}

/// A quoted string's value (after its opening quote) and the text after it.
fn read_quoted(text: &str) -> (String, &str) {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return (value, &text[at + 1..]),
            '\\' => match chars.next() {
                Some((_, escaped)) => value.push(escaped),
                None => value.push('\\'),
            },
            c => value.push(c),
        }
    }
    (value, "")
}

/// A header value's comma-separated pieces, commas inside quotes kept.
fn split_outside_quotes(value: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                pieces.push(&value[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    pieces.push(&value[start..]);
    pieces
}

fn is_http_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn is_token(text: &str) -> bool {
    !text.is_empty() && text.chars().all(is_token_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_is_normalised() {
        assert_eq!(extract(["text/html"]), Some("text/html".into()));
        assert_eq!(extract(["Text/HTML; Charset=\"UTF-8\""]), Some("text/html;charset=UTF-8".into()));
        assert_eq!(extract(["text/html ; charset=windows-1252 ; q"]), Some("text/html;charset=windows-1252".into()));
        assert_eq!(extract(["nonsense"]), None);
        assert_eq!(extract(Vec::<&str>::new()), None);
    }

    #[test]
    fn the_last_valid_type_wins_as_in_browsers() {
        assert_eq!(extract(["text/html", "text/plain"]), Some("text/plain".into()));
        assert_eq!(extract(["text/plain", "text/html"]), Some("text/html".into()));
        assert_eq!(extract(["text/html, text/plain"]), Some("text/plain".into()), "one line, two types");
        assert_eq!(extract(["text/plain", "*/*"]), Some("text/plain".into()));
        assert_eq!(extract(["text/html", "garbage"]), Some("text/html".into()));
        assert_eq!(extract(["text/html;x=\"a,b\""]), Some("text/html;x=\"a,b\"".into()), "quoted commas");
    }

    #[test]
    fn a_charset_carries_over_to_the_same_type() {
        assert_eq!(extract(["text/html;charset=shift_jis", "text/html"]), Some("text/html;charset=shift_jis".into()));
        assert_eq!(extract(["text/plain;charset=shift_jis", "text/html"]), Some("text/html".into()));
        assert_eq!(
            extract(["text/html;charset=shift_jis", "text/html;charset=utf-8"]),
            Some("text/html;charset=utf-8".into())
        );
    }
}
