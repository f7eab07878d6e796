//! The headers the service sends with a page it rewrites, made from the origin's: one home
//! for the Fastly adapter (over its response, through [`HeaderList`]) and for `rewrite apply
//! --headers` (over a list of pairs), so what the CLI shows is what the service sends.
//!
//! In the order the service applies them: the body is new ([`rewritten`]); what downstream
//! caches may do with it ([`for_downstream_caches`], [`keep_private`]); the rules' own header
//! edits ([`apply_header_edits`]); and last, for the client's response only (never for what a
//! cache keeps for others), the visitor cookie an experiment's new visitor gets
//! ([`give_cookie`]).

use crate::http::header_edit::{HeaderList, apply_header_edits};
use crate::http::visitor::{private_cache_control, visitor_cookie};
use crate::rewrite::page_key::PageKey;
use crate::rewrite::plan::Plan;
use crate::rules::dependence::Dependence;

/// Asks Fastly to compress the rewritten body for the client.
pub const COMPRESS_HINT: &str = "x-compress-hint";

/// What a rewritten page's headers are made from, besides the origin's.
#[derive(Debug)]
pub struct RewrittenPage<'a> {
    /// The body was decoded (gzip): it leaves without its `Content-Encoding`.
    pub decoded: bool,
    /// The one `Content-Type` line the rewrite was decided on.
    pub content_type: &'a str,
    /// The page's key: its ETag names it.
    pub page_key: &'a PageKey,
    /// What the rule set's output depends on besides the URL.
    pub dependence: &'a Dependence,
    /// The request's plan: its experiments and header edits.
    pub plan: &'a Plan<'a>,
}

/// Every change the service makes to a rewritten page's headers before they leave, except
/// the visitor cookie ([`give_cookie`], the client's alone). Returns the rules' header
/// edits as the log line names them.
pub fn page_headers(headers: &mut dyn HeaderList, page: &RewrittenPage<'_>) -> Vec<String> {
    rewritten(headers, page.decoded, page.content_type, page.page_key);
    for_downstream_caches(headers, page.dependence);
    keep_private(headers, page.plan);
    let edits = page.plan.header_edits();
    if edits.is_empty() { Vec::new() } else { apply_header_edits(&edits, headers) }
}

/// The rewritten body has a new length and new bytes: the length goes (the body streams),
/// the ETag names the page key (the origin's validator and the rules' output), a decoded body
/// loses its encoding, and Fastly is asked to compress what is sent. `Content-Type` becomes
/// the one line the rewrite was decided on, so the client reads the body exactly as the
/// service did. `Vary` and the rest stay.
pub fn rewritten(headers: &mut dyn HeaderList, decoded: bool, content_type: &str, page_key: &PageKey) {
    headers.remove("content-length");
    headers.set("content-type", content_type);
    let origin_etag = headers.values("etag").into_iter().next();
    headers.set("etag", &page_key.etag(origin_etag.as_deref()));
    if decoded {
        headers.remove("content-encoding");
    }
    headers.set(COMPRESS_HINT, "on");
}

/// What downstream caches (browsers, proxies) may do with a rewritten page: it varies on the
/// request headers the rules read (a cookie condition adds `Cookie`) besides what the origin
/// varies on, as the edge cache does; and a page that depends on what they cannot see (a
/// rollout's client address, the country, the clock) is `private` to them, while the edge
/// keeps it under its full page key. `private` is added to the origin's directives, never in
/// place of them: `no-store`, `no-cache`, `max-age` and the rest reach the client.
pub fn for_downstream_caches(headers: &mut dyn HeaderList, dependence: &Dependence) {
    if !dependence.headers.is_empty() {
        let mut vary: Vec<String> = headers
            .values("vary")
            .iter()
            .flat_map(|line| line.split(',').map(|name| name.trim().to_owned()).collect::<Vec<_>>())
            .filter(|name| !name.is_empty())
            .collect();
        for name in &dependence.headers {
            if !vary.iter().any(|known| known.eq_ignore_ascii_case(name)) {
                vary.push(name.clone());
            }
        }
        headers.set("vary", &vary.join(", "));
    }
    if !dependence.downstream_cacheable() {
        let origin = headers.values("cache-control").join(", ");
        headers.set("cache-control", &private_cache_control(Some(&origin)));
    }
}

/// A page that depends on who asks (an experiment considered the request) is private to
/// shared caches; one QA forced a variant on is kept by no cache at all.
pub fn keep_private(headers: &mut dyn HeaderList, plan: &Plan<'_>) {
    if plan.forced() {
        // A QA view, not a visitor's: no cache keeps it.
        headers.set("cache-control", "private, no-store");
    } else if plan.per_visitor() {
        let origin = headers.values("cache-control").join(", ");
        headers.set("cache-control", &private_cache_control(Some(&origin)));
    }
}

/// Gives a visitor an experiment assigned by a new id the cookie holding it, beside the
/// origin's cookies. For the client's response only.
pub fn give_cookie(headers: &mut dyn HeaderList, plan: &Plan<'_>) {
    if let Some(id) = plan.new_visitor_id() {
        headers.append("set-cookie", &visitor_cookie(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::RequestContext;
    use crate::rules::compile::RuleSet;

    const EXPERIMENT: &str = r#"{"id": "hero", "selector": "body", "experiment": {"id": "hero",
        "variants": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}]}}"#;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
    }

    /// The headers a client gets for `context`, from the origin's `origin`.
    fn sent(rules: &str, context: &RequestContext, origin: &[(&str, &str)]) -> Vec<(String, String)> {
        let (rules, errors) = RuleSet::from_entries(&[("e".into(), rules.into())]);
        assert!(errors.is_empty(), "{errors:?}");
        let plan = rules.plan(context);
        let page_key = PageKey::of(&crate::rewrite::prospect::Prospect::of(&rules, context), "live");
        let page = RewrittenPage {
            decoded: false,
            content_type: "text/html",
            page_key: &page_key,
            dependence: rules.dependence(),
            plan: &plan,
        };
        let mut headers = headers(origin);
        page_headers(&mut headers, &page);
        give_cookie(&mut headers, &plan);
        headers
    }

    fn value<'h>(headers: &'h [(String, String)], name: &str) -> Vec<&'h str> {
        headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    #[test]
    fn downstream_caches_get_private_added_to_the_origins_directives_and_vary_as_the_edge() {
        let (rules, errors) = RuleSet::from_entries(&[(
            "r".into(),
            r#"{"id": "de", "selector": "body", "when": {"geo": {"country": ["DE"]}, "cookie": {"name": "m", "present": true}},
                "actions": [{"append": {"text": "hallo"}}]}"#
                .into(),
        )]);
        assert!(errors.is_empty(), "{errors:?}");
        let mut origin = headers(&[
            ("vary", "Accept-Encoding"),
            ("cache-control", "no-store, no-cache, must-revalidate, max-age=0"),
            ("cache-control", "public, s-maxage=60, stale-if-error=30"),
        ]);
        for_downstream_caches(&mut origin, rules.dependence());
        assert_eq!(
            value(&origin, "cache-control"),
            ["private, no-store, no-cache, must-revalidate, max-age=0, stale-if-error=30"]
        );
        assert_eq!(value(&origin, "vary"), ["Accept-Encoding, cookie"]);
        // Without a Cache-Control, only `private`.
        let mut bare = headers(&[]);
        for_downstream_caches(&mut bare, rules.dependence());
        assert_eq!(value(&bare, "cache-control"), ["private"]);
    }

    #[test]
    fn a_new_visitor_gets_the_cookie_and_a_private_page() {
        let context = RequestContext { new_visitor_id: Some("0a0b".into()), ..RequestContext::default() };
        let origin = [("Cache-Control", "public, max-age=600"), ("Set-Cookie", "origin=1"), ("Content-Length", "9")];
        let sent = sent(EXPERIMENT, &context, &origin);
        assert_eq!(value(&sent, "cache-control"), ["private, max-age=600"]);
        let cookies = value(&sent, "set-cookie");
        assert_eq!(cookies.len(), 2, "{cookies:?}");
        assert!(cookies[1].starts_with("edge_vid=0a0b; Path=/;"), "{cookies:?}");
        assert!(value(&sent, "content-length").is_empty(), "the body streams");
        assert!(value(&sent, "etag")[0].starts_with("W/\"er"), "{sent:?}");
        assert_eq!(value(&sent, COMPRESS_HINT), ["on"]);
    }

    #[test]
    fn forced_variants_are_never_cached_and_give_no_cookie() {
        let context = RequestContext { variants: vec![("hero".into(), "b".into())], ..RequestContext::default() };
        let sent = sent(EXPERIMENT, &context, &[("Cache-Control", "public, max-age=600"), ("Set-Cookie", "origin=1")]);
        assert_eq!(value(&sent, "cache-control"), ["private, no-store"]);
        assert_eq!(value(&sent, "set-cookie"), ["origin=1"]);
    }

    #[test]
    fn the_etag_names_the_origins_and_a_decoded_body_loses_its_encoding() {
        let (rules, _) = RuleSet::from_entries(&[]);
        let context = RequestContext::default();
        let page_key = PageKey::of(&crate::rewrite::prospect::Prospect::of(&rules, &context), "live");
        let mut headers = headers(&[("ETag", "\"v1\""), ("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]);
        rewritten(&mut headers, true, "text/html; charset=utf-8", &page_key);
        assert_eq!(value(&headers, "etag"), [page_key.etag(Some("\"v1\"")).as_str()]);
        assert!(value(&headers, "content-encoding").is_empty());
        assert_eq!(value(&headers, "vary"), ["Accept-Encoding"]);
        assert_eq!(value(&headers, "content-type"), ["text/html; charset=utf-8"]);
    }

    #[test]
    fn downstream_caches_vary_on_what_rules_read_and_see_private_what_they_cannot() {
        let rules = r#"[{"id": "c", "selector": "p", "when": {"cookie": {"name": "member", "present": true}}, "actions": ["remove"]},
                        {"id": "g", "selector": "p", "when": {"geo": {"country": ["DE"]}}, "actions": ["remove"]}]"#;
        let sent = sent(
            rules,
            &RequestContext::default(),
            &[("Vary", "Accept-Encoding"), ("Cache-Control", "public, max-age=60")],
        );
        assert_eq!(value(&sent, "vary"), ["Accept-Encoding, cookie"]);
        assert_eq!(value(&sent, "cache-control"), ["private, max-age=60"]);
    }
}
