//! Text replacement (`replace_text`) that is correct across chunk boundaries, in bounded
//! memory: the streaming replacer, and the character references it decodes.

pub(crate) mod chain;
mod entities;
mod replacer;

pub use entities::MAX_REFERENCE_LEN;
pub(crate) use entities::decode_references;
pub use replacer::REGEX_HOLD_LIMIT;
pub(crate) use replacer::{Finder, TextReplacer, TextSyntax};
