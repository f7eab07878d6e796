//! Pages in other ASCII-compatible encodings are rewritten in their own encoding: text
//! rules see the characters, inserted text is encoded for the page, other bytes are kept.

#![cfg(not(target_arch = "wasm32"))]

use edge_rewriter::{RequestContext, RewriteOptions, RuleSet, http::PageEncoding, stream};

use crate::common::rewrite_every_chunking;

const RULES: &str = r#"[
    {"id":"banner","selector":"body","actions":[{"prepend":{"text":"Soldes à 20 € "}}]},
    {"id":"cafe","actions":[{"replace_text":{"find":"café","replace":"bistro – “chez nous”"}}]}
]"#;

fn rewrite(page: &[u8], content_type: Option<&str>) -> Vec<u8> {
    let (rules, errors) = RuleSet::from_entries(&[("t".into(), RULES.into())]);
    assert!(errors.is_empty(), "{errors:?}");
    let plan = rules.plan(&RequestContext::default());
    let encoding = PageEncoding::from_content_type(content_type).unwrap();
    rewrite_every_chunking(&[1, 3, page.len()], |read_buffer| {
        stream(&plan, &RewriteOptions { read_buffer, encoding, ..RewriteOptions::default() }, page, Vec::new())
    })
    .sink
}

fn windows_1252(text: &str) -> Vec<u8> {
    encoding_rs::WINDOWS_1252.encode(text).0.into_owned()
}

#[test]
fn a_windows_1252_page_declared_by_the_header_stays_windows_1252() {
    let page = windows_1252("<html><body><p>Le café — ouvert</p></body></html>");
    let out = rewrite(&page, Some("text/html; charset=windows-1252"));
    assert_eq!(out, windows_1252("<html><body>Soldes à 20 € <p>Le bistro – “chez nous” — ouvert</p></body></html>"));
}

#[test]
fn a_meta_charset_is_honoured_when_the_header_names_none() {
    let page = windows_1252("<html><head><meta charset=\"windows-1252\"></head><body><p>café</p></body></html>");
    let out = rewrite(&page, Some("text/html"));
    assert_eq!(
        out,
        windows_1252(
            "<html><head><meta charset=\"windows-1252\"></head><body>Soldes à 20 € <p>bistro – “chez nous”</p></body></html>"
        )
    );
}

#[test]
fn characters_the_page_encoding_lacks_become_references() {
    let page = encoding_rs::ISO_8859_2.encode("<body><p>café</p></body>").0.into_owned();
    let out = rewrite(&page, Some("text/html; charset=iso-8859-2"));
    let text = encoding_rs::ISO_8859_2.decode(&out).0;
    // ISO-8859-2 has no €, no – and no curly quotes: they arrive as numeric references.
    assert!(text.contains("20 &#8364; ") && text.contains("bistro &#8211; &#8220;chez nous&#8221;"), "{text}");
}

#[test]
fn a_utf8_byte_order_mark_beats_the_header() {
    let page = "\u{feff}<body><p>café</p></body>".as_bytes().to_vec();
    let out = rewrite(&page, Some("text/html; charset=windows-1252"));
    assert_eq!(String::from_utf8(out).unwrap(), "\u{feff}<body>Soldes à 20 € <p>bistro – “chez nous”</p></body>");
}

#[test]
fn a_utf16_page_passes_through_unchanged() {
    let mut page = vec![0xFF, 0xFE];
    for unit in "<body><p>café</p></body>".encode_utf16() {
        page.extend_from_slice(&unit.to_le_bytes());
    }
    let (rules, _) = RuleSet::from_entries(&[("t".into(), RULES.into())]);
    let plan = rules.plan(&RequestContext::default());
    for chunk in [1, 2, 5, page.len()] {
        let options = RewriteOptions { read_buffer: chunk, ..RewriteOptions::default() };
        let done = stream(&plan, &options, &page[..], Vec::new());
        done.result.unwrap();
        assert_eq!(done.sink, page, "chunks of {chunk}");
        assert!(done.report.bail_out.as_deref().unwrap_or("").contains("UTF-16"));
    }
}

#[test]
fn a_meta_charset_that_is_not_ascii_compatible_passes_through_untouched() {
    let iso_2022_jp = encoding_rs::ISO_2022_JP
        .encode("<html><head><meta charset=\"iso-2022-jp\"></head><body><p>café 日本</p></body></html>")
        .0;
    let utf_16 = b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-16le\"></head><body><p>caf\xc3\xa9</p></body></html>";
    let utf_7 = b"<html><head><meta charset=UTF-7></head><body><p>caf+AOk-</p></body></html>";
    for page in [&iso_2022_jp[..], &utf_16[..], &utf_7[..]] {
        assert_eq!(rewrite(page, None), page, "{}", String::from_utf8_lossy(page));
    }
    // With the charset in the header instead, the policy passes such pages through before
    // any byte is read; a header charset also wins over the page's <meta>.
    assert_eq!(
        rewrite(utf_7, Some("text/html; charset=utf-8")),
        b"<html><head><meta charset=UTF-7></head><body>Soldes \xc3\xa0 20 \xe2\x82\xac <p>caf+AOk-</p></body></html>"
    );
}

#[test]
fn the_prescan_says_why_a_page_passed_through() {
    let (rules, _) = RuleSet::from_entries(&[("t".into(), RULES.into())]);
    let plan = rules.plan(&RequestContext::default());
    let page = b"<meta charset=utf-16><body>x</body>";
    let done = stream(&plan, &RewriteOptions::default(), &page[..], Vec::new());
    assert_eq!(done.sink, page);
    let reason = done.report.bail_out.unwrap();
    assert!(reason.contains("UTF-16LE") && reason.contains("not ASCII-compatible"), "{reason}");
}
