//! Content-Security-Policy: the nonce a page's policy allows (rules give it to the scripts
//! and styles they insert, see [`crate::rules::template`]), and sources added to a policy
//! (`csp_add`) so that what a rule inserts, an analytics tag say, is not blocked.
//!
//! Adding a source must never *tighten* a policy, and must reach the directive the browser
//! actually consults. Per CSP Level 3, a fetch directive that is absent falls back to a
//! more general one (`script-src-elem` → `script-src` → `default-src`), and a directive that
//! is absent everywhere allows everything. So, for each policy in a header (a header may
//! hold several, comma-separated, and every one of them must allow a load):
//! - the named directive, if present, gets the sources, and so do the more specific
//!   directives present that would otherwise fall back to it (`script-src-elem` and
//!   `script-src-attr` for `script-src`; all fetch directives for `default-src`);
//! - if absent but a directive it falls back to is present, it is created with that
//!   directive's sources plus the new ones (creating it alone would drop what it inherited);
//! - if nothing governs it, the policy already allows the load and is left alone;
//! - `'none'` is replaced, since it cannot be combined with sources.

use std::fmt;

/// The nonce a `Content-Security-Policy` allows (`'nonce-abc123'`), if any.
pub fn csp_nonce(policy: &str) -> Option<String> {
    policy.split([' ', ';', ',']).find_map(|source| {
        let nonce = source.trim().strip_prefix("'nonce-")?.strip_suffix('\'')?;
        let valid = !nonce.is_empty() && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=_-".contains(&b));
        valid.then(|| nonce.to_owned())
    })
}

/// The fetch directives (CSP Level 3), which fall back to `default-src`.
pub(super) const FETCH_DIRECTIVES: &[&str] = &[
    "default-src",
    "child-src",
    "connect-src",
    "font-src",
    "frame-src",
    "img-src",
    "manifest-src",
    "media-src",
    "object-src",
    "script-src",
    "script-src-elem",
    "script-src-attr",
    "style-src",
    "style-src-elem",
    "style-src-attr",
    "worker-src",
];

/// Other directives that take a source list; they fall back to nothing.
pub(super) const OTHER_SOURCE_DIRECTIVES: &[&str] = &["base-uri", "form-action", "frame-ancestors"];

/// The directives `directive` falls back to when absent, nearest first (CSP Level 3,
/// "Get the effective directive for request").
fn fallbacks(directive: &str) -> &'static [&'static str] {
    match directive {
        "script-src-elem" | "script-src-attr" => &["script-src", "default-src"],
        "style-src-elem" | "style-src-attr" => &["style-src", "default-src"],
        "frame-src" => &["child-src", "default-src"],
        "worker-src" => &["child-src", "script-src", "default-src"],
        "default-src" => &[],
        other if FETCH_DIRECTIVES.contains(&other) => &["default-src"],
        _ => &[],
    }
}

/// What [`add_sources`] did to a policy, for the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CspChange {
    /// Sources were added to this directive.
    Added(String),
    /// The directive was created from the one it fell back to, plus the sources.
    Created { directive: String, from: String },
    /// Nothing in the policy governs the directive: it already allows the load.
    Unrestricted(String),
    /// `'strict-dynamic'` makes browsers ignore host sources in this directive.
    StrictDynamic(String),
}

impl fmt::Display for CspChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CspChange::Added(directive) => write!(f, "added to {directive}"),
            CspChange::Created { directive, from } => write!(f, "created {directive} from {from}"),
            CspChange::Unrestricted(directive) => write!(f, "{directive} is not restricted; left alone"),
            CspChange::StrictDynamic(directive) => {
                write!(f, "{directive} has 'strict-dynamic', so browsers ignore the hosts added to it")
            }
        }
    }
}

/// One directive of a policy: its name in lower case and its sources as written.
struct Directive {
    name: String,
    written_name: String,
    sources: Vec<String>,
}

impl Directive {
    fn has(&self, source: &str) -> bool {
        self.sources.iter().any(|existing| existing.eq_ignore_ascii_case(source))
    }

    fn add(&mut self, sources: &[String]) {
        if self.sources.len() == 1 && self.sources[0].eq_ignore_ascii_case("'none'") {
            self.sources.clear();
        }
        for source in sources {
            if !self.has(source) {
                self.sources.push(source.clone());
            }
        }
    }
}

/// Adds `additions` (directive, sources; both checked) to every policy of a
/// `Content-Security-Policy` (or `-Report-Only`, or `<meta>`) value. Returns the new value
/// and what changed. Directives that appear twice count only the first time, as in browsers;
/// the second is kept as written.
pub fn add_sources(value: &str, additions: &[(String, Vec<String>)]) -> (String, Vec<CspChange>) {
    let mut changes = Vec::new();
    let policies: Vec<String> = value
        .split(',')
        .map(|policy| {
            let mut directives = parse_policy(policy);
            for (directive, sources) in additions {
                add_to_policy(&mut directives, directive, sources, &mut changes);
            }
            serialize(&directives)
        })
        .collect();
    (policies.join(", "), changes)
}

fn parse_policy(policy: &str) -> Vec<Directive> {
    policy
        .split(';')
        .filter_map(|directive| {
            let mut tokens = directive.split_ascii_whitespace();
            let written_name = tokens.next()?.to_owned();
            Some(Directive {
                name: written_name.to_ascii_lowercase(),
                written_name,
                sources: tokens.map(str::to_owned).collect(),
            })
        })
        .collect()
}

fn serialize(directives: &[Directive]) -> String {
    directives
        .iter()
        .map(|directive| {
            std::iter::once(directive.written_name.as_str())
                .chain(directive.sources.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn add_to_policy(directives: &mut Vec<Directive>, directive: &str, sources: &[String], changes: &mut Vec<CspChange>) {
    let position = |directives: &[Directive], name: &str| directives.iter().position(|d| d.name == name);
    // The directives consulted instead of `directive` for some loads, when present.
    let more_specific: Vec<&str> = FETCH_DIRECTIVES
        .iter()
        .copied()
        .filter(|candidate| *candidate != directive && fallbacks(candidate).contains(&directive))
        .collect();
    let mut touched = Vec::new();
    match position(directives, directive) {
        Some(at) => {
            directives[at].add(sources);
            changes.push(CspChange::Added(directive.to_owned()));
            touched.push(at);
        }
        None => match fallbacks(directive).iter().find_map(|from| position(directives, from).map(|at| (from, at))) {
            Some((from, at)) => {
                let mut created =
                    Directive { name: directive.to_owned(), written_name: directive.to_owned(), sources: Vec::new() };
                created.sources = directives[at].sources.clone();
                created.add(sources);
                directives.push(created);
                changes.push(CspChange::Created { directive: directive.to_owned(), from: (*from).to_owned() });
                touched.push(directives.len() - 1);
            }
            None => changes.push(CspChange::Unrestricted(directive.to_owned())),
        },
    }
    for specific in more_specific {
        if let Some(at) = position(directives, specific) {
            directives[at].add(sources);
            changes.push(CspChange::Added(specific.to_owned()));
            touched.push(at);
        }
    }
    for at in touched {
        if directives[at].has("'strict-dynamic'") && sources.iter().any(|source| !source.starts_with('\'')) {
            changes.push(CspChange::StrictDynamic(directives[at].name.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(value: &str, directive: &str, sources: &[&str]) -> String {
        let additions = [(directive.to_owned(), sources.iter().map(|s| (*s).to_owned()).collect())];
        add_sources(value, &additions).0
    }

    #[test]
    fn nonces_are_found_in_policies() {
        assert_eq!(csp_nonce("script-src 'self' 'nonce-r4nd0m+/='; object-src 'none'"), Some("r4nd0m+/=".into()));
        assert_eq!(csp_nonce("default-src 'self'"), None);
        assert_eq!(csp_nonce("script-src 'nonce-'"), None);
        assert_eq!(csp_nonce("script-src 'nonce-a\"b'"), None);
    }

    #[test]
    fn a_present_directive_gets_the_sources_once() {
        assert_eq!(
            add("script-src 'self'; img-src *", "script-src", &["https://a.example"]),
            "script-src 'self' https://a.example; img-src *"
        );
        assert_eq!(
            add("script-src 'self' https://A.example", "script-src", &["https://a.example"]),
            "script-src 'self' https://A.example"
        );
    }

    #[test]
    fn an_absent_directive_is_created_from_what_it_fell_back_to() {
        assert_eq!(
            add("default-src 'self'; img-src data:", "script-src", &["https://a.example"]),
            "default-src 'self'; img-src data:; script-src 'self' https://a.example"
        );
        assert_eq!(
            add("script-src 'self'", "script-src-elem", &["https://a.example"]),
            "script-src 'self'; script-src-elem 'self' https://a.example"
        );
    }

    #[test]
    fn an_unrestricted_directive_is_left_alone() {
        let (value, changes) =
            add_sources("img-src 'self'", &[("script-src".into(), vec!["https://a.example".into()])]);
        assert_eq!(value, "img-src 'self'");
        assert_eq!(changes, vec![CspChange::Unrestricted("script-src".into())]);
    }

    #[test]
    fn more_specific_directives_get_the_sources_too() {
        assert_eq!(
            add("script-src 'self'; script-src-elem 'self'", "script-src", &["https://a.example"]),
            "script-src 'self' https://a.example; script-src-elem 'self' https://a.example"
        );
        assert_eq!(
            add("default-src 'none'; img-src 'self'", "default-src", &["https://a.example"]),
            "default-src https://a.example; img-src 'self' https://a.example"
        );
    }

    #[test]
    fn none_is_replaced() {
        assert_eq!(add("script-src 'none'", "script-src", &["https://a.example"]), "script-src https://a.example");
    }

    #[test]
    fn every_policy_of_a_header_is_changed() {
        assert_eq!(
            add("script-src 'self', default-src 'none'", "script-src", &["https://a.example"]),
            "script-src 'self' https://a.example, default-src 'none'; script-src https://a.example"
        );
    }

    #[test]
    fn strict_dynamic_is_reported() {
        let additions = [("script-src".to_owned(), vec!["https://a.example".to_owned()])];
        let (_, changes) = add_sources("script-src 'nonce-x' 'strict-dynamic'", &additions);
        assert!(changes.contains(&CspChange::StrictDynamic("script-src".into())), "{changes:?}");
    }
}
