//! `Set-Cookie` lines: one formatter for the cookies the service gives (the visitor cookie of
//! experiments, a rule's `set_cookie`), so every cookie carries its attributes the same way.
//!
//! Written by hand rather than with the `cookie` crate: names and values reach here already
//! checked (a name is a token, a value holds cookie-octets only, see
//! [`crate::rules::template`]'s cookie landing), so formatting is one line, and the crate
//! would bring `time` with its formatting and macros into the wasm build for it.

use std::fmt::Write as _;

/// A cookie's `SameSite` attribute as written in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// `SameSite=Strict`
    Strict,
    /// `SameSite=Lax`
    Lax,
    /// `SameSite=None` (browsers require `Secure` with it).
    None,
}

/// A cookie's name and attributes; its value is given per response ([`Cookie::header`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    /// An RFC 6265 token.
    pub name: String,
    /// `Path`, e.g. `/`.
    pub path: String,
    /// `Max-Age` in seconds; `None` for a session cookie.
    pub max_age: Option<u64>,
    /// `SameSite`.
    pub same_site: SameSite,
    /// `Secure`: sent over HTTPS only.
    pub secure: bool,
    /// `HttpOnly`: hidden from the page's scripts.
    pub http_only: bool,
}

impl Cookie {
    /// The `Set-Cookie` value giving this cookie the value `value` (cookie-octets only).
    pub fn header(&self, value: &str) -> String {
        let mut line = format!("{}={value}; Path={}", self.name, self.path);
        if let Some(max_age) = self.max_age {
            let _ = write!(line, "; Max-Age={max_age}");
        }
        line.push_str(match self.same_site {
            SameSite::Strict => "; SameSite=Strict",
            SameSite::Lax => "; SameSite=Lax",
            SameSite::None => "; SameSite=None",
        });
        if self.secure {
            line.push_str("; Secure");
        }
        if self.http_only {
            line.push_str("; HttpOnly");
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_follow_the_value_in_a_fixed_order() {
        let mut cookie = Cookie {
            name: "seen".into(),
            path: "/".into(),
            max_age: Some(86_400),
            same_site: SameSite::Lax,
            secure: true,
            http_only: true,
        };
        assert_eq!(cookie.header("news"), "seen=news; Path=/; Max-Age=86400; SameSite=Lax; Secure; HttpOnly");
        cookie.max_age = None;
        cookie.same_site = SameSite::Strict;
        cookie.secure = false;
        cookie.http_only = false;
        assert_eq!(cookie.header(""), "seen=; Path=/; SameSite=Strict");
    }
}
