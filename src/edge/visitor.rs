//! A response whose page depends on who asks (an experiment considered the request): kept out
//! of shared caches, and the visitor cookie set when an experiment assigned a new visitor.
//!
//! Two steps, because they differ in whom they are for: `Cache-Control` is the same for every
//! visitor who gets this variant of the page (a cache of rewritten pages may keep it with
//! the page), the cookie belongs to one visitor (it must only ever go to the client, never
//! into anything kept for others).

use edge_rewriter::{Plan, private_cache_control, visitor_cookie};
use fastly::Response;
use fastly::http::header::{CACHE_CONTROL, SET_COOKIE};

/// Makes the page private to downstream caches when it depends on the visitor, and never
/// cached when QA forced a variant.
pub fn keep_private(response: &mut Response, plan: &Plan<'_>) {
    if plan.forced() {
        // A QA view, not a visitor's: no cache keeps it.
        response.set_header(CACHE_CONTROL, "private, no-store");
    } else if plan.per_visitor() {
        let origin = response.get_header_all_str_lossy(CACHE_CONTROL).join(", ");
        response.set_header(CACHE_CONTROL, private_cache_control(Some(&origin)));
    }
}

/// Gives a visitor the experiment assigned by a new id the cookie holding it. For the
/// client's response only.
pub fn give_cookie(response: &mut Response, plan: &Plan<'_>) {
    if let Some(id) = plan.new_visitor_id() {
        // Appended: the origin's own cookies stay.
        response.append_header(SET_COOKIE, visitor_cookie(id));
    }
}

#[cfg(test)]
mod tests {
    use edge_rewriter::{RequestContext, RuleSet};

    use super::*;

    const EXPERIMENT: &str = r#"{"id": "hero", "selector": "body", "experiment": {"id": "hero",
        "variants": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}]}}"#;

    fn marked(context: &RequestContext) -> Response {
        let (rules, errors) = RuleSet::from_entries(&[("e".into(), EXPERIMENT.into())]);
        assert!(errors.is_empty(), "{errors:?}");
        let mut response = Response::from_status(200)
            .with_header(CACHE_CONTROL, "public, max-age=600")
            .with_header(SET_COOKIE, "origin=1");
        let plan = rules.plan(context);
        keep_private(&mut response, &plan);
        give_cookie(&mut response, &plan);
        response
    }

    #[test]
    fn a_new_visitor_gets_the_cookie_and_a_private_page() {
        let context = RequestContext { new_visitor_id: Some("0a0b".into()), ..RequestContext::default() };
        let response = marked(&context);
        assert_eq!(response.get_header_str(CACHE_CONTROL), Some("private, max-age=600"));
        let cookies = response.get_header_all_str(SET_COOKIE);
        assert_eq!(cookies.len(), 2, "{cookies:?}");
        assert!(cookies[1].starts_with("edge_vid=0a0b; Path=/;"), "{cookies:?}");
    }

    #[test]
    fn forced_variants_are_never_cached() {
        let context = RequestContext { variants: vec![("hero".into(), "b".into())], ..RequestContext::default() };
        let response = marked(&context);
        assert_eq!(response.get_header_str(CACHE_CONTROL), Some("private, no-store"));
        assert_eq!(response.get_header_all_str(SET_COOKIE), ["origin=1"]);
    }
}
