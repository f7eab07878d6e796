//! rules/live/ (and rules/draft/) are what editors and reviewers read; rules/store.json is
//! what the local Viceroy store serves and what the binary embeds as its fallback. They
//! must not drift.

// Native only: these tests drive Viceroy and the fixture origin from outside.
#![cfg(not(target_arch = "wasm32"))]

use devstack::project;
use edge_rewriter::{
    RuleSet,
    store::{DRAFT_INDEX_KEY, MemoryStore, read_entries, read_entries_at, store_from_dirs},
};

fn store_from_rules_dir() -> MemoryStore {
    let rules = project::root().join("rules");
    store_from_dirs(&rules.join("live"), Some(&rules.join("draft"))).expect("rules/ fits a config store")
}

#[test]
fn store_json_is_generated_from_rules_live() {
    let expected = store_from_rules_dir().to_json();
    let path = project::rules_store();
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "rules/store.json is out of date with rules/live/.\nRegenerate it: rewrite store (install the CLI once with cargo install --path .)"
    );
}

#[test]
fn every_repository_rule_is_valid() {
    let mut store = store_from_rules_dir();
    let entries = read_entries(&mut store).unwrap();
    assert!(entries.errors.is_empty(), "{:?}", entries.errors);
    let (rules, errors) = RuleSet::from_entries(&entries.entries);
    assert!(errors.is_empty(), "{}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
    assert!(rules.len() >= 3);
    let draft = read_entries_at(&mut store, DRAFT_INDEX_KEY).unwrap();
    let (draft_rules, errors) = RuleSet::from_entries(&draft.entries);
    assert!(errors.is_empty() && draft.errors.is_empty(), "{errors:?} {:?}", draft.errors);
    assert_eq!(draft_rules.len(), rules.len(), "the draft changes rules, it does not lose them");
}

#[test]
fn fastly_toml_local_store_is_rules_store_json() {
    let manifest: toml::Table = std::fs::read_to_string(project::root().join("fastly.toml")).unwrap().parse().unwrap();
    let store = &manifest["local_server"]["config_stores"]["edge_rewriter_rules"];
    assert_eq!(store["format"].as_str(), Some("json"));
    assert_eq!(store["file"].as_str(), Some("rules/store.json"));
    assert_eq!(manifest["local_server"]["backends"]["origin"]["url"].as_str(), Some("http://127.0.0.1:8787"));
    assert!(manifest["setup"]["config_stores"].get("edge_rewriter_rules").is_some());
    assert!(manifest["setup"]["backends"].get("origin").is_some());
}
