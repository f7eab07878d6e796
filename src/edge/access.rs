//! Debug, preview and QA features, unlocked by a token kept in a Fastly Secret Store.
//!
//! A request asks for them with `x-edge-rewriter-debug: 1`, `x-edge-rewriter-preview: 1` or
//! `x-edge-rewriter-variant: EXPERIMENT=VARIANT` and proves it may with
//! `x-edge-rewriter-token`. These headers never reach the origin.

use fastly::{Request, SecretStore};
use subtle::ConstantTimeEq;

/// Asks for debug headers (`Server-Timing`, the rules that applied).
pub const DEBUG_HEADER: &str = "x-edge-rewriter-debug";
/// Asks for the draft rule set; on the response, says a preview was served.
pub const PREVIEW_HEADER: &str = "x-edge-rewriter-preview";
/// Forces experiment variants for QA: `hero-2026=big-cta`, several separated by commas.
pub const VARIANT_HEADER: &str = "x-edge-rewriter-variant";
/// Carries the token.
pub const TOKEN_HEADER: &str = "x-edge-rewriter-token";
/// The secret store holding the token (fastly.toml: local_server and setup).
pub const SECRET_STORE: &str = "edge_rewriter_secrets";
/// The token's key in that store.
pub const TOKEN_KEY: &str = "preview_token";

/// What this request may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grants {
    pub debug: bool,
    pub preview: bool,
}

/// Takes the control headers off the request (the origin never sees them, the token least
/// of all) and grants what was asked for if the token is right: debug and preview, and the
/// experiment variants to force (the header's lines joined with commas).
pub fn check(request: &mut Request) -> (Grants, Option<String>) {
    let asked = |request: &Request, name: &str| request.get_header(name).is_some_and(|value| value.as_bytes() == b"1");
    let wanted = Grants { debug: asked(request, DEBUG_HEADER), preview: asked(request, PREVIEW_HEADER) };
    let variants = request.get_header_all_str_lossy(VARIANT_HEADER);
    let variants = (!variants.is_empty()).then(|| variants.join(","));
    let token = request.get_header(TOKEN_HEADER).map(|value| value.as_bytes().to_vec());
    for header in [DEBUG_HEADER, PREVIEW_HEADER, VARIANT_HEADER, TOKEN_HEADER] {
        request.remove_header(header);
    }
    if wanted == Grants::default() && variants.is_none() {
        return (wanted, None);
    }
    let Some(token) = token else {
        log::warn!("debug, preview or a variant asked for without {TOKEN_HEADER}: ignored");
        return (Grants::default(), None);
    };
    match expected_token() {
        Ok(expected) if tokens_match(&token, &expected) => (wanted, variants),
        Ok(_) => {
            log::warn!("debug, preview or a variant asked for with a wrong {TOKEN_HEADER}: ignored");
            (Grants::default(), None)
        }
        Err(why) => {
            log::warn!("debug, preview or a variant asked for, but {why}: ignored");
            (Grants::default(), None)
        }
    }
}

fn expected_token() -> Result<Vec<u8>, String> {
    let store = SecretStore::open(SECRET_STORE)
        .map_err(|err| format!("the secret store {SECRET_STORE:?} cannot be opened ({err})"))?;
    let secret = store
        .try_get(TOKEN_KEY)
        .map_err(|err| format!("reading {TOKEN_KEY:?} from {SECRET_STORE:?} failed ({err})"))?
        .ok_or_else(|| format!("{SECRET_STORE:?} holds no {TOKEN_KEY:?}"))?;
    let token = secret.try_plaintext().map_err(|err| format!("{TOKEN_KEY:?} cannot be decrypted ({err})"))?.to_vec();
    if token.is_empty() {
        return Err(format!("{TOKEN_KEY:?} is empty"));
    }
    Ok(token)
}

/// Compares in time that depends only on the lengths (`subtle`'s constant-time equality),
/// so response timing does not leak how much of a guess was right.
fn tokens_match(given: &[u8], expected: &[u8]) -> bool {
    given.ct_eq(expected).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_token_unlocks_and_the_headers_never_reach_the_origin() {
        // fastly.toml's local secret store holds "local-preview-token".
        let mut request = Request::get("http://example.com/")
            .with_header(PREVIEW_HEADER, "1")
            .with_header(TOKEN_HEADER, "local-preview-token");
        assert_eq!(check(&mut request), (Grants { debug: false, preview: true }, None));
        assert!(request.get_header(TOKEN_HEADER).is_none() && request.get_header(PREVIEW_HEADER).is_none());
    }

    #[test]
    fn forced_variants_need_the_token_and_every_line_counts() {
        let mut request = Request::get("http://example.com/")
            .with_header(VARIANT_HEADER, "hero=big")
            .with_header(TOKEN_HEADER, "local-preview-token");
        request.append_header(VARIANT_HEADER, "menu=mega");
        assert_eq!(check(&mut request), (Grants::default(), Some("hero=big,menu=mega".to_owned())));
        assert!(request.get_header(VARIANT_HEADER).is_none(), "never sent to the origin");
        let mut without = Request::get("http://example.com/").with_header(VARIANT_HEADER, "hero=big");
        assert_eq!(check(&mut without), (Grants::default(), None));
        assert!(without.get_header(VARIANT_HEADER).is_none());
    }

    #[test]
    fn a_wrong_or_missing_token_grants_nothing() {
        let mut wrong =
            Request::get("http://example.com/").with_header(DEBUG_HEADER, "1").with_header(TOKEN_HEADER, "guess");
        assert_eq!(check(&mut wrong), (Grants::default(), None));
        assert!(wrong.get_header(TOKEN_HEADER).is_none());
        let mut missing = Request::get("http://example.com/").with_header(DEBUG_HEADER, "1");
        assert_eq!(check(&mut missing), (Grants::default(), None));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(tokens_match(b"abc", b"abc"));
        assert!(!tokens_match(b"abd", b"abc"));
        assert!(!tokens_match(b"ab", b"abc"));
    }
}
