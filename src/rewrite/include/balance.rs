//! A fragment's markup on its way into the page, kept so that it can stop at any byte and
//! leave the rest of the page as the origin wrote it.
//!
//! A fragment may stop anywhere: cut at its `max_bytes`, by a failure or a timeout mid-body,
//! or by a body that simply ends inside a tag. Written up to that byte, it could end inside
//! a tag, an attribute value or a character, and the page after the include would be read as
//! part of it. So the fragment goes through lol_html's tokenizer first, and only what is
//! complete passes on: whole tags, comments and characters, never part of a `<script>` (a
//! script is inserted whole or not at all: half a script is code no one wrote). A start tag
//! pushes its element on a stack, its end tag pops it (with what it closes, as lol_html
//! pops them); when the fragment stops, the elements it left open are closed.
//!
//! Tokens pass unchanged: lol_html writes the bytes of a token no handler changed exactly as
//! they came, so a fragment that is whole and balanced goes in byte for byte.
//!
//! One place where lol_html and a browser read the same bytes differently: an end tag inside
//! SVG or MathML that closes nothing the fragment opened (`<svg></div>`). A browser closes the
//! *page's* elements with it and leaves foreign content, lol_html (which does not know the
//! page's elements) stays in it, and from there on `<![CDATA[`, `<style>` or `<!--` are read
//! differently: a cut could leave a comment open that swallows the rest of the page. So the
//! fragment is cut before such an end tag.

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;

use lol_html::html_content::{Element, EndTag, TextChunk, TextType};
use lol_html::{HtmlRewriter, MemorySettings, Settings, doc_comments, doc_text, element, end_tag};

/// Parser memory one fragment may use (a tag or comment larger than this cuts the fragment
/// before it).
const MAX_MEMORY: usize = 1 << 20;

/// Elements whose end tags are never written: closing them would not end anything the
/// fragment began (the page's own `<html>`, `<head>` and `<body>` hold the include).
const NEVER_CLOSED: [&str; 3] = ["html", "head", "body"];

/// How a fragment's markup ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Every byte went in (elements left open, if any, were closed after it).
    Whole,
    /// The end of the fragment was left out, and why; the elements it opened were closed.
    Cut(String),
}

/// What the tokenizer has seen, shared with its handlers and its output.
#[derive(Default)]
struct Seen {
    /// lol_html's output not yet passed on.
    pending: Vec<u8>,
    /// The elements open, outermost first.
    open: Vec<OpenElement>,
    /// Where in `pending` a script begins whose end tag has not come yet.
    script_from: Option<usize>,
    /// The open script's place in `open`.
    script_depth: usize,
    /// Bytes lol_html has written out in all.
    emitted: u64,
    /// Inside a CDATA section (in SVG or MathML) whose `]]>` has not come yet: a cut there
    /// ends the section first, or the page after the include would be read as its text.
    in_cdata: bool,
    /// A handler saw the token lol_html writes next: output without one is markup no handler
    /// sees (end tags of elements the fragment did not open, doctypes, CDATA's brackets).
    captured: bool,
    /// Why the fragment's markup takes no more: lol_html cannot read past a point, or its
    /// reading stopped being a browser's there (see the module's doc). Nothing after that
    /// point passes on, and the handlers keep what was open at it.
    stopped: Option<String>,
}

/// An element the fragment opened.
struct OpenElement {
    name: String,
    /// In SVG or MathML: there an end tag that closes nothing of the fragment's would close
    /// the page's elements in a browser.
    foreign: bool,
}

impl Seen {
    /// Whether the element written into now is SVG or MathML.
    fn in_foreign_content(&self) -> bool {
        self.open.last().is_some_and(|el| el.foreign)
    }

    /// Output no handler saw: an end tag in it, inside foreign content, is one that closes
    /// nothing the fragment opened.
    fn check_unseen_markup(&mut self, bytes: &[u8]) {
        if self.in_foreign_content() && has_end_tag(bytes) {
            self.stopped = Some(STRAY_END_TAG.to_owned());
        }
    }
}

const CLOSES_FOREIGN: &str = "the fragment closes SVG or MathML with the end tag of an element around it (lol_html \
                              would read what follows as SVG or MathML, a browser would not)";

const STRAY_END_TAG: &str = "the fragment has an end tag inside SVG or MathML that closes nothing it opened (a browser \
                             would close the page's elements with it)";

/// Whether `bytes` hold the start of an end tag (`</` and a letter).
fn has_end_tag(bytes: &[u8]) -> bool {
    bytes.windows(3).any(|w| w[0] == b'<' && w[1] == b'/' && w[2].is_ascii_alphabetic())
}

type Output = Box<dyn FnMut(&[u8])>;

/// Fragment markup in, the complete part of it out; see the module's doc.
pub(crate) struct BalancedMarkup {
    rewriter: Option<HtmlRewriter<'static, Output>>,
    seen: Rc<RefCell<Seen>>,
    /// Bytes given to lol_html in all.
    fed: u64,
}

impl BalancedMarkup {
    pub fn new() -> Self {
        let seen = Rc::new(RefCell::new(Seen::default()));
        let on_element = Rc::clone(&seen);
        let on_text = Rc::clone(&seen);
        let on_comment = Rc::clone(&seen);
        let output = Rc::clone(&seen);
        let settings = Settings::new()
            .append_element_content_handler(element!("*", move |el: &mut Element| {
                open_element(&on_element, el);
                Ok(())
            }))
            // A comment goes out once it is whole (with no handler, lol_html may pass the
            // start of one along before its end is known).
            .append_document_content_handler(doc_comments!(move |_| {
                on_comment.borrow_mut().captured = true;
                Ok(())
            }))
            .append_document_content_handler(doc_text!(move |text: &mut TextChunk<'_>| {
                let mut seen = on_text.borrow_mut();
                if seen.stopped.is_some() {
                    return Ok(());
                }
                seen.in_cdata = text.text_type() == TextType::CDataSection && !text.last_in_text_node();
                // lol_html writes nothing for an empty chunk (the end of a text node).
                seen.captured = !text.as_str().is_empty();
                Ok(())
            }))
            .with_memory_settings(MemorySettings::new().with_max_allowed_memory_usage(MAX_MEMORY))
            // As for pages: markup strict mode finds ambiguous would stop the fragment.
            .with_strict(false);
        let sink: Output = Box::new(move |bytes: &[u8]| {
            let mut seen = output.borrow_mut();
            seen.emitted += bytes.len() as u64;
            if !std::mem::take(&mut seen.captured) {
                seen.check_unseen_markup(bytes);
            }
            if seen.stopped.is_some() {
                return;
            }
            seen.pending.extend_from_slice(bytes);
            // A CDATA section's start goes out before any of its text (in HTML content the
            // same bytes begin a bogus comment, which goes out whole, `>` and all).
            if bytes.ends_with(b"<![CDATA[") {
                seen.in_cdata = true;
            }
        });
        Self { rewriter: Some(HtmlRewriter::new(settings, sink)), seen, fed: 0 }
    }

    /// Takes `bytes` of the fragment and writes to `out` what is now complete.
    pub fn write(&mut self, bytes: &[u8], out: &mut dyn Write) -> io::Result<()> {
        if self.is_stopped() {
            return Ok(());
        }
        let Some(rewriter) = &mut self.rewriter else { return Ok(()) };
        self.fed += bytes.len() as u64;
        if let Err(err) = rewriter.write(bytes) {
            // lol_html cannot take more (a tag over the memory cap): the fragment stops at
            // the last complete part.
            self.seen.borrow_mut().stopped =
                Some(format!("the fragment's markup cannot be read past {} bytes: {err}", self.fed));
        }
        if self.is_stopped() {
            self.rewriter = None;
        }
        self.pass_complete(out)
    }

    /// Why the markup cannot take more of the fragment, once that is so.
    pub fn failed(&self) -> Option<String> {
        self.seen.borrow().stopped.clone()
    }

    fn is_stopped(&self) -> bool {
        self.seen.borrow().stopped.is_some()
    }

    /// The fragment ended: writes the rest of it, unless it ends inside a tag, a comment, a
    /// character or a script (then those are left out), and closes what it left open.
    pub fn end(mut self, out: &mut dyn Write) -> io::Result<Ending> {
        if let Some(why) = self.failed() {
            self.close(out)?;
            return Ok(Ending::Cut(why));
        }
        let unfinished = {
            let seen = self.seen.borrow();
            let held = self.fed - seen.emitted;
            if seen.script_from.is_some() {
                Some("the fragment ends inside a <script>")
            } else if held > 0 || !seen.pending.is_empty() {
                Some("the fragment ends inside a tag, a comment or a character")
            } else {
                None
            }
        };
        if let Some(why) = unfinished {
            self.close(out)?;
            return Ok(Ending::Cut(why.to_owned()));
        }
        if let Some(rewriter) = self.rewriter.take()
            && let Err(err) = rewriter.end()
        {
            self.close(out)?;
            return Ok(Ending::Cut(format!("the fragment's markup cannot be read to its end: {err}")));
        }
        // What lol_html read at its end may have stopped the markup: then it is cut there.
        self.pass_complete(out)?;
        self.close(out)?;
        Ok(self.failed().map_or(Ending::Whole, Ending::Cut))
    }

    /// The fragment stops here: what is incomplete is left out, and the elements it opened
    /// are closed.
    pub fn cut(mut self, out: &mut dyn Write) -> io::Result<()> {
        self.close(out)
    }

    /// Passes on what lol_html wrote: all of it but an unfinished script and the start of a
    /// character.
    fn pass_complete(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let mut seen = self.seen.borrow_mut();
        let ready = seen.script_from.unwrap_or(seen.pending.len());
        let ready = complete_utf8_len(&seen.pending[..ready]);
        if ready == 0 {
            return Ok(());
        }
        out.write_all(&seen.pending[..ready])?;
        seen.pending.drain(..ready);
        if let Some(from) = &mut seen.script_from {
            *from -= ready;
        }
        Ok(())
    }

    /// Leaves out what did not pass on, and writes end tags for the elements still open.
    fn close(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.rewriter = None;
        let mut seen = self.seen.borrow_mut();
        seen.pending.clear();
        if seen.script_from.take().is_some() {
            // Nothing of the script went out: its element is not closed, it never began.
            let depth = seen.script_depth;
            seen.open.truncate(depth);
        }
        let mut end_tags = String::new();
        if std::mem::take(&mut seen.in_cdata) {
            end_tags.push_str("]]>");
        }
        for el in seen.open.drain(..).rev() {
            if !NEVER_CLOSED.contains(&el.name.as_str()) {
                end_tags.push_str("</");
                end_tags.push_str(&el.name);
                end_tags.push('>');
            }
        }
        out.write_all(end_tags.as_bytes())
    }
}

/// A start tag: its element is open until its end tag, or the end tag of an element around
/// it, comes. Void elements and self-closed foreign ones never open.
fn open_element(seen: &Rc<RefCell<Seen>>, el: &mut Element) {
    let mut state = seen.borrow_mut();
    state.captured = true;
    if state.stopped.is_some() {
        return;
    }
    // No tag begins inside a CDATA section: one that had begun has ended.
    state.in_cdata = false;
    if !el.can_have_content() {
        return;
    }
    let name = el.tag_name();
    let html = el.namespace_uri() == "http://www.w3.org/1999/xhtml";
    let depth = state.open.len();
    // lol_html calls this before it writes the start tag out: the script begins here.
    if name == "script" && html && state.script_from.is_none() {
        state.script_from = Some(state.pending.len());
        state.script_depth = depth;
    }
    state.open.push(OpenElement { name: name.clone(), foreign: !html });
    drop(state);
    let seen = Rc::clone(seen);
    // lol_html calls this for every element an end tag closes, innermost first, with that
    // end tag; truncating to this element's depth closes any it did not call it for.
    let closed = end_tag!(move |end: &mut EndTag<'_>| {
        let mut state = seen.borrow_mut();
        state.captured = true;
        if state.stopped.is_some() {
            // What was open where the markup stopped is what gets closed.
            return Ok(());
        }
        state.in_cdata = false;
        // SVG or MathML closed by an HTML element's end tag: a browser leaves foreign content
        // there, lol_html only at `</svg>` or `</math>`.
        if !html && !end.name().eq_ignore_ascii_case(&name) {
            let closer = end.name();
            let by = state.open[..depth].iter().rev().find(|el| el.name.eq_ignore_ascii_case(&closer));
            if !by.is_some_and(|el| el.foreign) {
                state.stopped = Some(CLOSES_FOREIGN.to_owned());
                return Ok(());
            }
        }
        state.open.truncate(depth);
        if state.script_from.is_some() && state.script_depth >= depth {
            // The end tag goes out right after this handler: the script is whole.
            state.script_from = None;
        }
        Ok(())
    });
    // Never fails: the element can have content.
    let _ = el.on_end_tag(closed);
}

/// How much of `bytes` is whole characters: all of it but a character cut at its end
/// (bytes that could never be UTF-8 count as whole; they pass as they came).
fn complete_utf8_len(bytes: &[u8]) -> usize {
    let len = bytes.len();
    for start in (len.saturating_sub(3)..len).rev() {
        if bytes[start] & 0xC0 != 0x80 {
            return match std::str::from_utf8(&bytes[start..]) {
                Err(err) if err.valid_up_to() == 0 && err.error_len().is_none() => start,
                _ => len,
            };
        }
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `fragment` fed `chunk` bytes at a time, then ended.
    fn whole(fragment: &[u8], chunk: usize) -> (Vec<u8>, Ending) {
        let mut markup = BalancedMarkup::new();
        let mut out = Vec::new();
        for piece in fragment.chunks(chunk.max(1)) {
            markup.write(piece, &mut out).unwrap();
        }
        let ending = markup.end(&mut out).unwrap();
        (out, ending)
    }

    /// `fragment` cut after `at` bytes (fed in one piece).
    fn cut_at(fragment: &[u8], at: usize) -> String {
        let mut markup = BalancedMarkup::new();
        let mut out = Vec::new();
        markup.write(&fragment[..at], &mut out).unwrap();
        markup.cut(&mut out).unwrap();
        String::from_utf8(out).expect("valid UTF-8")
    }

    #[test]
    fn a_balanced_fragment_goes_in_byte_for_byte_whatever_the_chunking() {
        let fragment = "<!-- promo --><div class=\"sale\" title='Grüße'><p>20 % <b>off</b><br>now</p><svg><path d=\"M0\"/></svg>\
                        <script>if (a < b) { x = \"</div>\"; }</script><img src=x></div>tail &amp; ✓";
        for chunk in 1..=fragment.len() {
            let (out, ending) = whole(fragment.as_bytes(), chunk);
            assert_eq!(String::from_utf8(out).unwrap(), fragment, "chunks of {chunk}");
            assert_eq!(ending, Ending::Whole);
        }
    }

    #[test]
    fn a_cut_leaves_out_the_unfinished_tag_and_closes_what_is_open() {
        let fragment = "<div class=\"sale\"><a href=\"/x\" title=\"Grüße\">Käse</a></div>";
        // Inside the attribute value, in the middle of `ü`.
        let inside = fragment.find('ü').unwrap() + 1;
        assert_eq!(cut_at(fragment.as_bytes(), inside), "<div class=\"sale\"></div>");
        // Inside text, in the middle of `ä`: the character is left out.
        let text = fragment.find('ä').unwrap() + 1;
        assert_eq!(cut_at(fragment.as_bytes(), text), "<div class=\"sale\"><a href=\"/x\" title=\"Grüße\">K</a></div>");
        // Inside an end tag.
        let end = fragment.find("</a").unwrap() + 2;
        assert_eq!(
            cut_at(fragment.as_bytes(), end),
            "<div class=\"sale\"><a href=\"/x\" title=\"Grüße\">Käse</a></div>"
        );
    }

    #[test]
    fn a_script_goes_in_whole_or_not_at_all() {
        let fragment = "<p>a</p><script>if (a < b) { s = \"</div>\"; }</script><p>b</p>";
        let inside = fragment.find("</div>").unwrap() + 2;
        assert_eq!(cut_at(fragment.as_bytes(), inside), "<p>a</p>");
        let after = fragment.find("<p>b").unwrap();
        assert_eq!(cut_at(fragment.as_bytes(), after), &fragment[..after]);
        let (out, ending) = whole(b"<div><script>var a = 1;", 5);
        assert_eq!(String::from_utf8(out).unwrap(), "<div></div>");
        assert!(matches!(&ending, Ending::Cut(why) if why.contains("script")));
        // After `<!--<script>` in a script, `</script>` does not end it (the HTML standard's
        // "double escaped" state): this script never ends, and it is left out.
        let (out, ending) = whole(b"<p>a</p><script>var s = \"<!--<script>\";</script>", 7);
        assert_eq!(String::from_utf8(out).unwrap(), "<p>a</p>");
        assert!(matches!(&ending, Ending::Cut(why) if why.contains("script")));
    }

    #[test]
    fn a_cut_inside_a_cdata_section_ends_the_section_before_closing_its_elements() {
        let fragment = "<svg><![CDATA[ a < b ]]><text>t</text></svg>";
        for at in 0..=fragment.len() {
            let cut = cut_at(fragment.as_bytes(), at);
            if cut.contains("<![CDATA[") {
                let opened = cut.find("<![CDATA[").unwrap();
                assert!(cut[opened..].contains("]]>"), "cut at {at}: {cut}");
            }
            assert!(cut.ends_with("</svg>") || cut.is_empty(), "cut at {at}: {cut}");
        }
    }

    #[test]
    fn an_end_tag_in_svg_that_closes_nothing_of_the_fragments_cuts_it_there() {
        // A browser closes the page's <div> with it and reads `<![CDATA[>` as a bogus comment,
        // then `<!--` opens a comment: closed by nothing of the fragment's, it would swallow
        // the page (found by the byte-soup property in tests/engine/includes.rs).
        let fragment = "<p>a</p><svg></div><![CDATA[><!--<script>";
        for at in 0..=fragment.len() {
            let cut = cut_at(fragment.as_bytes(), at);
            assert!(!cut.contains("</div>") && !cut.contains("<!--"), "cut at {at}: {cut}");
        }
        let (out, ending) = whole(fragment.as_bytes(), 3);
        assert_eq!(String::from_utf8(out).unwrap(), "<p>a</p><svg></svg>");
        assert!(matches!(&ending, Ending::Cut(why) if why.contains("closes nothing")), "{ending:?}");
        // Whole and balanced as lol_html reads it, still cut: a browser reads it otherwise.
        let (out, ending) = whole(b"<svg><g></span><![CDATA[<!--]]></g></svg><p>b</p>", 4);
        assert_eq!(String::from_utf8(out).unwrap(), "<svg><g></g></svg>");
        assert!(matches!(ending, Ending::Cut(_)), "{ending:?}");
    }

    #[test]
    fn an_html_end_tag_that_closes_svg_inside_its_element_cuts_the_fragment_there() {
        let (out, ending) = whole(b"<div><svg><g></div><![CDATA[<!--]]>", 5);
        assert_eq!(String::from_utf8(out).unwrap(), "<div><svg><g></g></svg></div>");
        assert!(matches!(&ending, Ending::Cut(why) if why.contains("SVG or MathML")), "{ending:?}");
        // Closed by their own end tags, SVG and MathML go in byte for byte.
        let fragment = "<div><svg><g><![CDATA[ a < b ]]></g></svg><math><mi>x</mi></math></div>";
        assert_eq!(whole(fragment.as_bytes(), 2), (fragment.as_bytes().to_vec(), Ending::Whole));
    }

    #[test]
    fn comments_go_in_whole() {
        let fragment = "<p>a<!-- a <b> comment --></p>";
        let inside = fragment.find("<b>").unwrap();
        assert_eq!(cut_at(fragment.as_bytes(), inside), "<p>a</p>");
    }

    #[test]
    fn an_end_tag_closes_what_it_encloses_and_stray_ones_close_nothing() {
        let fragment = "<div><span><i>x</div><section>y</span>";
        assert_eq!(cut_at(fragment.as_bytes(), fragment.len()), format!("{fragment}</section>"));
        // Void elements and self-closed foreign ones never open.
        let fragment = "<p><br><img src=x><svg><circle/><g>";
        assert_eq!(cut_at(fragment.as_bytes(), fragment.len()), format!("{fragment}</g></svg></p>"));
    }

    #[test]
    fn a_fragment_that_ends_inside_a_tag_is_cut_there() {
        let (out, ending) = whole("<div><a href=\"/x\" title=\"Grü".as_bytes(), 3);
        assert_eq!(String::from_utf8(out).unwrap(), "<div></div>");
        assert!(matches!(ending, Ending::Cut(_)), "{ending:?}");
        // Left open but ending in text: whole, and closed.
        let (out, ending) = whole(b"<ul><li>one<li>two", 4);
        assert_eq!(String::from_utf8(out).unwrap(), "<ul><li>one<li>two</li></li></ul>");
        assert_eq!(ending, Ending::Whole);
    }

    #[test]
    fn the_pages_own_elements_are_never_closed() {
        let fragment = "<html><body><p>x";
        assert_eq!(cut_at(fragment.as_bytes(), fragment.len()), "<html><body><p>x</p>");
    }

    #[test]
    fn a_tag_over_the_memory_cap_cuts_the_fragment_before_it() {
        let mut fragment = b"<div><p>a</p><img alt=\"".to_vec();
        fragment.resize(fragment.len() + MAX_MEMORY * 2, b'x');
        fragment.extend_from_slice(b"\"><p>b</p></div>");
        let (out, ending) = whole(&fragment, 64 << 10);
        assert_eq!(String::from_utf8(out).unwrap(), "<div><p>a</p></div>");
        assert!(matches!(&ending, Ending::Cut(why) if why.contains("cannot be read")), "{ending:?}");
    }

    #[test]
    fn complete_utf8_len_keeps_back_only_a_started_character() {
        assert_eq!(complete_utf8_len("aü".as_bytes()), 3);
        assert_eq!(complete_utf8_len(&"aü".as_bytes()[..2]), 1);
        assert_eq!(complete_utf8_len(&"a✓".as_bytes()[..3]), 1);
        assert_eq!(complete_utf8_len(b"a\xff"), 2);
        assert_eq!(complete_utf8_len(b"\x80\x80\x80\x80"), 4);
        assert_eq!(complete_utf8_len(b""), 0);
    }
}
