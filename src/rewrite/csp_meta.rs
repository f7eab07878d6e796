//! `csp_add` in the page: a policy in `<meta http-equiv="Content-Security-Policy">` binds the
//! page as a header does (the browser enforces both), so the sources a rule adds to the
//! headers are added to it too, or what the rule inserts would still be blocked.
//!
//! Only enforced policies: browsers ignore a report-only policy in `<meta>`.

use std::borrow::Cow;
use std::rc::Rc;

use lol_html::html_content::Element;
use lol_html::{ElementContentHandlers, Selector, Settings};

use super::meter::{CpuMeter, Go};
use crate::http::csp::add_sources;
use crate::rules::cost::{ATTRIBUTE_NS, HANDLER_NS};

/// Adds a handler to `settings` that adds `additions` (directive, sources; checked) to
/// every `<meta http-equiv="Content-Security-Policy">` (compared without regard to case).
pub(crate) fn register<'h>(
    settings: Settings<'h, 'h>,
    additions: Vec<(String, Vec<String>)>,
    meter: &Rc<CpuMeter>,
) -> Settings<'h, 'h> {
    let selector: Selector = "meta[http-equiv]".parse().expect("a valid selector");
    let meter = Rc::clone(meter);
    settings.append_element_content_handler((
        Cow::Owned(selector),
        ElementContentHandlers::default().element(move |el: &mut Element| {
            if meter.element(HANDLER_NS + ATTRIBUTE_NS)? == Go::Skip {
                return Ok(());
            }
            let is_policy = el
                .get_attribute("http-equiv")
                .is_some_and(|equiv| equiv.trim().eq_ignore_ascii_case("content-security-policy"));
            if let (true, Some(policy)) = (is_policy, el.get_attribute("content")) {
                el.set_attribute("content", &add_sources(&policy, &additions).0)?;
            }
            Ok(())
        }),
    ))
}

#[cfg(test)]
mod tests {
    use crate::http::request::RequestContext;
    use crate::rewrite::stream::{RewriteOptions, stream};
    use crate::rules::compile::RuleSet;

    fn rewrite(rule: &str, page: &str) -> String {
        let (rules, errors) = RuleSet::from_entries(&[("e".into(), rule.into())]);
        assert!(errors.is_empty(), "{errors:?}");
        let plan = rules.plan(&RequestContext::for_url("GET", "https://www.example.com/").unwrap());
        let done = stream(&plan, &RewriteOptions::default(), page.as_bytes(), Vec::new());
        done.result.unwrap();
        String::from_utf8(done.sink).unwrap()
    }

    const ADD: &str = r#"{"id": "csp", "actions": [{"csp_add": {"script-src": ["https://analytics.example"]}}]}"#;

    #[test]
    fn meta_policies_get_the_sources() {
        let page = r#"<head><META HTTP-EQUIV="content-security-policy" content="default-src 'self'"><meta http-equiv="refresh" content="5"></head>"#;
        assert_eq!(
            rewrite(ADD, page),
            r#"<head><META HTTP-EQUIV="content-security-policy" content="default-src 'self'; script-src 'self' https://analytics.example"><meta http-equiv="refresh" content="5"></head>"#
        );
    }

    #[test]
    fn report_only_meta_and_pages_without_a_policy_are_left_alone() {
        let page = r#"<meta http-equiv="Content-Security-Policy-Report-Only" content="script-src 'self'"><p>x</p>"#;
        assert_eq!(rewrite(ADD, page), page);
    }

    #[test]
    fn shadow_rules_leave_the_meta_alone() {
        let page = r#"<meta http-equiv="Content-Security-Policy" content="script-src 'self'">"#;
        let shadow = ADD.replace(r#""id": "csp","#, r#""id": "csp", "mode": "shadow","#);
        assert_eq!(rewrite(&shadow, page), page);
    }
}
