//! The rule language: what editors write ([`model`]), how it is read ([`parse`]) and how a
//! refusal is reported ([`error`]).

mod error;
mod model;
mod parse;

pub use error::RuleError;
pub use model::{Action, Content, Rule};
pub use parse::{SourcedRule, parse_entry};
