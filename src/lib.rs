//! edge-rewriter's engine: rule-driven, streaming HTML rewriting over any `std::io::Write`.
//!
//! Three steps:
//!
//! * [`RuleSet::from_entries`] reads and checks rules once (each bad rule is reported as a
//!   [`RuleError`] and left out; the others apply);
//! * [`RuleSet::plan`] picks the rules whose conditions hold for a [`RequestContext`];
//! * [`stream`] pipes a page through that [`Plan`] chunk by chunk (or drive a [`Rewriter`]
//!   yourself).
//!
//! ```
//! use edge_rewriter::{RequestContext, RewriteOptions, RuleSet, stream};
//!
//! let rule = r#"{"id": "sale", "selector": "body",
//!                "when": {"path": {"prefix": "/shop/"}},
//!                "actions": [{"prepend": {"html": "<p>Sale on {{host}}!</p>"}}]}"#;
//! let (rules, errors) = RuleSet::from_entries(&[("banner".into(), rule.into())]);
//! assert!(errors.is_empty());
//!
//! let request = RequestContext::for_url("GET", "https://example.com/shop/hats").unwrap();
//! let plan = rules.plan(&request);
//! let page = "<html><body><h1>Hats</h1></body></html>";
//! let done = stream(&plan, &RewriteOptions::default(), page.as_bytes(), Vec::new());
//! done.result.unwrap();
//! assert_eq!(done.sink, b"<html><body><p>Sale on example.com!</p><h1>Hats</h1></body></html>");
//! ```
//!
//! Nothing here imports the Fastly SDK: the service (`src/main.rs`), the CLI and the tests
//! all drive this same code.

#![forbid(unsafe_code)]
#![deny(rustdoc::broken_intra_doc_links)]
#![warn(missing_docs)]

// The rooms, in the order a request meets them. Each module says what it holds. The core is
// re-exported below; `http` and `store` are public for what only the adapter and the CLI
// need (the rewrite-or-pass policy, body decoding, cache facts; the store's layout and keys,
// the limits, the sites map), as lol_html keeps `errors` and `html_content` apart.
pub mod http; // facts about requests and responses: the request, the rewrite-or-pass policy, charsets, decoding
mod rewrite; // one request: the plan, lol_html handlers, the text chain, the streaming driver
mod rules; // the rule language: model, parsing, budgets, compiling once (selectors, conditions, templates)
pub mod store; // where rule text comes from: the config store layout, the compiled-rule cache, the sites map

// Rules: read and checked once.
pub use http::time::parse_rfc3339;
pub use rules::budget::{BUDGETS, Budget, Unit};
pub use rules::compile::RuleSet;
pub use rules::cost::{
    ATTRIBUTE_NS, COMMENT_NS, CONSTANTS as COST_MODEL, HANDLER_NS, INSERT_NS, LITERAL_PS_PER_BYTE, PARSE_NS_PER_BYTE,
    PageProfile, REASONABLE_PAGE_BYTES, REGEX_PS_PER_BYTE, RuleCost, SELECTOR_PART_NS, TEXT_FIRST_PS_PER_BYTE,
    TYPICAL_PAGE, format_ms,
};
pub use rules::schedule::{Schedule, Scheduled};
pub use rules::template::escape::escape_html;
pub use rules::{RuleError, RuleWarning, StickyKey, json_schema};

// One request: the plan and the rewrite.
pub use http::audience::{DeviceType, Geo};
pub use http::request::{HostError, RequestContext, RequestError};
pub use http::visitor::{VISITOR_COOKIE, visitor_cookie, visitor_id};
pub use rewrite::include::{Fragment, FragmentFrom, FragmentSource, IncludeOutcome, IncludeResult, PlannedInclude};
pub use rewrite::page_key::PageKey;
pub use rewrite::plan::Plan;
pub use rewrite::prospect::Prospect;
pub use rewrite::response_headers::{COMPRESS_HINT, RewrittenPage, give_cookie, page_headers};
pub use rewrite::stream::{
    CpuDeadline, Report, RewriteOptions, Rewriter, StreamError, Streamed, page_charset, stream, stream_with_fragments,
};
pub use rules::dependence::Dependence;

// Which responses are rewritten, and how their bodies and headers are read.
pub use http::charset::{CharsetError, PageEncoding};
pub use http::csp::csp_nonce;
pub use http::header_edit::apply_header_edits;
pub use rules::header_actions::FORBIDDEN_HEADERS;

// Where rules come from.
pub use rules::{WrittenRule, written_rules};
pub use store::cache::RuleCache;
pub use store::layout::{
    DRAFT_INDEX_KEY, DRAFT_PREFIX, INDEX_KEY, MAX_ENTRIES, MAX_VALUE_CHARS, MemoryStore, read_entries, read_entries_at,
    read_rules_dir, store_from_dirs,
};
pub use store::pack::{Pack, PackError, Packed, pack};
