//! The rule language as editors write it: plain serde types, one JSON object per rule.
//!
//! ```json
//! {
//!   "id": "sale-banner",
//!   "selector": "body",
//!   "actions": [{ "prepend": { "html": "<div class=\"banner\">Sale!</div>" } }]
//! }
//! ```
//!
//! Unknown fields are refused rather than ignored: a typo such as `"selectr"` must be an
//! error the editor sees, not a rule that silently does nothing.

use serde::Deserialize;

/// One rule: where it acts (a CSS selector) and what it does there.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Names the rule in logs, reports and error messages.
    pub id: String,
    /// Free text for editors; ignored by the engine.
    #[serde(default)]
    pub description: Option<String>,
    /// `false` keeps a rule in the store without applying it.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// The elements the actions apply to, in lol_html's CSS selector syntax.
    pub selector: String,
    /// Applied to every matching element, in the order written.
    pub actions: Vec<Action>,
}

fn enabled_by_default() -> bool {
    true
}

/// What a rule does to each element its selector matches.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Insert content just before the element's start tag.
    Before(Content),
    /// Insert content just after the element's end tag.
    After(Content),
    /// Insert content at the start of the element's inner content.
    Prepend(Content),
    /// Insert content at the end of the element's inner content.
    Append(Content),
    /// Replace the whole element (tags and content).
    Replace(Content),
    /// Replace the element's inner content, keeping its tags.
    SetInner(Content),
    /// Remove the element and everything inside it.
    Remove,
}

/// Content to insert: markup inserted as is, or text that is HTML-escaped first.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Content {
    /// Inserted verbatim as markup.
    Html(String),
    /// Inserted as text: `<`, `>` and `&` are escaped.
    Text(String),
}
