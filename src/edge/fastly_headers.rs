//! The rules' header edits on a Fastly response: the engine's [`apply_header_edits`] over
//! the response's own headers, so the service applies exactly what `rewrite apply --headers`
//! shows.

use edge_rewriter::http::HeaderList;
use edge_rewriter::{Plan, http::apply_header_edits, response::RewrittenPage};
use fastly::Response;
use fastly::http::HeaderValue;

/// A Fastly response's headers as the engine edits them.
struct ResponseHeaders<'a>(&'a mut Response);

impl HeaderList for ResponseHeaders<'_> {
    fn values(&self, name: &str) -> Vec<String> {
        self.0.get_header_all_str_lossy(name).into_iter().map(|value| value.into_owned()).collect()
    }

    fn set(&mut self, name: &str, value: &str) {
        if let Some(value) = header_value(name, value) {
            self.0.set_header(name, value);
        }
    }

    fn append(&mut self, name: &str, value: &str) {
        if let Some(value) = header_value(name, value) {
            self.0.append_header(name, value);
        }
    }

    fn remove(&mut self, name: &str) {
        self.0.remove_header(name);
    }
}

/// `value` as a header value, or `None` (logged) when the platform would refuse it: rule
/// values are checked and escaped to be valid, but a policy the origin sent is read lossily
/// and written back, and `set_header` would panic on a byte it refuses.
fn header_value(name: &str, value: &str) -> Option<HeaderValue> {
    match HeaderValue::from_bytes(value.as_bytes()) {
        Ok(value) => Some(value),
        Err(_) => {
            log::warn!("header {name}: a rule's edit made a value the platform refuses; the edit is left out");
            None
        }
    }
}

/// Makes a rewritten page's headers what the service sends (the engine's
/// [`edge_rewriter::response::page_headers`]: length, ETag, encoding, downstream caches, the rules'
/// edits); returns the rules' edits, for the log line.
pub fn page_headers(response: &mut Response, page: &RewrittenPage<'_>) -> Vec<String> {
    edge_rewriter::response::page_headers(&mut ResponseHeaders(response), page)
}

/// Gives an experiment's new visitor the cookie holding its id. For the client's response
/// only.
pub fn give_cookie(response: &mut Response, plan: &Plan<'_>) {
    edge_rewriter::response::give_cookie(&mut ResponseHeaders(response), plan);
}

/// Applies the live rules' header edits of `plan` to `response`, before its headers leave;
/// returns what was done, for the log line (`["set x-frame-options", "set_cookie seen"]`).
pub fn apply(response: &mut Response, plan: &Plan<'_>) -> Vec<String> {
    let edits = plan.header_edits();
    if edits.is_empty() {
        return Vec::new();
    }
    apply_header_edits(&edits, &mut ResponseHeaders(response))
}

#[cfg(test)]
mod tests {
    use edge_rewriter::{RequestContext, RuleSet};

    use super::*;

    #[test]
    fn a_plans_edits_change_the_response() {
        let rule = r#"{"id": "h", "actions": [{"set_header": {"name": "X-Frame-Options", "value": "DENY"}},
            {"remove_header": "x-powered-by"}, {"csp_add": {"script-src": ["https://analytics.example"]}},
            {"set_cookie": {"name": "seen", "value": "1"}}]}"#;
        let (rules, errors) = RuleSet::from_entries(&[("e".into(), rule.into())]);
        assert!(errors.is_empty(), "{errors:?}");
        let plan = rules.plan(&RequestContext::for_url("GET", "https://www.example.com/").unwrap());
        let mut response = Response::from_status(200)
            .with_header("x-powered-by", "PHP")
            .with_header("content-security-policy", "script-src 'self'")
            .with_header("set-cookie", "session=1");
        let applied = apply(&mut response, &plan);
        assert_eq!(applied, ["set x-frame-options", "remove x-powered-by", "csp_add script-src", "set_cookie seen"]);
        assert_eq!(response.get_header_str("x-frame-options"), Some("DENY"));
        assert!(!response.contains_header("x-powered-by"));
        assert_eq!(
            response.get_header_str("content-security-policy"),
            Some("script-src 'self' https://analytics.example")
        );
        assert_eq!(response.get_header_all_str("set-cookie").len(), 2);
    }
}
