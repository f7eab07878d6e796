//! The engine's tests, natively, in one binary: every action, text replacement, includes,
//! charsets, budgets, the edge-cache key, experiments, hostile request values, malformed
//! rules, the rules store, the html5lib and CSS3 corpora, the docs' examples, and the
//! `rewrite` CLI (run as a process, but with no Viceroy, origin or browser: it is the
//! engine's front end for editors). Shared helpers live in `common`.

#![cfg(not(target_arch = "wasm32"))]

mod common;

mod actions;
mod budgets;
mod cache_key;
mod charsets;
mod cli;
mod cpu_stops;
mod css3_modsel;
mod docs;
mod experiments;
mod hostile_values;
mod html5lib_corpus;
mod includes;
mod malformed_rules;
mod rules_store;
mod shadow_rules;
mod text_replacement;
mod vendored_lol_html;
