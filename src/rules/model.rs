//! The rule language as editors write it: plain serde types, one JSON object per rule.
//!
//! ```json
//! {
//!   "id": "sale-banner",
//!   "selector": "body",
//!   "when": { "path": { "prefix": "/shop/" } },
//!   "actions": [{ "prepend": { "html": "<div class=\"banner\">Sale!</div>" } }]
//! }
//! ```
//!
//! Unknown fields are refused rather than ignored: a typo such as `"selectr"` must be an
//! error the editor sees, not a rule that silently does nothing. The doc comments here become
//! the descriptions in the JSON Schema editors validate against (docs/rules.schema.json).

use schemars::JsonSchema;
use serde::Deserialize;

use super::when::When;

/// One rule: where it acts, when it applies, and what it does.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Names the rule in logs, reports and error messages. Unique within a rule set.
    pub id: String,
    /// Free text for editors; ignored by the engine.
    #[serde(default)]
    pub description: Option<String>,
    /// `false` keeps the rule in the store without applying it.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// `"shadow"` tries the rule on live traffic with no risk: it is matched like any rule
    /// and what it would change is counted (logs, `explain`, reports), but the page is left
    /// as it is. Default `"live"`.
    #[serde(default)]
    pub mode: Mode,
    /// The elements element actions apply to (CSS, as lol_html supports it). Comment actions
    /// use it as a scope (comments inside matching elements) and act on the whole document
    /// without it; `append_to_document` takes none.
    #[serde(default)]
    pub selector: Option<String>,
    /// Act on the first N elements the selector matches only (in page order), like nginx's
    /// `sub_filter_once`: `"max": 1` inserts a banner exactly once on a page that repeats
    /// the element. Applies to the rule's element actions; `replace_text` has its own `max`.
    /// Default: every match.
    #[serde(default)]
    pub max: Option<u64>,
    /// Conditions on the request and response; the rule applies only when all hold.
    #[serde(default)]
    pub when: Option<When>,
    /// What to do, applied in the order written. A rule with an `experiment` has none: each
    /// variant has its own.
    #[serde(default)]
    pub actions: Vec<Action>,
    /// An A/B experiment: visitors the rule's `when` admits are split between weighted
    /// variants, each with its own actions, and keep their variant on every page.
    #[serde(default)]
    pub experiment: Option<Experiment>,
}

/// An experiment: its id, its variants, and how visitors are told apart.
///
/// A visitor is assigned by the id in the `edge_vid` cookie, which the service sets when a
/// visitor without one is assigned. Where `consent` is given, the cookie is read and set only
/// when it holds; without consent, `without_consent` decides.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Names the experiment in logs (`"experiments": {"hero-2026": "big-cta"}`), templates
    /// (`{{experiment.hero-2026}}`) and conditions. Unique in the rule set; the same rules as a
    /// rule id.
    pub id: String,
    /// The variants, at least two. The first is the control, usually without actions.
    pub variants: Vec<Variant>,
    /// Keeps experiments that must not overlap apart: those sharing a namespace split its
    /// traffic by their ranges, which must not overlap.
    #[serde(default)]
    pub namespace: Option<Namespace>,
    /// When the visitor cookie may be read and set, e.g. `{"cookie": {"name": "consent",
    /// "regex": "analytics"}}`: any condition a rule's `when` may hold, except `experiment`.
    /// Without it, no consent is needed.
    #[serde(default)]
    pub consent: Option<When>,
    /// What a visitor gets when `consent` does not hold. Default `"control"`.
    #[serde(default)]
    pub without_consent: Option<WithoutConsent>,
    /// Sets this attribute (e.g. `data-hero-2026`) to the variant's name on the elements the
    /// rule's selector picks, in every variant, for analytics scripts to read.
    #[serde(default)]
    pub attribute: Option<String>,
}

/// One variant of an experiment.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Names the variant; the same rules as a rule id, e.g. `big-cta`.
    pub name: String,
    /// Its share of the experiment's visitors, relative to the other variants' weights
    /// (`50` and `50` split evenly). `0` assigns nobody (a variant only forced for QA).
    pub weight: u32,
    /// What the variant does, applied in the order written, like a rule's actions.
    #[serde(default)]
    pub actions: Vec<Action>,
}

/// A namespace and the share of its traffic one experiment takes.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Namespace {
    /// The namespace's name, e.g. `homepage`.
    pub name: String,
    /// The share of the namespace's visitors this experiment takes, in percent: from the first
    /// figure (included) to the second (excluded), e.g. `[0, 50]`.
    pub range: [f64; 2],
}

/// What a visitor gets when an experiment's consent condition does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WithoutConsent {
    /// The page without the experiment, and the visitor is not counted in it.
    #[default]
    Control,
    /// A variant by the client's IP address, as `rollout` picks (no cookie is read or set):
    /// stable while the address is.
    ClientIp,
}

fn enabled_by_default() -> bool {
    true
}

/// Whether a rule changes pages or only counts what it would change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The rule changes the page.
    #[default]
    Live,
    /// The rule's would-be changes are counted (as `shadow_hits` in the log line) and the
    /// page is left unchanged.
    Shadow,
}

/// One thing a rule does.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Insert content just before the element.
    Before(Content),
    /// Insert content just after the element.
    After(Content),
    /// Insert content at the start of the element's content.
    Prepend(Content),
    /// Insert content at the end of the element's content.
    Append(Content),
    /// Replace the whole element, tags and content.
    Replace(Content),
    /// Replace the element's content, keeping its tags.
    SetInner(Content),
    /// Remove the element and everything inside it.
    Remove,
    /// Remove the element's tags but keep its content.
    Unwrap,
    /// Set an attribute (added if missing). The value is attribute text; template values in
    /// it are escaped.
    SetAttribute(SetAttribute),
    /// Remove an attribute, by name.
    RemoveAttribute(String),
    /// Add one class to the element's `class` list, e.g. `"cta-big"`: the other classes
    /// stay; a class already there is not added twice.
    AddClass(String),
    /// Remove one class from the element's `class` list, e.g. `"hidden"`: the other classes
    /// stay, in order.
    RemoveClass(String),
    /// Rewrite an attribute's value with a regular expression, where it has the attribute.
    RewriteAttribute(RewriteAttribute),
    /// Rename the element's tag, keeping attributes and content.
    RenameTag(String),
    /// Remove comments (inside the selected elements, or everywhere without a selector).
    RemoveComments,
    /// Replace comments with content (inside the selected elements, or everywhere).
    ReplaceComments(Content),
    /// Append content at the very end of the document. Takes no selector.
    AppendToDocument(Content),
    /// Find and replace text (inside the selected elements, or everywhere without a
    /// selector), correctly even when the page arrives in pieces.
    ReplaceText(ReplaceText),
    /// Set a response header, replacing the origin's. Takes no selector: headers are sent
    /// before the page is read. The value may use template variables.
    SetHeader(Header),
    /// Add a response header line, keeping the origin's. Takes no selector.
    AppendHeader(Header),
    /// Remove a response header, by name. Takes no selector.
    RemoveHeader(String),
    /// Add sources to Content-Security-Policy directives, e.g. `{"script-src":
    /// ["https://analytics.example"]}`: in every `Content-Security-Policy` and
    /// `-Report-Only` header and `<meta http-equiv>` policy the page has. A page without a
    /// policy gets none. Takes no selector.
    CspAdd(std::collections::BTreeMap<String, Vec<String>>),
    /// Give the visitor a cookie (a `Set-Cookie` header). Takes no selector; the page is
    /// then never kept in the edge cache.
    SetCookie(SetCookie),
}

/// `set_header` and `append_header`: a header's name and value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Header name, e.g. `X-Frame-Options`. Headers the service owns (`Content-Length`,
    /// `Cache-Control`, `Vary` …) cannot be set; docs/RULES.md lists them.
    pub name: String,
    /// Header value, e.g. `DENY`. May use template variables; control characters in their
    /// values are removed.
    pub value: String,
}

/// `set_cookie`: the cookie and its attributes. The defaults are the safe ones.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetCookie {
    /// Cookie name (letters, digits and ``!#$%&'*+-.^_`|~``), e.g. `seen`.
    pub name: String,
    /// Cookie value. May use template variables; their values are percent-encoded.
    pub value: String,
    /// The paths the cookie is sent for. Default `/`.
    #[serde(default)]
    pub path: Option<String>,
    /// Seconds the cookie lives. Default: until the browser closes.
    #[serde(default)]
    pub max_age: Option<u64>,
    /// When the browser sends the cookie with requests from other sites. Default `lax`.
    #[serde(default)]
    pub same_site: Option<SameSite>,
    /// Sent over HTTPS only. Default `true`.
    #[serde(default)]
    pub secure: Option<bool>,
    /// Hidden from the page's scripts. Default `true`.
    #[serde(default)]
    pub http_only: Option<bool>,
}

/// A cookie's `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SameSite {
    /// Only with requests from the same site.
    Strict,
    /// With requests from the same site and top-level navigations to it.
    Lax,
    /// With every request; needs `secure`.
    None,
}

/// `replace_text`: what to find, what to put instead, and where to look.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceText {
    /// A literal text to find. Give `find` or `regex`.
    #[serde(default)]
    pub find: Option<String>,
    /// A regular expression to find (Rust `regex` syntax). Give `find` or `regex`.
    #[serde(default)]
    pub regex: Option<String>,
    /// The text put in place of each match. With `regex`, `$1` or `${name}` insert capture
    /// groups and `$$` is a `$`. Inserted as text: `<`, `>`, `&` are escaped.
    pub replace: String,
    /// Match regardless of case. Default `false`.
    #[serde(default)]
    pub case_insensitive: bool,
    /// Replace at most this many matches per page (the first ones). Default: all.
    #[serde(default)]
    pub max: Option<u64>,
    /// Which text to change. Default `["text", "title"]`: ordinary text and the page title,
    /// never form fields, scripts or styles unless listed.
    #[serde(default, rename = "in")]
    pub targets: Option<Vec<TextTarget>>,
    /// Elements whose text is left alone, selectors like `["code", "pre"]`: text anywhere
    /// inside a matching element (its descendants too) is not changed.
    #[serde(default)]
    pub exclude: Option<Vec<String>>,
}

/// A kind of text `replace_text` may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TextTarget {
    /// Ordinary text in the page body and head.
    Text,
    /// The `<title>`.
    Title,
    /// `<textarea>` contents (a form's default value).
    Textarea,
    /// `<script>` source, matched and replaced as written.
    Script,
    /// `<style>` source, matched and replaced as written.
    Style,
}

/// Content to insert: markup inserted as is, text that is escaped first, or (where an
/// element action puts content) the body of another request. Markup and text may use
/// template variables such as `{{path}}`; their values are always escaped.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Content {
    /// Inserted verbatim as markup.
    Html(String),
    /// Inserted as text: `<`, `>` and `&` are escaped.
    Text(String),
    /// A fragment fetched while the page streams (a CMS banner, a consent dialog) and
    /// streamed in at this place: requested as soon as the rule is known to apply, at the
    /// same time as the page, and given its fallback if it fails, is late or is not 2xx.
    /// The first element the selector matches gets it.
    Include(Include),
}

/// `include`: where a fragment comes from and what to do when it cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Include {
    /// `"origin"` (the default: the page's own origin, with the page's host) or the name of
    /// a backend the service declares. Give `backend` or `site`, not both.
    #[serde(default)]
    pub backend: Option<String>,
    /// A host in the sites map: the fragment comes from that site's origin, with that host.
    #[serde(default)]
    pub site: Option<String>,
    /// The fragment's path (and query), starting with `/`, e.g.
    /// `/fragments/{{country}}/banner.html`. Template values are percent-encoded as one
    /// path segment or query value each: a value cannot add segments or a query.
    pub path: String,
    /// How long the fragment may take, in milliseconds from when the page was requested.
    /// Default 1000; at most 10000.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// `"html"` (the default) inserts the fragment's body as markup, `"text"` escapes it.
    #[serde(default, rename = "as")]
    pub insert_as: Option<InsertAs>,
    /// What takes the include's place when the fragment fails, is late, is not 2xx or is
    /// too large: `{"html": "..."}` or `{"text": "..."}`. Without it: nothing.
    #[serde(default)]
    pub fallback: Option<Box<Content>>,
    /// The largest fragment body inserted, in bytes. Default 262144 (256 KiB); at most
    /// 4194304 (4 MiB). A larger one gets the fallback (or, once some of it has gone out,
    /// is cut there).
    #[serde(default)]
    pub max_bytes: Option<u64>,
}

/// How an include's fragment is inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InsertAs {
    /// As markup.
    Html,
    /// As text: `<`, `>` and `&` are escaped.
    Text,
}

/// `set_attribute`: which attribute, and its new value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAttribute {
    /// Attribute name, e.g. `rel`.
    pub name: String,
    /// New value, e.g. `noopener`. May use template variables.
    pub value: String,
}

/// `rewrite_attribute`: a regex replacement on one attribute's value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RewriteAttribute {
    /// Attribute name, e.g. `href`.
    pub name: String,
    /// Regular expression (Rust `regex` syntax) matched against the value.
    pub pattern: String,
    /// Replacement for every match; `$1` or `${name}` insert capture groups.
    pub replacement: String,
}
