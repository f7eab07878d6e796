//! The rule language, from what editors write to rules ready to run:
//!
//! * what editors write: plain serde types ([`model`], [`when`]), read one rule at a time
//!   ([`parse`]), refused with messages that name the field ([`error`]), warned about where
//!   valid but likely wrong ([`lint`]), described by a JSON Schema ([`schema`]);
//! * what each part compiles to, once per rule-set version: selectors ([`selector`]),
//!   conditions ([`conditions`]), templates escaped for where each value lands
//!   ([`template`]), regexes and globs ([`pattern`]), time windows (on
//!   [`crate::http::time`]), what a text rule looks for ([`finder`]), includes as a plan
//!   carries them ([`include`]);
//! * experiments: weighted variants, namespaces and consent ([`experiment`]);
//! * what a rule set may cost ([`budget`]), the compiled set itself ([`compile`]), and what
//!   its rules' effect depends on besides the request: time windows, rollouts, experiments
//!   ([`schedule`]).
//!
//! Nothing here depends on a request or a page; [`crate::rewrite`] takes it from there.
//! Imports run one way, `rewrite` -> `rules` -> `http`: nothing here imports `rewrite`.

pub(crate) mod actions;
pub(crate) mod budget;
pub(crate) mod compile;
pub(crate) mod conditions;
pub(crate) mod cost;
pub(crate) mod dependence;
mod error;
pub(crate) mod experiment;
pub(crate) mod finder;
pub(crate) mod header_actions;
pub(crate) mod include;
mod lint;
mod mistakes;
mod model;
mod parse;
pub(crate) mod pattern;
pub(crate) mod schedule;
mod schema;
pub(crate) mod selector;
mod shape;
pub(crate) mod template;
mod when;

pub(crate) use error::FieldError;
pub use error::{RuleError, RuleWarning};
pub use model::{
    Action, Content, Experiment, Include, InsertAs, Mode, Namespace, ReplaceText, Rule, SameSite, SetCookie,
    TextTarget, WithoutConsent,
};
pub use parse::{PACK_FIELD, PackedFile, SourcedRule, parse_entry, written_rules};
pub use schema::json_schema;
pub use when::{GeoMatch, InExperiment, NamedMatch, OneOrMany, Rollout, StickyKey, TextMatch, TimeWindow, When};
