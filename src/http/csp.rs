//! Content-Security-Policy nonces: a page whose policy allows scripts and styles by nonce
//! would block the ones rules inject, unless they carry the same nonce.

use std::borrow::Cow;

use lol_html::html_content::Element;
use lol_html::{ElementContentHandlers, RewriteStrSettings, Selector, rewrite_str};

/// The nonce a `Content-Security-Policy` allows (`'nonce-abc123'`), if any.
pub fn csp_nonce(policy: &str) -> Option<String> {
    policy.split([' ', ';', ',']).find_map(|source| {
        let nonce = source.trim().strip_prefix("'nonce-")?.strip_suffix('\'')?;
        let valid = !nonce.is_empty() && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=_-".contains(&b));
        valid.then(|| nonce.to_owned())
    })
}

/// `html` with `nonce` on every `<script>` and `<style>` that has none; borrowed when it
/// has neither element.
pub(crate) fn with_nonce<'a>(html: Cow<'a, str>, nonce: &str) -> Cow<'a, str> {
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
    fn nonces_are_found_in_policies() {
        assert_eq!(csp_nonce("script-src 'self' 'nonce-r4nd0m+/='; object-src 'none'"), Some("r4nd0m+/=".into()));
        assert_eq!(csp_nonce("default-src 'self'"), None);
        assert_eq!(csp_nonce("script-src 'nonce-'"), None);
        assert_eq!(csp_nonce("script-src 'nonce-a\"b'"), None);
    }

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
