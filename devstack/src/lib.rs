//! Local stand-ins for production, shared by `devserve` and the end-to-end tests:
//!
//! * [`origin::FixtureOrigin`]: serves `fixtures/pages`, slowly, compressed, huge or broken
//!   on request;
//! * [`viceroy::Viceroy`]: the service's wasm under Viceroy on a free port, its output kept;
//! * [`http`]: a small HTTP/1.1 client that sees timing and truncation;
//! * [`html::balanced`]: whether output's tags balance;
//! * [`browser`]: headless Chromium screenshots;
//! * [`load`]: concurrent clients that check every answer;
//! * [`soak`]: the service under sustained load over a mix of fixture pages;
//! * [`profile`]: Viceroy's guest profiles read as samples per function.

pub mod browser;
pub mod html;
pub mod http;
pub mod load;
pub mod origin;
pub mod profile;
pub mod project;
pub mod soak;
pub mod viceroy;

use std::io;

/// A rules store (the JSON file Viceroy reads) holding `entries` and an index listing them
/// in order.
pub fn store_json(entries: &[(&str, &str)]) -> String {
    let entries: Vec<(String, String)> =
        entries.iter().map(|(name, text)| (name.to_string(), text.to_string())).collect();
    edge_rewriter::store::MemoryStore::from_entries(&entries).expect("entries make a store").to_json()
}

/// A fixture origin with the service under Viceroy in front of it: one end-to-end setup.
pub struct Stack {
    /// The origin (serves fixtures/pages and the test modes).
    pub origin: origin::FixtureOrigin,
    /// The service.
    pub service: viceroy::Viceroy,
}

impl Stack {
    /// The service with the repository's rules (rules/store.json).
    pub fn start() -> io::Result<Self> {
        let origin = origin::FixtureOrigin::start(project::fixture_pages())?;
        let service = viceroy::Viceroy::start(&viceroy::ServiceConfig::new(&origin.url()))?;
        Ok(Self { origin, service })
    }

    /// The service with a rules store holding `store_json` (a JSON object of strings).
    pub fn with_store_json(store_json: &str) -> io::Result<Self> {
        let origin = origin::FixtureOrigin::start(project::fixture_pages())?;
        let config = viceroy::ServiceConfig::new(&origin.url()).with_store_json(store_json)?;
        let service = viceroy::Viceroy::start(&config)?;
        Ok(Self { origin, service })
    }

    /// `GET path` through the service.
    pub fn get(&self, path: &str) -> http::Request {
        http::get(&self.service.url(path))
    }

    /// `GET path` straight from the origin, for comparison.
    pub fn get_from_origin(&self, path: &str) -> http::Request {
        http::get(&format!("{}{path}", self.origin.url()))
    }
}
