//! The response header edits rules make (`set_header`, `append_header`, `remove_header`,
//! `csp_add`, `set_cookie`), as plain data, and the one function that applies them to a
//! response's headers.
//!
//! The engine never touches a platform response: a [`crate::Plan`] hands its edits over
//! ([`crate::Plan::header_edits`]) and whoever holds the headers applies them through
//! [`HeaderList`], which the Fastly adapter implements for its response and the engine for a
//! plain list of pairs (the CLI, the tests). Both therefore share [`apply_header_edits`]: what
//! `rewrite apply --headers` prints is what the service sends.

use std::fmt;

use super::csp::add_sources;

/// The headers holding a policy `csp_add` changes: enforced and report-only alike, so a
/// site watching its reports sees no violation for the sources a rule adds.
pub const CSP_HEADERS: [&str; 2] = ["content-security-policy", "content-security-policy-report-only"];

/// One change to a response's headers, with every template value filled in. Names are in
/// lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderEdit {
    /// Replaces every line of the header with one.
    Set {
        /// The header's name.
        name: String,
        /// Its value.
        value: String,
    },
    /// Adds a line, keeping the others.
    Append {
        /// The header's name.
        name: String,
        /// Its value.
        value: String,
    },
    /// Removes every line of the header.
    Remove {
        /// The header's name.
        name: String,
    },
    /// Adds sources to directives of every policy the response has (see [`CSP_HEADERS`]).
    CspAdd {
        /// Directive (lower case) and the sources added to it.
        additions: Vec<(String, Vec<String>)>,
    },
    /// Adds a `Set-Cookie` line.
    SetCookie {
        /// The cookie's name, for logs.
        name: String,
        /// The whole `Set-Cookie` value, attributes included.
        line: String,
    },
}

impl HeaderEdit {
    /// What the edit does, briefly, for the log line: `set x-frame-options`,
    /// `csp_add script-src`, `set_cookie seen`.
    pub fn summary(&self) -> String {
        match self {
            HeaderEdit::Set { name, .. } => format!("set {name}"),
            HeaderEdit::Append { name, .. } => format!("append {name}"),
            HeaderEdit::Remove { name } => format!("remove {name}"),
            HeaderEdit::CspAdd { additions } => {
                let directives: Vec<&str> = additions.iter().map(|(directive, _)| directive.as_str()).collect();
                format!("csp_add {}", directives.join(" "))
            }
            HeaderEdit::SetCookie { name, .. } => format!("set_cookie {name}"),
        }
    }

    /// Whether the edit gives the visitor a cookie: such a response is that visitor's own,
    /// and no cache of rewritten pages may keep it for others.
    pub fn sets_cookie(&self) -> bool {
        matches!(self, HeaderEdit::SetCookie { .. })
    }
}

/// The edit in full, for people (`rewrite explain`): `set x-frame-options: DENY`.
impl fmt::Display for HeaderEdit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderEdit::Set { name, value } => write!(f, "set {name}: {value}"),
            HeaderEdit::Append { name, value } => write!(f, "append {name}: {value}"),
            HeaderEdit::Remove { name } => write!(f, "remove {name}"),
            HeaderEdit::CspAdd { additions } => {
                let added: Vec<String> =
                    additions.iter().map(|(directive, sources)| format!("{directive} {}", sources.join(" "))).collect();
                write!(f, "csp_add {} (in every Content-Security-Policy the page has)", added.join("; "))
            }
            HeaderEdit::SetCookie { line, .. } => write!(f, "set-cookie: {line}"),
        }
    }
}

/// A response's headers, as [`apply_header_edits`] needs them. Names are compared without
/// regard to case.
pub trait HeaderList {
    /// Every value of the header `name`, in order.
    fn values(&self, name: &str) -> Vec<String>;
    /// Replaces every line of `name` with one holding `value`.
    fn set(&mut self, name: &str, value: &str);
    /// Adds a line `name: value` after the others.
    fn append(&mut self, name: &str, value: &str);
    /// Removes every line of `name`.
    fn remove(&mut self, name: &str);
}

/// Headers as `(name, value)` pairs in order: what the CLI simulates an origin's response
/// with.
impl HeaderList for Vec<(String, String)> {
    fn values(&self, name: &str) -> Vec<String> {
        self.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, value)| value.clone()).collect()
    }

    fn set(&mut self, name: &str, value: &str) {
        match self.iter().position(|(n, _)| n.eq_ignore_ascii_case(name)) {
            // In the first line's place, as a header map would keep it.
            Some(first) => {
                self[first].1 = value.to_owned();
                let mut index = 0;
                self.retain(|(n, _)| {
                    index += 1;
                    index - 1 == first || !n.eq_ignore_ascii_case(name)
                });
            }
            None => self.push((name.to_owned(), value.to_owned())),
        }
    }

    fn append(&mut self, name: &str, value: &str) {
        self.push((name.to_owned(), value.to_owned()));
    }

    fn remove(&mut self, name: &str) {
        self.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
}

/// Applies `edits` to `headers`, in order; returns each edit's [`HeaderEdit::summary`] for
/// the log line.
///
/// `csp_add` changes each policy header line in place (a line may hold several policies,
/// and every one must allow the load); a response without a policy gets none, since adding
/// one could only block what the page loads today.
pub fn apply_header_edits(edits: &[HeaderEdit], headers: &mut dyn HeaderList) -> Vec<String> {
    for edit in edits {
        match edit {
            HeaderEdit::Set { name, value } => headers.set(name, value),
            HeaderEdit::Append { name, value } => headers.append(name, value),
            HeaderEdit::Remove { name } => headers.remove(name),
            HeaderEdit::CspAdd { additions } => {
                for name in CSP_HEADERS {
                    let values = headers.values(name);
                    if values.is_empty() {
                        continue;
                    }
                    headers.remove(name);
                    for value in values {
                        headers.append(name, &add_sources(&value, additions).0);
                    }
                }
            }
            HeaderEdit::SetCookie { line, .. } => headers.append("set-cookie", line),
        }
    }
    edits.iter().map(HeaderEdit::summary).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
    }

    #[test]
    fn set_append_and_remove_work_on_every_line_of_a_name() {
        let mut list = headers(&[("X-A", "1"), ("Server", "origin"), ("x-a", "2"), ("X-Powered-By", "PHP")]);
        let edits = [
            HeaderEdit::Set { name: "x-a".into(), value: "3".into() },
            HeaderEdit::Append { name: "link".into(), value: "</a.css>; rel=preload".into() },
            HeaderEdit::Remove { name: "x-powered-by".into() },
        ];
        let applied = apply_header_edits(&edits, &mut list);
        assert_eq!(list, headers(&[("X-A", "3"), ("Server", "origin"), ("link", "</a.css>; rel=preload")]));
        assert_eq!(applied, ["set x-a", "append link", "remove x-powered-by"]);
    }

    #[test]
    fn csp_add_changes_every_policy_header_and_adds_none() {
        let additions = vec![("script-src".to_owned(), vec!["https://analytics.example".to_owned()])];
        let edit = [HeaderEdit::CspAdd { additions }];
        let mut list = headers(&[
            ("Content-Security-Policy", "script-src 'self'"),
            ("Content-Security-Policy", "default-src 'none'"),
            ("Content-Security-Policy-Report-Only", "default-src 'self'"),
        ]);
        assert_eq!(apply_header_edits(&edit, &mut list), ["csp_add script-src"]);
        assert_eq!(
            list.values("content-security-policy"),
            ["script-src 'self' https://analytics.example", "default-src 'none'; script-src https://analytics.example"]
        );
        assert_eq!(
            list.values("content-security-policy-report-only"),
            ["default-src 'self'; script-src 'self' https://analytics.example"]
        );
        let mut none = headers(&[("Content-Type", "text/html")]);
        apply_header_edits(&edit, &mut none);
        assert_eq!(none, headers(&[("Content-Type", "text/html")]), "no policy, none added");
    }

    #[test]
    fn cookies_are_appended_beside_the_origins() {
        let mut list = headers(&[("Set-Cookie", "session=1")]);
        let edit = [HeaderEdit::SetCookie { name: "seen".into(), line: "seen=1; Path=/".into() }];
        assert_eq!(apply_header_edits(&edit, &mut list), ["set_cookie seen"]);
        assert_eq!(list.values("set-cookie"), ["session=1", "seen=1; Path=/"]);
        assert!(edit[0].sets_cookie());
    }
}
