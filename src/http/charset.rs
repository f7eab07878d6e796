//! Which character encoding a page is in, and whether the rewriter can work in it.
//!
//! lol_html rewrites any ASCII-compatible encoding (UTF-8, windows-1252, ISO-8859-*,
//! Shift_JIS, EUC-KR ...) and writes its output in the same encoding. UTF-16 and the like
//! are passed through untouched.

use encoding_rs::Encoding;
use lol_html::AsciiCompatibleEncoding;

/// A `Content-Type` charset the rewriter cannot work in; the response passes through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CharsetError {
    /// No encoding has this label.
    #[error("unknown charset {0:?}")]
    Unknown(String),
    /// The encoding is not ASCII-compatible (UTF-16, ISO-2022-JP): lol_html cannot parse it.
    #[error("charset {} is not ASCII-compatible", .0.name())]
    NotAsciiCompatible(&'static Encoding),
}

/// The encoding a page is rewritten in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageEncoding {
    /// Named by the `Content-Type` header: it wins over anything in the page.
    Declared(&'static Encoding),
    /// Not declared by the header: UTF-8 until a `<meta charset>` in the page says otherwise.
    Sniffed,
}

impl PageEncoding {
    /// The encoding for a response's `Content-Type`; `Err` names a charset the rewriter cannot
    /// work in (not ASCII-compatible, or unknown), for a pass-through log line.
    pub fn from_content_type(content_type: Option<&str>) -> Result<Self, CharsetError> {
        let Some(label) = content_type.and_then(charset_param) else {
            return Ok(PageEncoding::Sniffed);
        };
        let encoding = Encoding::for_label_no_replacement(label.as_bytes())
            .ok_or_else(|| CharsetError::Unknown(label.to_owned()))?;
        if !encoding.is_ascii_compatible() {
            return Err(CharsetError::NotAsciiCompatible(encoding));
        }
        Ok(PageEncoding::Declared(encoding))
    }

    pub(crate) fn lol_html_encoding(self) -> AsciiCompatibleEncoding {
        match self {
            PageEncoding::Declared(encoding) => {
                AsciiCompatibleEncoding::new(encoding).unwrap_or_else(AsciiCompatibleEncoding::utf_8)
            }
            PageEncoding::Sniffed => AsciiCompatibleEncoding::utf_8(),
        }
    }
}

/// The encoding a `Content-Type`'s charset names (any encoding, ASCII-compatible or not), if
/// it names a known one.
pub(crate) fn declared_encoding(content_type: &str) -> Option<&'static Encoding> {
    charset_param(content_type).and_then(|label| Encoding::for_label_no_replacement(label.as_bytes()))
}

/// The `charset` parameter of a media type, unquoted.
fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim().eq_ignore_ascii_case("charset").then(|| value.trim().trim_matches('"')).filter(|v| !v.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charsets_from_content_types() {
        assert_eq!(PageEncoding::from_content_type(None), Ok(PageEncoding::Sniffed));
        assert_eq!(PageEncoding::from_content_type(Some("text/html")), Ok(PageEncoding::Sniffed));
        assert_eq!(
            PageEncoding::from_content_type(Some("text/html; Charset=\"Windows-1252\"")),
            Ok(PageEncoding::Declared(encoding_rs::WINDOWS_1252))
        );
        assert_eq!(
            PageEncoding::from_content_type(Some("text/html;charset=latin1")),
            Ok(PageEncoding::Declared(encoding_rs::WINDOWS_1252))
        );
        assert_eq!(
            PageEncoding::from_content_type(Some("text/html; charset=Shift_JIS")),
            Ok(PageEncoding::Declared(encoding_rs::SHIFT_JIS))
        );
        assert_eq!(
            PageEncoding::from_content_type(Some("text/html; charset=utf-16le")).unwrap_err().to_string(),
            "charset UTF-16LE is not ASCII-compatible"
        );
        assert_eq!(
            PageEncoding::from_content_type(Some("text/html; charset=klingon")).unwrap_err().to_string(),
            "unknown charset \"klingon\""
        );
    }
}
