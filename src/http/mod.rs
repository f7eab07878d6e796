//! Facts about requests and responses, read as browsers read them: the request as rules see
//! it (`request`), who is asking (`audience`: geolocation and device), which responses
//! are rewritten (`policy`), media types (`mime`) and sniffing, charsets and the
//! `<meta>` prescan (`charset`, `prescan`), body decoding (`decode`), character references
//! in text (`entities`),
//! Content-Security-Policy nonces and sources (`csp`) and what a rule may add to a policy
//! (`csp_source`), the header edits rules make
//! (`header_edit`), the cookies the service gives (`cookie`) and the headers of a response
//! that differs per visitor (`visitor`), RFC 3339 instants and dates (`time`). No Fastly type appears here: the adapter gathers header values and
//! hands them over.

pub(crate) mod audience;
pub(crate) mod charset;
pub(crate) mod cookie;
pub(crate) mod csp;
pub(crate) mod csp_source;
pub(crate) mod decode;
pub(crate) mod entities;
pub(crate) mod freshness;
pub(crate) mod header_edit;
pub(crate) mod mime;
pub(crate) mod policy;
pub(crate) mod prescan;
pub(crate) mod request;
pub(crate) mod time;
pub(crate) mod unions;
pub(crate) mod visitor;

// What only the adapter and the CLI need: which responses are rewritten, how a body is decoded, how long a page is kept, header edits on a platform's headers.
// The engine's core is at the crate's root.
pub use audience::{DeviceType, Geo};
pub use charset::PageEncoding;
pub use csp::csp_nonce;
pub use decode::{Decoding, decoded};
pub use freshness::{CacheFacts, Keep, keep};
pub use header_edit::{HeaderList, apply_header_edits};
pub use policy::{
    Decision, ResponseFacts, content_type, decide, is_html, may_sniff, origin_accept_encoding, sniff_html,
};
pub use time::{TimeError, format_rfc3339, parse_rfc3339};
pub use visitor::{VISITOR_COOKIE, visitor_cookie, visitor_id};
