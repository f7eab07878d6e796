//! The patched lol_html (vendor/lol_html.patch): that it is the one built, and that text
//! handlers still get what lol_html promises, whatever the chunking: every character of
//! every text node once, in order, and exactly one last chunk per node.

use std::cell::RefCell;

use encoding_rs::{Encoding, SHIFT_JIS, UTF_8, WINDOWS_1252};
use lol_html::html_content::TextChunk;
use lol_html::{AsciiCompatibleEncoding, HtmlRewriter, Settings, doc_text};
use proptest::prelude::*;

/// The text chunks a document-level text handler sees, as (text, last in its node), for
/// `page` fed to lol_html in the given pieces.
fn text_chunks(pieces: &[&[u8]], encoding: &'static Encoding) -> (Vec<(String, bool)>, Vec<u8>) {
    let chunks = RefCell::new(Vec::new());
    let mut output = Vec::new();
    {
        let settings = Settings::new()
            .append_document_content_handler(doc_text!(|chunk: &mut TextChunk| {
                chunks.borrow_mut().push((chunk.as_str().to_owned(), chunk.last_in_text_node()));
                Ok(())
            }))
            .with_encoding(AsciiCompatibleEncoding::new(encoding).expect("ASCII-compatible"));
        let mut rewriter = HtmlRewriter::new(settings, |bytes: &[u8]| output.extend_from_slice(bytes));
        for piece in pieces {
            rewriter.write(piece).expect("lol_html takes the piece");
        }
        rewriter.end().expect("lol_html ends the page");
    }
    (chunks.into_inner(), output)
}

/// Released lol_html 3.0.3 hands the text after an input boundary over in 1 KiB pieces,
/// through encoding_rs; the patch hands valid text over whole. If this fails, the build is
/// not using vendor/lol_html (see `[patch.crates-io]` in Cargo.toml).
#[test]
fn the_patched_lol_html_is_the_one_built() {
    let text = "a".repeat(1_500);
    let page = format!("<p>{text}{text}</p>");
    let (first, second) = page.as_bytes().split_at(3 + 1_500);
    let (chunks, output) = text_chunks(&[first, second], UTF_8);
    let lengths: Vec<usize> = chunks.iter().map(|(text, _)| text.len()).collect();
    assert_eq!(lengths, [1_500, 1_500, 0], "unpatched, the second half comes in 1 KiB pieces: [1500, 1024, 476, 0]");
    assert_eq!(output, page.as_bytes());
}

/// Characters of one, two, three and four bytes in UTF-8; what windows-1252 and Shift_JIS
/// cannot encode is left out for them.
const ALPHABET: &[char] = &['a', 'Z', ' ', '\n', 'é', '€', 'ß', 'あ', '漢', '😀'];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn every_text_node_reaches_the_handler_whole_and_ends_once(
        nodes in prop::collection::vec(prop::collection::vec(prop::sample::select(ALPHABET), 0..40), 1..6),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        encoding in prop::sample::select(vec![UTF_8, WINDOWS_1252, SHIFT_JIS]),
    ) {
        let nodes: Vec<String> = nodes
            .into_iter()
            .map(|node| node.into_iter().filter(|c| !encoding.encode(&c.to_string()).2).collect())
            .collect();
        let page_text = nodes.join("<b>");
        let page = encoding.encode(&page_text).0.into_owned();
        // Pieces cut anywhere, through a character too.
        let mut at: Vec<usize> = cuts.iter().map(|cut| cut.index(page.len() + 1)).collect();
        at.extend([0, page.len()]);
        at.sort_unstable();
        at.dedup();
        let pieces: Vec<&[u8]> = at.windows(2).map(|pair| &page[pair[0]..pair[1]]).collect();

        let (chunks, output) = text_chunks(&pieces, encoding);
        prop_assert_eq!(&output, &page);
        let mut seen = Vec::new();
        let mut node = String::new();
        for (text, last) in chunks {
            node.push_str(&text);
            if last {
                seen.push(std::mem::take(&mut node));
            }
        }
        prop_assert_eq!(node, "", "text after the last chunk of its node");
        let expected: Vec<String> = nodes.into_iter().filter(|node| !node.is_empty()).collect();
        prop_assert_eq!(seen, expected);
    }
}
