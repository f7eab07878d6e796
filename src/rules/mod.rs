//! The rule language: what editors write ([`model`], [`when`]), how it is read ([`parse`]),
//! how a refusal is reported ([`error`]) and its JSON Schema ([`schema`]).

mod error;
mod model;
mod parse;
mod schema;
mod when;

pub use error::RuleError;
pub use model::{Action, Content, ReplaceText, RewriteAttribute, Rule, SetAttribute, TextTarget};
pub use parse::{SourcedRule, parse_entry};
pub use schema::json_schema;
pub use when::{NamedMatch, OneOrMany, Rollout, StickyKey, TextMatch, TimeWindow, When};
