//! Who may drive the studio: whoever holds the one-time token printed with its URL, asking
//! from the studio's own page.
//!
//! The studio listens on 127.0.0.1, so only this machine reaches it; but any web page open in
//! a browser here can send requests to 127.0.0.1 too. So every request must carry the token
//! (the `x-studio-token` header, or `token` in the query for what the browser loads by URL),
//! compared in constant time, and beyond that:
//!
//! * the `Host` must be the studio's own address (`127.0.0.1:PORT` or `localhost:PORT`):
//!   a DNS-rebinding page, whose host name now points at 127.0.0.1, still sends its own name;
//! * a request that says where it comes from (`Origin`, `Sec-Fetch-Site`) must come from the
//!   studio's own origin; a cross-site form or `fetch` is refused before its body is read;
//! * the studio never answers with CORS headers, so no other origin reads an answer.

use subtle::ConstantTimeEq;

/// The header the studio's page sends the token in.
pub const TOKEN_HEADER: &str = "x-studio-token";

/// A one-time random token: 32 bytes from the operating system, as 64 hex digits.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn random() -> Result<Token, String> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|err| format!("no randomness for the studio's token: {err}"))?;
        Ok(Token(bytes.iter().map(|byte| format!("{byte:02x}")).collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `given` is the token, in time that does not depend on where they differ.
    pub fn matches(&self, given: &str) -> bool {
        // Lengths are no secret (always 64); `ct_eq` on slices of unequal length is false.
        bool::from(self.0.as_bytes().ct_eq(given.as_bytes()))
    }
}

/// What a request says about itself, as the guard reads it.
pub struct Asked<'a> {
    pub host: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub fetch_site: Option<&'a str>,
    /// From the `x-studio-token` header.
    pub header_token: Option<&'a str>,
    /// From the query's `token` parameter.
    pub query_token: Option<String>,
}

/// Why a request is refused: said in the answer, for the person who opened a stale URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("this studio answers requests for {expected} only, not for host {given:?}")]
    Host { expected: String, given: String },
    #[error("requests from other sites are refused (origin {0:?})")]
    CrossSite(String),
    #[error("the studio's token is missing or wrong: open the URL `rewrite studio` printed")]
    Token,
}

/// The studio's address and token: the guard every request passes first.
pub struct Guard {
    token: Token,
    port: u16,
}

impl Guard {
    pub fn new(token: Token, port: u16) -> Guard {
        Guard { token, port }
    }

    pub fn token(&self) -> &Token {
        &self.token
    }

    /// The origins the studio's own page has.
    fn own_origins(&self) -> [String; 2] {
        [format!("http://127.0.0.1:{}", self.port), format!("http://localhost:{}", self.port)]
    }

    /// Lets the request through, or says why not. The address is checked before the token,
    /// so that a foreign page learns nothing about the token from the answer.
    pub fn check(&self, asked: &Asked<'_>) -> Result<(), Refused> {
        let own = self.own_origins();
        let host = asked.host.unwrap_or("");
        if !own.iter().any(|origin| origin.strip_prefix("http://") == Some(host)) {
            return Err(Refused::Host { expected: format!("127.0.0.1:{}", self.port), given: host.to_owned() });
        }
        if let Some(origin) = asked.origin
            && !own.iter().any(|own| own == origin)
        {
            return Err(Refused::CrossSite(origin.to_owned()));
        }
        // `none`: the person typed or pasted the URL; `same-origin`: the studio's own page.
        if let Some(site) = asked.fetch_site
            && !matches!(site, "same-origin" | "none")
        {
            return Err(Refused::CrossSite(format!("Sec-Fetch-Site: {site}")));
        }
        let given = asked.header_token.map(str::to_owned).or_else(|| asked.query_token.clone());
        match given {
            Some(given) if self.token.matches(&given) => Ok(()),
            _ => Err(Refused::Token),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Guard {
        Guard::new(Token("ab".repeat(32)), 4242)
    }

    fn asked(host: &str) -> Asked<'_> {
        Asked { host: Some(host), origin: None, fetch_site: None, header_token: None, query_token: None }
    }

    #[test]
    fn the_token_is_needed_from_the_studios_own_address() {
        let guard = guard();
        let token = "ab".repeat(32);
        let mut ok = asked("127.0.0.1:4242");
        ok.header_token = Some(&token);
        assert_eq!(guard.check(&ok), Ok(()));
        let by_query = Asked { query_token: Some(token.clone()), ..asked("localhost:4242") };
        assert_eq!(guard.check(&by_query), Ok(()));
        assert_eq!(guard.check(&asked("127.0.0.1:4242")), Err(Refused::Token));
        let wrong = Asked { header_token: Some("ab"), ..asked("127.0.0.1:4242") };
        assert_eq!(guard.check(&wrong), Err(Refused::Token));
        let almost = "ab".repeat(31) + "ac";
        let wrong = Asked { header_token: Some(&almost), ..asked("127.0.0.1:4242") };
        assert_eq!(guard.check(&wrong), Err(Refused::Token));
    }

    #[test]
    fn rebinding_and_cross_site_requests_are_refused_even_with_the_token() {
        let guard = guard();
        let token = "ab".repeat(32);
        let rebound = Asked { header_token: Some(&token), ..asked("evil.example:4242") };
        assert!(matches!(guard.check(&rebound), Err(Refused::Host { .. })));
        let other_port = Asked { header_token: Some(&token), ..asked("127.0.0.1:80") };
        assert!(matches!(guard.check(&other_port), Err(Refused::Host { .. })));
        let cross =
            Asked { header_token: Some(&token), origin: Some("https://evil.example"), ..asked("127.0.0.1:4242") };
        assert_eq!(guard.check(&cross), Err(Refused::CrossSite("https://evil.example".into())));
        let site = Asked { header_token: Some(&token), fetch_site: Some("cross-site"), ..asked("127.0.0.1:4242") };
        assert!(matches!(guard.check(&site), Err(Refused::CrossSite(_))));
        let same = Asked {
            header_token: Some(&token),
            origin: Some("http://127.0.0.1:4242"),
            fetch_site: Some("same-origin"),
            ..asked("127.0.0.1:4242")
        };
        assert_eq!(guard.check(&same), Ok(()));
    }

    #[test]
    fn tokens_are_random_and_long() {
        let (a, b) = (Token::random().unwrap(), Token::random().unwrap());
        assert_eq!(a.as_str().len(), 64);
        assert_ne!(a.as_str(), b.as_str());
        assert!(a.matches(a.as_str()) && !a.matches(b.as_str()));
    }
}
