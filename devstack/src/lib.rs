//! Local stand-ins for production, shared by `devserve` and the end-to-end tests:
//!
//! * [`origin::FixtureOrigin`]: serves `fixtures/pages`, slowly, compressed, huge or broken
//!   on request;
//! * [`viceroy::Viceroy`]: the service's wasm under Viceroy on a free port, its output kept;
//! * [`http`]: a small HTTP/1.1 client that sees timing and truncation.

pub mod http;
pub mod origin;
pub mod project;
pub mod viceroy;
