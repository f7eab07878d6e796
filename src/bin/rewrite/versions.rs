//! Published rule sets side by side in one store: each version's entries under keys of their
//! own (`v7.10-sale-banner`), so a new version is written completely before the index flips
//! to it, and the previous one is still whole for a rollback.
//!
//! Keys use only letters, digits, `-`, `_` and `.`: the Fastly CLI and API put a key in a
//! URL path, where anything else (a `/` above all) would have to be escaped.

use std::collections::{BTreeMap, BTreeSet};

use edge_rewriter::store::{DRAFT_INDEX_KEY, INDEX_KEY};
use edge_rewriter::store::{Index, PREVIOUS_INDEX_KEY};

/// The key of `entry` in version `version`: `v7.10-sale-banner`.
pub fn key(version: u64, entry: &str) -> String {
    format!("v{version}.{entry}")
}

/// The label of version `version`, as the index names it and logs show it: `v7`.
pub fn label(version: u64) -> String {
    format!("v{version}")
}

/// The version a key or label belongs to: 7 for `v7.10-sale-banner` and for `v7`.
pub fn of(key: &str) -> Option<u64> {
    let rest = key.strip_prefix('v')?;
    let digits = rest.split('.').next()?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The entry's name without its version prefix: `10-sale-banner` for `v7.10-sale-banner`.
pub fn entry_name(key: &str) -> &str {
    match of(key) {
        Some(_) => key.split_once('.').map_or(key, |(_, name)| name),
        None => key,
    }
}

/// Whether `name` can be a key as it is: letters, digits, `-`, `_` and `.`.
pub fn key_safe(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The version after every one the store knows of (in its keys and its indexes), so a
/// number is never used twice, not even after a rollback.
pub fn next(values: &BTreeMap<String, String>) -> u64 {
    let in_keys = values.keys().filter_map(|key| of(key));
    let in_indexes = [INDEX_KEY, PREVIOUS_INDEX_KEY]
        .iter()
        .filter_map(|key| values.get(*key))
        .filter_map(|text| Index::parse("index", text).ok()?.version)
        .filter_map(|version| of(&version));
    in_keys.chain(in_indexes).max().unwrap_or(0) + 1
}

/// The versioned keys to delete: those of versions neither among the newest `keep` nor
/// named by an index (live, previous, draft). Keys that are not versioned are never
/// touched: `rewrite publish` did not write them.
pub fn stale(values: &BTreeMap<String, String>, keep: usize) -> Vec<String> {
    let versions: BTreeSet<u64> = values.keys().filter_map(|key| of(key)).collect();
    let newest = versions.iter().rev().take(keep);
    let named = [INDEX_KEY, PREVIOUS_INDEX_KEY, DRAFT_INDEX_KEY]
        .iter()
        .filter_map(|key| values.get(*key))
        .filter_map(|text| Index::parse("index", text).ok())
        .flat_map(|index| index.entries)
        .filter_map(|key| of(&key));
    let kept: BTreeSet<u64> = newest.copied().chain(named).collect();
    values.keys().filter(|key| of(key).is_some_and(|version| !kept.contains(&version))).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
    }

    #[test]
    fn keys_name_their_version_and_need_no_escaping() {
        assert_eq!(key(7, "10-sale-banner"), "v7.10-sale-banner");
        assert_eq!(of("v7.10-sale-banner"), Some(7));
        assert_eq!(of("v12"), Some(12));
        assert_eq!((of("vx.a"), of("10-a"), of("v.a")), (None, None, None));
        assert_eq!(entry_name("v7.10-sale-banner"), "10-sale-banner");
        assert_eq!(entry_name("10-sale-banner"), "10-sale-banner");
        assert!(key_safe("10-sale_banner.v2") && !key_safe("a/b") && !key_safe("a b") && !key_safe(""));
    }

    #[test]
    fn the_next_version_follows_every_one_the_store_knows() {
        assert_eq!(next(&store(&[])), 1);
        assert_eq!(next(&store(&[("rules", "[\"10-a\"]"), ("10-a", "{}")])), 1, "a plain index has no version");
        let published = store(&[
            ("rules", r#"{"version": "v3", "entries": ["v3.a"]}"#),
            ("rules.previous", r#"{"version": "v5", "entries": []}"#),
            ("v3.a", "{}"),
        ]);
        assert_eq!(next(&published), 6, "after a rollback from v5 to v3, the next is v6");
    }

    #[test]
    fn stale_versions_go_named_and_newest_stay() {
        let values = store(&[
            ("rules", r#"{"version": "v5", "entries": ["v5.a"]}"#),
            ("rules.previous", r#"{"version": "v2", "entries": ["v2.a"]}"#),
            ("rules.draft", r#"["v1.a", "draft.b"]"#),
            ("v1.a", "{}"),
            ("v2.a", "{}"),
            ("v3.a", "{}"),
            ("v3.b", "{}"),
            ("v4.a", "{}"),
            ("v5.a", "{}"),
            ("10-legacy", "{}"),
            ("sites", "{}"),
        ]);
        assert_eq!(stale(&values, 2), ["v3.a", "v3.b"], "v4 and v5 newest, v2 previous, v1 in the draft");
        assert!(stale(&values, 5).is_empty());
    }
}
