//! Whether a rewritten page may be kept at the edge, and for how long: as long as the
//! origin's response may be kept by a shared cache (RFC 9111), no longer.
//!
//! `Surrogate-Control: max-age` (meant for the edge) wins, then `s-maxage`, then `max-age`,
//! then `Expires` less `Date`; the `Age` the response already has is taken off. Anything a
//! shared cache must not keep, or must revalidate first, is not kept: the service cannot
//! revalidate a rewrite.

/// What decides whether a response may be kept, gathered by the adapter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheFacts<'a> {
    /// The request method.
    pub method: &'a str,
    /// The response status.
    pub status: u16,
    /// The request asked for a byte range.
    pub range_request: bool,
    /// The request carries `Authorization`.
    pub authorization: bool,
    /// The response's `Cache-Control` (all lines, joined).
    pub cache_control: Option<&'a str>,
    /// The response's `Surrogate-Control`.
    pub surrogate_control: Option<&'a str>,
    /// The response's `Expires`.
    pub expires: Option<&'a str>,
    /// The response's `Date`.
    pub date: Option<&'a str>,
    /// The response's `Age`.
    pub age: Option<&'a str>,
    /// The response sets a cookie.
    pub set_cookie: bool,
    /// The response's `Vary` (all lines, joined).
    pub vary: Option<&'a str>,
    /// The response's declared body length.
    pub content_length: Option<u64>,
}

/// Whether, and how long, to keep a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Keep it this many seconds.
    For(u64),
    /// Do not keep it, and why (for the log line).
    No(&'static str),
}

/// The largest object Fastly's cache keeps.
pub const MAX_OBJECT_BYTES: u64 = 100 << 20;

/// Whether to keep a response, and how long, at `now` (Unix seconds).
pub fn keep(facts: &CacheFacts<'_>, now: i64) -> Keep {
    if facts.method != "GET" {
        return Keep::No("not a GET");
    }
    if facts.range_request {
        return Keep::No("a range request");
    }
    if !(200..300).contains(&facts.status) || facts.status == 206 {
        return Keep::No("not a whole 2xx response");
    }
    if facts.authorization {
        return Keep::No("the request carries Authorization");
    }
    if facts.set_cookie {
        return Keep::No("the response sets a cookie");
    }
    if facts.content_length.is_some_and(|length| length > MAX_OBJECT_BYTES) {
        return Keep::No("the body is over the cache's 100 MB object limit");
    }
    if facts.vary.is_some_and(|vary| vary.split(',').any(|name| name.trim() == "*")) {
        return Keep::No("the response varies on everything (Vary: *)");
    }
    let control = Directives::parse(facts.cache_control.unwrap_or(""));
    for refusal in ["private", "no-store", "no-cache"] {
        if control.has(refusal) {
            return Keep::No(match refusal {
                "private" => "Cache-Control: private",
                "no-store" => "Cache-Control: no-store",
                _ => "Cache-Control: no-cache (the service cannot revalidate a rewrite)",
            });
        }
    }
    let surrogate = Directives::parse(facts.surrogate_control.unwrap_or(""));
    if surrogate.has("no-store") {
        return Keep::No("Surrogate-Control: no-store");
    }
    let lifetime = surrogate
        .seconds("max-age")
        .or_else(|| control.seconds("s-maxage"))
        .or_else(|| control.seconds("max-age"))
        .or_else(|| {
            let expires = httpdate(facts.expires?)?;
            let date = facts.date.and_then(httpdate).unwrap_or(now);
            Some(u64::try_from(expires - date).unwrap_or(0))
        });
    let Some(lifetime) = lifetime else {
        return Keep::No("no freshness lifetime (no max-age, s-maxage or Expires)");
    };
    let age = facts.age.and_then(|age| age.trim().parse::<u64>().ok()).unwrap_or(0);
    match lifetime.saturating_sub(age) {
        0 => Keep::No("already stale"),
        ttl => Keep::For(ttl),
    }
}

/// Cache-Control style directives: `name` or `name=value`, comma-separated.
struct Directives<'a>(Vec<(String, Option<&'a str>)>);

impl<'a> Directives<'a> {
    fn parse(header: &'a str) -> Self {
        Self(
            header
                .split(',')
                .filter_map(|directive| {
                    let (name, value) = match directive.split_once('=') {
                        Some((name, value)) => (name, Some(value.trim().trim_matches('"'))),
                        None => (directive, None),
                    };
                    let name = name.trim().to_ascii_lowercase();
                    (!name.is_empty()).then_some((name, value))
                })
                .collect(),
        )
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(key, _)| key == name)
    }

    fn seconds(&self, name: &str) -> Option<u64> {
        self.0.iter().find(|(key, _)| key == name).and_then(|(_, value)| (*value)?.parse().ok())
    }
}

/// An HTTP date as Unix seconds.
fn httpdate(text: &str) -> Option<i64> {
    let time = httpdate::parse_http_date(text.trim()).ok()?;
    let seconds = time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_489_200; // 2026-11-24T03:00:00Z

    fn facts(cache_control: &'static str) -> CacheFacts<'static> {
        CacheFacts { method: "GET", status: 200, cache_control: Some(cache_control), ..CacheFacts::default() }
    }

    #[test]
    fn lifetimes_in_order_of_precedence() {
        assert_eq!(keep(&facts("max-age=600"), NOW), Keep::For(600));
        assert_eq!(keep(&facts("max-age=600, s-maxage=60"), NOW), Keep::For(60));
        let surrogate = CacheFacts { surrogate_control: Some("max-age=3600"), ..facts("max-age=600") };
        assert_eq!(keep(&surrogate, NOW), Keep::For(3600));
        let aged = CacheFacts { age: Some("100"), ..facts("public, max-age=600") };
        assert_eq!(keep(&aged, NOW), Keep::For(500));
        let expires = CacheFacts {
            cache_control: None,
            expires: Some("Tue, 24 Nov 2026 04:00:00 GMT"),
            date: Some("Tue, 24 Nov 2026 03:00:00 GMT"),
            ..facts("")
        };
        assert_eq!(keep(&expires, NOW), Keep::For(3600));
    }

    #[test]
    fn what_a_shared_cache_must_not_keep_is_not_kept() {
        for (facts, why) in [
            (facts("private, max-age=600"), "private"),
            (facts("no-store"), "no-store"),
            (facts("no-cache, max-age=600"), "no-cache"),
            (facts(""), "no freshness"),
            (facts("max-age=60"), ""),
        ] {
            match keep(&facts, NOW) {
                Keep::No(reason) => assert!(reason.contains(why) && !why.is_empty(), "{reason}"),
                Keep::For(_) => assert!(why.is_empty()),
            }
        }
        let cookie = CacheFacts { set_cookie: true, ..facts("max-age=60") };
        assert_eq!(keep(&cookie, NOW), Keep::No("the response sets a cookie"));
        let authorized = CacheFacts { authorization: true, ..facts("max-age=60") };
        assert!(matches!(keep(&authorized, NOW), Keep::No(_)));
        let head = CacheFacts { method: "HEAD", ..facts("max-age=60") };
        assert!(matches!(keep(&head, NOW), Keep::No(_)));
        let range = CacheFacts { range_request: true, ..facts("max-age=60") };
        assert!(matches!(keep(&range, NOW), Keep::No(_)));
        let error = CacheFacts { status: 404, ..facts("max-age=60") };
        assert!(matches!(keep(&error, NOW), Keep::No(_)));
        let huge = CacheFacts { content_length: Some(200 << 20), ..facts("max-age=60") };
        assert!(matches!(keep(&huge, NOW), Keep::No(_)));
        let star = CacheFacts { vary: Some("Accept-Encoding, *"), ..facts("max-age=60") };
        assert!(matches!(keep(&star, NOW), Keep::No(_)));
        let stale = CacheFacts { age: Some("60"), ..facts("max-age=60") };
        assert_eq!(keep(&stale, NOW), Keep::No("already stale"));
        let surrogate_off = CacheFacts { surrogate_control: Some("no-store"), ..facts("max-age=60") };
        assert!(matches!(keep(&surrogate_off, NOW), Keep::No(_)));
    }
}
