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

mod http;
mod rewrite;
mod rules;
mod store;

pub use http::charset::PageEncoding;
pub use http::csp::csp_nonce;
pub use http::decode::decoded;
pub use http::policy::{
    Decision, Decoding, ResponseFacts, body_decoding, content_type, decide, is_html, may_sniff, origin_accept_encoding,
    sniff_html, weaken_etag,
};
pub use http::request::{RequestContext, parse_query, percent_decode};
pub use rewrite::plan::Plan;
pub use rewrite::stream::{Report, RewriteOptions, Rewriter, StreamError, Streamed, stream};
pub use rewrite::text::REGEX_HOLD_LIMIT;
pub use rules::budget::{BUDGETS, Budget, Unit};
pub use rules::compile::RuleSet;
pub use rules::time::parse_rfc3339;
pub use rules::{
    Action, Content, NamedMatch, OneOrMany, ReplaceText, RewriteAttribute, Rollout, Rule, RuleError, SetAttribute,
    SourcedRule, StickyKey, TextMatch, TextTarget, TimeWindow, When, json_schema, parse_entry,
};
pub use store::cache::{CacheLookup, RuleCache};
pub use store::layout::{
    DRAFT_INDEX_KEY, EntrySource, INDEX_KEY, LOOKUP_BUDGET, MAX_ENTRIES, MAX_KEY_CHARS, MAX_VALUE_CHARS, MemoryStore,
    SITES_KEY, StoreEntries, StoreError, check_entry, read_entries, read_entries_at, read_rules_dir, store_from_dirs,
};
pub use store::sites::{Site, Sites};
