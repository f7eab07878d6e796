//! Text replacement (`replace_text`) that is correct across chunk boundaries, in bounded
//! memory: the streaming replacer over a rule's [`crate::rules::finder::Finder`], matching
//! text with its character references decoded ([`crate::http::entities`]).

pub(crate) mod chain;
mod replacer;

pub(crate) use replacer::{TextReplacer, TextSyntax};
