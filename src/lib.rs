//! edge-rewriter's engine: rule-driven, streaming HTML rewriting over any `std::io::Write`.
//!
//! Two entry points:
//!
//! * [`RuleSet::from_entries`] reads and checks rules (each bad rule is reported as a
//!   [`RuleError`] and left out; the others apply);
//! * [`stream`] pipes a page through those rules chunk by chunk, or drive a [`Rewriter`]
//!   yourself.
//!
//! ```
//! use edge_rewriter::{RewriteOptions, RuleSet, stream};
//!
//! let rule = r#"{"id": "sale", "selector": "body",
//!                "actions": [{"prepend": {"html": "<p>Sale!</p>"}}]}"#;
//! let (rules, errors) = RuleSet::from_entries(&[("banner".into(), rule.into())]);
//! assert!(errors.is_empty());
//!
//! let page = "<html><body><h1>Shop</h1></body></html>";
//! let done = stream(&rules, &RewriteOptions::default(), page.as_bytes(), Vec::new());
//! done.result.unwrap();
//! assert_eq!(done.sink, b"<html><body><p>Sale!</p><h1>Shop</h1></body></html>");
//! ```
//!
//! Nothing here imports the Fastly SDK: the service (`src/main.rs`), the CLI and the tests
//! all drive this same code.

#![forbid(unsafe_code)]
#![deny(rustdoc::broken_intra_doc_links)]
#![warn(missing_docs)]

mod compile;
mod decode;
mod policy;
mod rules;
mod store;
mod stream;

pub use compile::RuleSet;
pub use decode::decoded;
pub use policy::{
    Decision, Decoding, ResponseFacts, decide, is_html, origin_accept_encoding, weaken_etag,
};
pub use rules::{Action, Content, Rule, RuleError, SourcedRule, parse_entry};
pub use store::{
    EntrySource, INDEX_KEY, LOOKUP_BUDGET, MAX_KEY_CHARS, MAX_VALUE_CHARS, MemoryStore,
    StoreEntries, StoreError, read_entries, read_rules_dir,
};
pub use stream::{Report, RewriteOptions, Rewriter, StreamError, Streamed, stream};
