//! Helpers the end-to-end tests share.

use std::time::Duration;

use devstack::project;
use devstack::viceroy::Viceroy;

/// A page of the fixture site, as the origin serves it (`path` with or without its leading `/`).
pub fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(project::fixture_pages().join(path.trim_start_matches('/'))).unwrap()
}

/// The service's first `count` rewrite log lines, waited for up to 5 s.
pub fn rewrite_logs(service: &Viceroy, count: usize) -> Vec<serde_json::Value> {
    service.wait_for_json("\"event\":\"rewrite\"", count, Duration::from_secs(5))
}
