//! The key of a rewritten page: everything that can change its bytes, as one digest. The
//! edge cache keys on it, and the page's `ETag` names it.
//!
//! The invariant, held by construction: two requests with the same page key would have been
//! given identical bytes and header edits for *any* origin response. The key is made before
//! the origin answers, so it cannot use what the response decides (status, content type); it
//! takes what the request decides about every rule instead ([`Prospect`]): a rule ruled out by
//! the request contributes only that; a rule that may apply contributes the part of its
//! condition the response must still answer and every request value its templates read, and
//! an experiment that may consider the request contributes its variant(s).
//!
//! What goes in besides: the method, host, path and query; the rule set's version (its
//! digest) and edition. What the origin's response varies on is left to the cache's own
//! `Vary` handling.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::prospect::Prospect;

/// The digest of a rewritten page's key: requests with the same one get the same page
/// for any origin response (see the module's doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageKey([u8; 32]);

impl PageKey {
    /// The key of the page `prospect`'s request gets, in `edition` (`live`, `draft`).
    pub fn of(prospect: &Prospect<'_>, edition: &str) -> PageKey {
        let request = prospect.request();
        let mut hasher = Fields(Sha256::new());
        hasher.field(b"edge-rewriter variant 2");
        hasher.field(edition.as_bytes());
        hasher.field(prospect.rules().digest());
        // HEAD gets the headers GET would get, its ETag included.
        let method = if request.method == "HEAD" { "GET" } else { request.method.as_str() };
        hasher.field(method.as_bytes());
        hasher.field(request.host.as_bytes());
        hasher.field(request.path.as_bytes());
        for (name, value) in &request.query {
            hasher.field(name.as_bytes());
            hasher.field(value.as_bytes());
        }
        prospect.key_fields(&mut |bytes| hasher.field(bytes));
        PageKey(hasher.0.finalize().into())
    }

    /// The cache key: the digest's bytes.
    pub fn key(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first 16 hex digits, for log lines and ETags.
    pub fn short(&self) -> String {
        self.0[..8].iter().fold(String::new(), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
    }

    /// The rewritten page's weak ETag: the origin's validator (if any) and the page key, so a
    /// client's `If-None-Match` names exactly the bytes it holds.
    pub fn etag(&self, origin_etag: Option<&str>) -> String {
        let origin = origin_etag
            .map(|etag| etag.trim().trim_start_matches("W/").trim_matches('"'))
            .filter(|inner| !inner.is_empty());
        match origin {
            Some(inner) => format!("W/\"{inner}-er{}\"", self.short()),
            None => format!("W/\"er{}\"", self.short()),
        }
    }

    /// Whether an `If-None-Match` value names an ETag the service made (so the origin,
    /// which never saw those bytes, must not be asked to match it).
    pub fn is_ours(if_none_match: &str) -> bool {
        if_none_match.split(',').any(|etag| {
            let inner = etag.trim().trim_start_matches("W/").trim_matches('"');
            inner
                .rsplit_once("er")
                .is_some_and(|(_, hex)| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        })
    }
}

/// Fields hashed with their lengths, so `("ab", "c")` and `("a", "bc")` differ.
struct Fields(Sha256);

impl Fields {
    fn field(&mut self, bytes: &[u8]) {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::RequestContext;
    use crate::rules::compile::RuleSet;

    fn rules(json: &str) -> RuleSet {
        let (rules, errors) = RuleSet::from_entries(&[("t".into(), json.into())]);
        assert!(errors.is_empty(), "{errors:?}");
        rules
    }

    fn page_key(rules: &RuleSet, url: &str, cookie: Option<&str>) -> PageKey {
        let mut request = RequestContext::for_url("GET", url).unwrap();
        if let Some(cookie) = cookie {
            request.add_header("Cookie", cookie);
        }
        PageKey::of(&Prospect::of(rules, &request), "live")
    }

    const RULES: &str = r#"[{"id":"member","selector":"body","when":{"cookie":{"name":"member","present":true}},
                              "actions":[{"prepend":{"text":"Welcome back"}}]},
                             {"id":"echo","selector":"body","actions":[{"append":{"text":"{{query.q}}"}}]}]"#;

    #[test]
    fn the_same_rules_and_values_are_the_same_page_key() {
        let rules = rules(RULES);
        let a = page_key(&rules, "https://example.com/a?q=1", Some("other=1"));
        let b = page_key(&rules, "https://example.com/a?q=1", None);
        assert_eq!(a, b, "a cookie no rule reads changes nothing");
    }

    #[test]
    fn what_changes_the_page_changes_the_page_key() {
        let rules = rules(RULES);
        let base = page_key(&rules, "https://example.com/a?q=1", None);
        assert_ne!(base, page_key(&rules, "https://example.com/a?q=1", Some("member=yes")), "a rule applies");
        assert_ne!(base, page_key(&rules, "https://example.com/a?q=2", None), "a template value");
        assert_ne!(base, page_key(&rules, "https://example.com/b?q=1", None), "the path");
        let edited = self::rules(&RULES.replace("Welcome back", "Hello again"));
        assert_ne!(base, page_key(&edited, "https://example.com/a?q=1", None), "the rule set");
    }

    /// A rule gated on the response and on a cookie: visitors it may apply to are told apart
    /// by what the response would decide for them, before the response is known; visitors it
    /// cannot apply to share one key.
    #[test]
    fn response_gated_rules_key_on_what_the_request_decides() {
        let rules = rules(
            r#"{"id":"gated","selector":"body","when":{"any":[{"all":[{"status":[203]},{"cookie":{"name":"a","present":true}}]},
                {"all":[{"status":[200]},{"cookie":{"name":"b","present":true}}]}]},"actions":[{"prepend":{"text":"hi"}}]}"#,
        );
        let url = "https://example.com/";
        let (a, b) = (page_key(&rules, url, Some("a=1")), page_key(&rules, url, Some("b=1")));
        assert_ne!(a, b, "both may get the block, on different responses");
        assert_ne!(a, page_key(&rules, url, None));
        assert_eq!(page_key(&rules, url, None), page_key(&rules, url, Some("other=1")), "neither can get it");
        assert_eq!(a, page_key(&rules, url, Some("a=2; other=1")), "the same reduced condition");
    }

    #[test]
    fn etags_name_the_variant_and_are_recognised() {
        let page_key = page_key(&rules(RULES), "https://example.com/", None);
        let etag = page_key.etag(Some("\"v1\""));
        assert!(etag.starts_with("W/\"v1-er") && etag.ends_with('"'), "{etag}");
        assert!(PageKey::is_ours(&etag));
        assert!(PageKey::is_ours(&format!("\"abc\", {}", page_key.etag(None))));
        assert!(!PageKey::is_ours("\"v1\""));
        assert!(!PageKey::is_ours("W/\"user\""));
    }
}
