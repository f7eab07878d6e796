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
// need (the rewrite-or-pass policy, body decoding, cache facts, the visitor's cookie; the
// store's layout and keys, the limits, the sites map), as lol_html keeps `errors` and
// `html_content` apart. The other public modules below gather, by concept, what the
// adapter, the CLI and the benchmarks need besides the core.
pub mod http; // facts about requests and responses: the request, the rewrite-or-pass policy, charsets, decoding
mod rewrite; // one request: the plan, lol_html handlers, the text chain, the streaming driver
mod rules; // the rule language: model, parsing, budgets, compiling once (selectors, conditions, templates)
pub mod store; // where rule text comes from: the config store layout, the compiled-rule cache, the sites map

// The core: rules read and checked once, a request, its plan and the edge cache's key for
// it, the streaming rewrite, their errors.
pub use http::request::{RequestContext, RequestError};
pub use rewrite::page_key::PageKey;
pub use rewrite::plan::Plan;
pub use rewrite::prospect::Prospect;
pub use rewrite::stream::{
    CpuDeadline, Report, RewriteOptions, Rewriter, StreamError, Streamed, stream, stream_with_fragments,
};
pub use rules::compile::RuleSet;
pub use rules::{RuleError, RuleWarning};

/// What a rule set may cost: the budgets it is priced against and the CPU cost model's
/// constants (measured by `benches/cost_model.rs`).
pub mod cost {
    pub use crate::rules::budget::BUDGETS;
    pub use crate::rules::cost::{
        ATTRIBUTE_NS, COMMENT_NS, CONSTANTS as COST_MODEL, HANDLER_NS, INSERT_NS, LITERAL_PS_PER_BYTE,
        PARSE_NS_PER_BYTE, REASONABLE_PAGE_BYTES, REGEX_PS_PER_BYTE, SELECTOR_PART_NS, TEXT_FIRST_PS_PER_BYTE,
        TYPICAL_PAGE, format_ms,
    };
}

/// Includes: what a plan asks to fetch, the fragments fetched, and what became of each.
pub mod include {
    pub use crate::rewrite::include::{
        Fragment, FragmentFrom, FragmentSource, IncludeOutcome, IncludeResult, PlannedInclude,
    };
}

/// The rule language as editors' tools show it: its JSON Schema, rules as written in a file,
/// what a rule set schedules, the headers no rule may set, HTML escaping.
pub mod language {
    pub use crate::rules::header_actions::FORBIDDEN_HEADERS;
    pub use crate::rules::schedule::Schedule;
    pub use crate::rules::template::escape::escape_html;
    pub use crate::rules::{StickyKey, json_schema, written_rules};
}

/// The rewritten page's response: its headers, the visitor's cookie, the charset it is read in.
pub mod response {
    pub use crate::rewrite::response_headers::{COMPRESS_HINT, RewrittenPage, give_cookie, page_headers};
    pub use crate::rewrite::stream::page_charset;
}
