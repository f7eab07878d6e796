//! End-to-end tests in one binary: the release wasm under Viceroy behind the fixture origin
//! (devstack), over HTTP, as Fastly runs it; and the studio in headless Chromium. Needs
//! `EDGE_REWRITER_WASM` (see scripts/test). The CPU-budget tests (`cpu::`) run alone, one at
//! a time: scripts/test selects them by name. Shared helpers live in `common`.

#![cfg(not(target_arch = "wasm32"))]

mod common;

mod audience;
mod cache;
mod cache_leaks;
mod cpu;
mod edge;
mod editors;
mod faults;
mod fixtures;
mod hardening;
mod headers;
mod includes;
mod load;
mod rules_chaos;
mod service;
mod studio;
