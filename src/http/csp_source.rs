//! What a rule may add to a Content-Security-Policy (`csp_add`): a directive that takes
//! sources, and sources that name what a rule inserts, never ones that open the policy.
//!
//! In the directives that decide which scripts run ([`SCRIPT_DIRECTIVES`]), a source must
//! name one site: a host (`https://cdn.example.com`) or one site's subdomains
//! (`https://*.example.com`). Refused there, because each would turn the site's policy off
//! for scripts:
//! - `*`, a bare scheme (`https:`, `data:`) and a wildcard host (`https://*`): any host;
//! - a wildcard over a public suffix (`*.com`, `*.co.uk`, `*.github.io`): anyone can
//!   register a name there. The Public Suffix List decides, through the `psl` crate;
//! - a wildcard port (`https://cdn.example.com:*`): any service the host runs;
//! - the `'unsafe-…'` keywords, and `'strict-dynamic'` (it changes how the whole policy is
//!   read: that is for the origin).
//!
//! Everywhere, a fixed `'nonce-…'` is refused: a nonce that never changes lets every inline
//! script carrying it run. The service gives the scripts and styles rules insert the page's
//! own nonce (see [`super::csp::csp_nonce`]). And `'none'` is refused: it cannot be combined.

use super::csp::{FETCH_DIRECTIVES, OTHER_SOURCE_DIRECTIVES};

/// The directives whose sources decide which scripts run, and so where a source must name
/// one site: the script directives, `default-src` (every fetch directive's fallback),
/// `worker-src` and `child-src` (its fallback; workers are scripts), `object-src` (plugins
/// run code) and `base-uri` (a page's relative script URLs resolve against it).
pub const SCRIPT_DIRECTIVES: &[&str] = &[
    "script-src",
    "script-src-elem",
    "script-src-attr",
    "default-src",
    "worker-src",
    "child-src",
    "object-src",
    "base-uri",
];

/// Why a `csp_add` directive or source is refused: what is wrong, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CspSourceError(String);

/// Checks a directive name a rule adds sources to; returns it in lower case.
pub fn check_directive(directive: &str) -> Result<String, CspSourceError> {
    let lower = directive.trim().to_ascii_lowercase();
    if FETCH_DIRECTIVES.contains(&lower.as_str()) || OTHER_SOURCE_DIRECTIVES.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        Err(CspSourceError(format!(
            "{directive:?} is not a CSP directive that takes sources; use one of {}",
            FETCH_DIRECTIVES.iter().chain(OTHER_SOURCE_DIRECTIVES).copied().collect::<Vec<_>>().join(", ")
        )))
    }
}

/// One source expression (CSP Level 3, "source-expression"), lower-cased.
#[derive(Debug, PartialEq, Eq)]
enum Source<'a> {
    /// `'self'`, `'unsafe-inline'` …, without the quotes.
    Keyword(&'a str),
    /// `'nonce-…'`.
    Nonce,
    /// `'sha256-…'`, `'sha384-…'`, `'sha512-…'`.
    Hash,
    /// `https:`: every host over that scheme.
    Scheme(&'a str),
    /// `[scheme://]host[:port][/path]`.
    Host { host: Host<'a>, any_port: bool },
}

#[derive(Debug, PartialEq, Eq)]
enum Host<'a> {
    /// `*`.
    Any,
    /// `*.rest`: every subdomain of `rest`.
    SubdomainsOf(&'a str),
    /// One host name or address.
    Named,
}

/// Checks one source a rule adds to `directive` (already checked by [`check_directive`]).
pub fn check_source(directive: &str, source: &str) -> Result<(), CspSourceError> {
    if source.is_empty() {
        return Err(CspSourceError("an empty source; give a host such as \"https://cdn.example.com\"".into()));
    }
    if let Some(bad) = source.chars().find(|c| c.is_ascii_whitespace() || matches!(c, ';' | ',') || c.is_control()) {
        return Err(CspSourceError(format!(
            "{source:?} holds {bad:?}, which would split the policy; give one source per list item"
        )));
    }
    if !source.is_ascii() {
        return Err(CspSourceError(format!("{source:?} is not ASCII; write an international host in punycode")));
    }
    let lower = source.to_ascii_lowercase();
    let parsed = parse(&lower).ok_or_else(|| {
        CspSourceError(format!(
            "{source:?} is not a CSP source; write a host (\"https://cdn.example.com\", \"*.example.com\"), \
             a scheme (\"data:\"), 'self', or a hash ('sha256-…')"
        ))
    })?;
    match parsed {
        Source::Keyword("none") => {
            return Err(CspSourceError("'none' cannot be added to a policy; remove the rule instead".into()));
        }
        Source::Nonce => {
            return Err(CspSourceError(format!(
                "{source:?} is a fixed nonce: every inline script carrying it would run, on every page; the \
                 scripts and styles rules insert get the page's own nonce by themselves, so leave it out"
            )));
        }
        _ => {}
    }
    if let Some(why) = SCRIPT_DIRECTIVES.contains(&directive).then(|| too_broad_for_scripts(&parsed)).flatten() {
        return Err(CspSourceError(format!(
            "{source:?} in {directive} {why}: that turns the site's policy off for scripts; name the host the \
             script comes from (\"https://cdn.example.com\") or one site's subdomains (\"https://*.example.com\")"
        )));
    }
    Ok(())
}

/// Why `source` would let scripts from more than one site run, if it would.
fn too_broad_for_scripts(source: &Source<'_>) -> Option<String> {
    match source {
        Source::Keyword(keyword) if keyword.starts_with("unsafe-") || *keyword == "wasm-unsafe-eval" => {
            Some("would let inline or evaluated code run".into())
        }
        Source::Keyword("strict-dynamic") => {
            Some("changes how the whole policy is read (scripts trusted scripts load would run)".into())
        }
        Source::Scheme(scheme) => Some(format!("allows every host reached over {scheme}")),
        Source::Host { host: Host::Any, .. } => Some("allows every host".into()),
        Source::Host { host: Host::SubdomainsOf(rest), .. } if is_public_suffix(rest) => {
            Some(format!("allows every site under {rest}, a public suffix where anyone can register a name"))
        }
        Source::Host { any_port: true, .. } => {
            Some("allows any port, so any service the host runs (give the port, or none for the default)".into())
        }
        _ => None,
    }
}

/// Whether `name` is a public suffix itself (`com`, `co.uk`, `github.io`), by the Public
/// Suffix List. A name under an unknown top-level domain counts as one (the list's default
/// rule), so `*.example` is refused and `*.shop.example` is one site's.
fn is_public_suffix(name: &str) -> bool {
    let name = name.trim_end_matches('.');
    psl::suffix(name.as_bytes()).is_some_and(|suffix| suffix.as_bytes() == name.as_bytes())
}

/// Parses a lower-cased source expression; `None` when it is not one.
fn parse(source: &str) -> Option<Source<'_>> {
    if let Some(quoted) = source.strip_prefix('\'') {
        let inner = quoted.strip_suffix('\'').filter(|inner| !inner.is_empty())?;
        let base64ish = |value: &str| {
            !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=_-".contains(&b))
        };
        if inner.strip_prefix("nonce-").is_some_and(base64ish) {
            return Some(Source::Nonce);
        }
        let hashed = ["sha256-", "sha384-", "sha512-"].iter().any(|p| inner.strip_prefix(p).is_some_and(base64ish));
        if hashed {
            return Some(Source::Hash);
        }
        let keywords = [
            "self",
            "none",
            "strict-dynamic",
            "report-sample",
            "unsafe-inline",
            "unsafe-eval",
            "unsafe-hashes",
            "wasm-unsafe-eval",
            "inline-speculation-rules",
        ];
        return keywords.contains(&inner).then_some(Source::Keyword(inner));
    }
    let (scheme, rest) = match source.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => match source.strip_suffix(':') {
            Some(scheme) => return is_scheme(scheme).then_some(Source::Scheme(source)),
            None => (None, source),
        },
    };
    if scheme.is_some_and(|scheme| !is_scheme(scheme)) {
        return None;
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if path.bytes().any(|b| matches!(b, b'?' | b'#')) {
        return None;
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let any_port = match port {
        None => false,
        Some("*") => true,
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => false,
        Some(_) => return None,
    };
    let host = if host == "*" {
        Host::Any
    } else if let Some(rest) = host.strip_prefix("*.") {
        is_host_name(rest).then_some(Host::SubdomainsOf(rest))?
    } else {
        is_host_name(host).then_some(Host::Named)?
    };
    Some(Source::Host { host, any_port })
}

/// `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(scheme: &str) -> bool {
    scheme.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
}

/// Dot-separated labels of letters, digits and hyphens (a final dot allowed).
fn is_host_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && host
            .split('.')
            .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(directive: &str, source: &str) -> String {
        check_source(directive, source).expect_err(source).to_string()
    }

    #[test]
    fn one_site_is_allowed_in_script_directives() {
        for ok in [
            "https://analytics.example",
            "https://cdn.example.com",
            "cdn.example.com",
            "https://cdn.example.com:8443/js/",
            "*.example.com",
            "https://*.example.com",
            "https://*.shop.example.co.uk",
            "'self'",
            "'report-sample'",
            "'sha256-abc+/='",
            "https://192.0.2.1",
        ] {
            for directive in SCRIPT_DIRECTIVES {
                assert!(check_source(directive, ok).is_ok(), "{ok} in {directive}: {:?}", check_source(directive, ok));
            }
        }
    }

    #[test]
    fn sources_over_more_than_one_site_are_refused_in_script_directives_with_why() {
        let cases = [
            ("*", "allows every host"),
            ("https://*", "allows every host"),
            ("http://*", "allows every host"),
            ("https:", "every host reached over https:"),
            ("data:", "every host reached over data:"),
            ("wss:", "every host reached over wss:"),
            ("*.com", "every site under com, a public suffix"),
            ("https://*.co.uk", "every site under co.uk"),
            ("*.github.io", "every site under github.io"),
            ("https://*.example", "every site under example"),
            ("https://cdn.example.com:*", "any port"),
            ("'unsafe-inline'", "inline or evaluated code"),
            ("'unsafe-eval'", "inline or evaluated code"),
            ("'wasm-unsafe-eval'", "inline or evaluated code"),
            ("'strict-dynamic'", "how the whole policy is read"),
        ];
        for (source, why) in cases {
            for directive in SCRIPT_DIRECTIVES {
                let message = refused(directive, source);
                assert!(message.contains(why), "{source} in {directive}: {message}");
                assert!(message.contains("https://*.example.com"), "says what to write instead: {message}");
            }
        }
    }

    #[test]
    fn other_directives_keep_broad_sources() {
        for (directive, source) in
            [("img-src", "data:"), ("img-src", "https:"), ("style-src", "*.com"), ("font-src", "*")]
        {
            assert!(check_source(directive, source).is_ok(), "{source} in {directive}");
        }
    }

    #[test]
    fn a_fixed_nonce_and_none_are_refused_everywhere() {
        for directive in ["script-src", "style-src", "img-src"] {
            assert!(refused(directive, "'nonce-abc123'").contains("page's own nonce"), "{directive}");
            assert!(refused(directive, "'none'").contains("remove the rule"), "{directive}");
        }
    }

    #[test]
    fn what_is_not_a_source_is_refused() {
        for bad in [
            "",
            "a b",
            "a;b",
            "a,b",
            "'bogus'",
            "'nonce-'",
            "https://",
            "https://a..b",
            "1https://a.b",
            "a.b:x",
            "a.b/?q",
        ] {
            assert!(check_source("img-src", bad).is_err(), "{bad:?}");
        }
        assert!(refused("img-src", "h\u{e9}.example").contains("punycode"));
        assert_eq!(check_directive("Script-Src").unwrap(), "script-src");
        assert!(check_directive("sandbox").unwrap_err().to_string().contains("script-src"));
    }
}
