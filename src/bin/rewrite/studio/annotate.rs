//! The studio's walk over a page: every element numbered in document order (its ordinal),
//! with what selectors can say about it (tag, id, classes, attributes, position among its
//! siblings, parent), and, for the previews, a copy of the page where each element carries
//! its ordinal in the studio's own attribute, for a click to name the element.
//!
//! The walk is lol_html's, with the settings the engine streams pages with (lenient parsing,
//! the page's charset), and it keeps the open elements as lol_html's selector matching does:
//! a start tag opens an element unless it is void, and an end tag closes the last open
//! element of its name with everything opened after it. So a parent here is the parent a
//! selector's `>` sees. Proposals are checked against lol_html anyway.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use lol_html::html_content::Element;
use lol_html::{AsciiCompatibleEncoding, ElementContentHandlers, HtmlRewriter, Selector, Settings};

/// One element of the page, as selectors see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementInfo {
    /// From 1, in document order.
    pub ordinal: usize,
    /// Lower case.
    pub tag: String,
    pub id: Option<String>,
    pub classes: Vec<String>,
    /// Every attribute, name (lower case) and value, in order.
    pub attributes: Vec<(String, String)>,
    /// Its position among its parent's element children, from 1 (`:nth-child`).
    pub nth_child: usize,
    /// Its position among its parent's children of its tag, from 1 (`:nth-of-type`).
    pub nth_of_type: usize,
    /// The element it is inside, by ordinal; `None` at the top.
    pub parent: Option<usize>,
}

/// The page's elements, and the numbered copy when asked for.
pub struct Walked {
    pub elements: Vec<ElementInfo>,
    pub annotated: Option<Vec<u8>>,
}

/// Why the studio cannot number a page's elements (it still shows it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalkError {
    #[error("the page's charset, {0}, is not ASCII-compatible: lol_html cannot parse it, and neither can the service")]
    Charset(&'static str),
    #[error("lol_html could not parse the page: {0}")]
    Parse(String),
}

/// Children counted so far under one open element (or the document).
#[derive(Default)]
struct Children {
    all: usize,
    by_tag: HashMap<String, usize>,
}

#[derive(Default)]
struct Walk {
    elements: Vec<ElementInfo>,
    /// Open elements: ordinal and the children counted under it.
    open: Vec<(usize, Children)>,
    top: Children,
}

impl Walk {
    fn enter(&mut self, element: &Element<'_, '_>) -> usize {
        let ordinal = self.elements.len() + 1;
        let tag = element.tag_name().to_ascii_lowercase();
        let (parent, children) = match self.open.last_mut() {
            Some((parent, children)) => (Some(*parent), children),
            None => (None, &mut self.top),
        };
        children.all += 1;
        let of_type = children.by_tag.entry(tag.clone()).or_default();
        *of_type += 1;
        let (nth_child, nth_of_type) = (children.all, *of_type);
        let attributes: Vec<(String, String)> =
            element.attributes().iter().map(|attribute| (attribute.name(), attribute.value())).collect();
        let id = attributes.iter().find(|(name, _)| name == "id").map(|(_, value)| value.clone());
        let classes = attributes
            .iter()
            .find(|(name, _)| name == "class")
            .map(|(_, value)| value.split_ascii_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        self.elements.push(ElementInfo { ordinal, tag, id, classes, attributes, nth_child, nth_of_type, parent });
        ordinal
    }

    /// `ordinal`'s end tag: it closes, with every element opened after it.
    fn leave(&mut self, ordinal: usize) {
        if let Some(at) = self.open.iter().rposition(|(open, _)| *open == ordinal) {
            self.open.truncate(at);
        }
    }
}

/// lol_html's settings for walking `page` as the engine streams it: its charset, lenient.
pub fn settings_for<'h, 's>(charset: &'static encoding_rs::Encoding) -> Result<Settings<'h, 's>, WalkError> {
    let encoding = AsciiCompatibleEncoding::new(charset).ok_or(WalkError::Charset(charset.name()))?;
    Ok(Settings::new().with_encoding(encoding).with_strict(false))
}

/// Walks `page` (in `charset`): its elements, and with `attribute`, the copy of the page in
/// which each element carries its ordinal in that attribute.
pub fn walk(
    page: &[u8],
    charset: &'static encoding_rs::Encoding,
    attribute: Option<&str>,
) -> Result<Walked, WalkError> {
    let state = Rc::new(RefCell::new(Walk::default()));
    let every: Selector = "*".parse().expect("`*` is a selector");
    let handler_state = Rc::clone(&state);
    let attribute_name = attribute.map(str::to_owned);
    let handlers = ElementContentHandlers::default().element(move |element: &mut Element| {
        let ordinal = handler_state.borrow_mut().enter(element);
        if let Some(name) = &attribute_name {
            element.set_attribute(name, &ordinal.to_string())?;
        }
        if element.can_have_content() {
            let children = Children::default();
            handler_state.borrow_mut().open.push((ordinal, children));
            let closing = Rc::clone(&handler_state);
            element.on_end_tag(Box::new(move |_| {
                closing.borrow_mut().leave(ordinal);
                Ok(())
            }))?;
        }
        Ok(())
    });
    let settings = settings_for(charset)?.append_element_content_handler((std::borrow::Cow::Owned(every), handlers));
    let mut output = Vec::with_capacity(if attribute.is_some() { page.len() + page.len() / 8 } else { 0 });
    let keep = attribute.is_some();
    let mut rewriter = HtmlRewriter::new(settings, |chunk: &[u8]| {
        if keep {
            output.extend_from_slice(chunk);
        }
    });
    rewriter.write(page).map_err(|err| WalkError::Parse(err.to_string()))?;
    rewriter.end().map_err(|err| WalkError::Parse(err.to_string()))?;
    let elements = std::mem::take(&mut state.borrow_mut().elements);
    Ok(Walked { elements, annotated: keep.then_some(output) })
}

/// For each selector, the ordinals of the elements it matches on `page`, in page order, by
/// lol_html's own matching (with the engine's settings). A selector lol_html refuses gets
/// `None`.
pub fn matches(
    page: &[u8],
    charset: &'static encoding_rs::Encoding,
    selectors: &[&str],
) -> Result<Vec<Option<Vec<usize>>>, WalkError> {
    // Elements are numbered by a first `*` handler; lol_html runs handlers in the order
    // they are added, so each selector's handler sees the current ordinal.
    let current = Rc::new(std::cell::Cell::new(0usize));
    let found: Rc<RefCell<Vec<Option<Vec<usize>>>>> = Rc::new(RefCell::new(selectors.iter().map(|_| None).collect()));
    let counter = Rc::clone(&current);
    let every: Selector = "*".parse().expect("`*` is a selector");
    let mut settings = settings_for(charset)?.append_element_content_handler((
        std::borrow::Cow::Owned(every),
        ElementContentHandlers::default().element(move |_: &mut Element| {
            counter.set(counter.get() + 1);
            Ok(())
        }),
    ));
    for (index, text) in selectors.iter().enumerate() {
        let Ok(selector) = text.parse::<Selector>() else { continue };
        found.borrow_mut()[index] = Some(Vec::new());
        let (found, current) = (Rc::clone(&found), Rc::clone(&current));
        settings = settings.append_element_content_handler((
            std::borrow::Cow::Owned(selector),
            ElementContentHandlers::default().element(move |_: &mut Element| {
                if let Some(list) = &mut found.borrow_mut()[index] {
                    list.push(current.get());
                }
                Ok(())
            }),
        ));
    }
    let mut rewriter = HtmlRewriter::new(settings, |_: &[u8]| {});
    rewriter.write(page).map_err(|err| WalkError::Parse(err.to_string()))?;
    rewriter.end().map_err(|err| WalkError::Parse(err.to_string()))?;
    Ok(std::mem::take(&mut *found.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UTF8: &encoding_rs::Encoding = encoding_rs::UTF_8;

    #[test]
    fn elements_are_numbered_in_document_order_with_their_parents() {
        let page = b"<html><body><ul id=list><li class='a b'>one<li>two</ul><p>x<br>y</p></body></html>";
        let walked = walk(page, UTF8, Some("data-n")).unwrap();
        let tags: Vec<&str> = walked.elements.iter().map(|e| e.tag.as_str()).collect();
        assert_eq!(tags, ["html", "body", "ul", "li", "li", "p", "br"]);
        let li = &walked.elements[3];
        assert_eq!((li.classes.clone(), li.parent, li.nth_child), (vec!["a".into(), "b".into()], Some(3), 1));
        // As lol_html's matching sees it: the second <li> is inside the first (no implicit close).
        assert_eq!(walked.elements[4].parent, Some(4));
        // </ul> closed both: the <p> is the body's second child.
        assert_eq!((walked.elements[5].parent, walked.elements[5].nth_child), (Some(2), 2));
        assert_eq!(walked.elements[6].parent, Some(6));
        let annotated = String::from_utf8(walked.annotated.unwrap()).unwrap();
        assert!(annotated.contains(r#"<ul id=list data-n="3">"#), "{annotated}");
        assert!(annotated.contains(r#"<br data-n="7">"#), "{annotated}");
    }

    #[test]
    fn selectors_match_as_lol_html_matches() {
        let page = b"<ul><li>one<li>two</ul><div class=x><p>a</p></div>";
        let found = matches(page, UTF8, &["li", "ul > li", ".x p", "p:last-child", "div"]).unwrap();
        assert_eq!(found[0], Some(vec![2, 3]));
        // The second <li> is inside the first for lol_html: `ul > li` does not reach it.
        assert_eq!(found[1], Some(vec![2]));
        assert_eq!(found[2], Some(vec![5]));
        assert_eq!(found[3], None);
        assert_eq!(found[4], Some(vec![4]));
    }

    #[test]
    fn a_charset_lol_html_cannot_parse_is_said() {
        let err = walk(b"<p>x</p>", encoding_rs::ISO_2022_JP, None).err().unwrap();
        assert!(err.to_string().contains("ISO-2022-JP"), "{err}");
    }
}
