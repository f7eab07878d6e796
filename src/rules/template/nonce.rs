//! The page's CSP nonce on the `<script>` and `<style>` elements an editor's markup holds:
//! a page whose policy allows scripts by nonce would block them otherwise. Escaping keeps
//! request values out of them ([`super::landing`]).

use std::borrow::Cow;

use lol_html::html_content::Element;
use lol_html::{ElementContentHandlers, RewriteStrSettings, Selector, rewrite_str};

/// `html` with `nonce` on every `<script>` and `<style>` that has none; borrowed when it
/// has neither element.
pub(super) fn with_nonce<'a>(html: Cow<'a, str>, nonce: &str) -> Cow<'a, str> {
    let lower = html.to_ascii_lowercase();
    if !lower.contains("<script") && !lower.contains("<style") {
        return html;
    }
    let selector: Selector = "script, style".parse().expect("a fixed, valid selector");
    let settings = RewriteStrSettings::new().append_element_content_handler((
        Cow::Owned(selector),
        ElementContentHandlers::default().element(|el: &mut Element| {
            if !el.has_attribute("nonce") {
                el.set_attribute("nonce", nonce)?;
            }
            Ok(())
        }),
    ));
    match rewrite_str(&html, settings) {
        Ok(rewritten) => Cow::Owned(rewritten),
        Err(err) => {
            log::warn!("could not add the page's CSP nonce to inserted content: {err}");
            html
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserted_scripts_and_styles_get_the_nonce() {
        let html = Cow::Borrowed("<script src=a.js></script><STYLE>p{}</STYLE><script nonce=own></script><p>x</p>");
        assert_eq!(
            with_nonce(html, "abc"),
            "<script src=a.js nonce=\"abc\"></script><STYLE nonce=\"abc\">p{}</STYLE><script nonce=own></script><p>x</p>"
        );
        assert!(matches!(with_nonce(Cow::Borrowed("<p>no scripts</p>"), "abc"), Cow::Borrowed(_)));
    }
}
