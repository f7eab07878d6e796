//! One request's rewrite: the experiment variants it gets ([`assign`]), the rules that apply
//! with their values filled in ([`plan`]), as lol_html handlers ([`handlers`]) with `csp_add` in `<meta>` policies ([`csp_meta`]), the text
//! chain that replaces text across chunks ([`text`]), the headers a rewritten page leaves
//! with ([`response_headers`]), and the streaming driver with its memory bail-out
//! ([`stream`]) and its CPU meter, which stops at a sound point ([`meter`]), and which
//! carries bytes that are not UTF-8 through lol_html unchanged ([`invalid_bytes`]).

pub(crate) mod assign;
pub(crate) mod csp_meta;
pub(crate) mod handlers;
pub(crate) mod include;
pub(crate) mod invalid_bytes;
pub(crate) mod meter;
pub(crate) mod page_key;
pub(crate) mod plan;
pub(crate) mod prospect;
pub(crate) mod response_headers;
pub(crate) mod stream;
pub(crate) mod text;
