//! The headers of a response that differs per visitor: the first-party cookie that keeps a
//! visitor in the same experiment variants on every page and every POP, and the
//! `Cache-Control` that keeps shared caches from handing one visitor's variant to another.

use super::cookie::{Cookie, SameSite};

/// The cookie holding a visitor's id, set by the service when an experiment assigns a
/// visitor who has none (and consent allows it).
pub const VISITOR_COOKIE: &str = "edge_vid";

/// How long the visitor cookie lives: a year, so a returning visitor keeps its variants
/// through a typical experiment.
const VISITOR_COOKIE_MAX_AGE: u64 = 365 * 24 * 60 * 60;

/// The `Set-Cookie` value giving a visitor the id `id` (an id the service made: letters and
/// digits). First-party, sent on every path, not readable by scripts (analytics read the
/// variant from the page, not the id), and never sent cross-site on subrequests.
pub fn visitor_cookie(id: &str) -> String {
    let cookie = Cookie {
        name: VISITOR_COOKIE.to_owned(),
        path: "/".to_owned(),
        max_age: Some(VISITOR_COOKIE_MAX_AGE),
        same_site: SameSite::Lax,
        secure: true,
        http_only: true,
    };
    cookie.header(id)
}

/// A new visitor id from 16 random bytes (the adapter draws them): 32 hex digits.
pub fn visitor_id(random: [u8; 16]) -> String {
    random.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The origin's `Cache-Control` (all its lines joined), made private: a browser may still
/// keep the page as the origin allows (it is that visitor's own variant), a shared cache may
/// not. `public`, `s-maxage` and `proxy-revalidate`, which speak to shared caches, go.
pub fn private_cache_control(origin: Option<&str>) -> String {
    let kept =
        origin.unwrap_or("").split(',').map(str::trim).filter(|directive| !directive.is_empty()).filter(|directive| {
            let name = directive.split('=').next().unwrap_or("").trim().to_ascii_lowercase();
            !matches!(name.as_str(), "public" | "private" | "s-maxage" | "proxy-revalidate")
        });
    std::iter::once("private").chain(kept).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_first_party_and_long_lived() {
        assert_eq!(visitor_cookie("0a1b"), "edge_vid=0a1b; Path=/; Max-Age=31536000; SameSite=Lax; Secure; HttpOnly");
        assert_eq!(visitor_id([0xab; 16]), "ab".repeat(16));
    }

    #[test]
    fn shared_caches_are_told_off_and_browsers_keep_their_freshness() {
        assert_eq!(private_cache_control(None), "private");
        assert_eq!(private_cache_control(Some("public, max-age=600, s-maxage=3600")), "private, max-age=600");
        assert_eq!(private_cache_control(Some("no-cache, Proxy-Revalidate, PRIVATE")), "private, no-cache");
        assert_eq!(
            private_cache_control(Some("max-age=60, stale-while-revalidate=30")),
            "private, max-age=60, stale-while-revalidate=30"
        );
    }
}
