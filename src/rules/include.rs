//! What an include is, as a rule asks for it and a plan carries it: where its fragment comes
//! from, what takes its place when it cannot be used, and which paths may be requested.
//! Fetching and splicing fragments in is the rewrite's (`rewrite::include`).

use std::time::Duration;

/// Where a fragment is fetched from. Never a host the request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FragmentFrom {
    /// The page's own origin (its backend, with the page's host).
    Origin,
    /// A backend the service declares, by name.
    Backend(String),
    /// A site of the sites map, by host: its backend, with that host.
    Site(String),
}

/// What takes an include's place when its fragment cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// The content, templates filled in.
    pub content: String,
    /// Inserted as text (escaped) rather than as markup.
    pub as_text: bool,
}

/// One include as planned for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedInclude {
    /// The rule that asked for it.
    pub rule: String,
    /// Where the fragment comes from.
    pub from: FragmentFrom,
    /// The fragment's path (and query), templates filled in and escaped; starts with `/`.
    pub path: String,
    /// How long to wait for the fragment's response, from when it was sent.
    pub timeout: Duration,
    /// Insert the fragment's body as text (escaped) rather than as markup.
    pub as_text: bool,
    /// What to insert when the fragment cannot be used; nothing without one.
    pub fallback: Option<Fallback>,
    /// The largest fragment body inserted, in bytes.
    pub max_bytes: u64,
    /// Its rule may act on more than one element (no `"max": 1`): what the first place got
    /// is kept for the others.
    pub repeats: bool,
    /// Why the rendered path may not be requested, if it may not (a value made a `..`
    /// segment): no request is sent and the fallback takes its place.
    pub unusable: Option<String>,
}

/// Why a rendered include path cannot be requested, if it cannot: it must be an absolute
/// path (one `/`, not `//`, which would name another host) without `.` or `..` segments
/// (which would climb out of the directory the rule names, whatever a value held).
pub(crate) fn include_path_problem(path: &str) -> Option<String> {
    if !path.starts_with('/') || path.starts_with("//") || path.contains('\\') {
        return Some(format!("the path {path:?} must start with a single `/`"));
    }
    if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Some(format!("the path {path:?} holds spaces or control characters"));
    }
    let path_only = path.split(['?', '#']).next().unwrap_or_default();
    let dot_segment = path_only.split('/').any(|segment| {
        let lower = segment.to_ascii_lowercase().replace("%2e", ".");
        lower == "." || lower == ".."
    });
    dot_segment.then(|| format!("the path {path:?} has a `.` or `..` segment"))
}
