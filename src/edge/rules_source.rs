//! Where the service's rules come from: the Fastly Config Store, read on every request (so
//! an editor's change applies to the next request), or the rules built into the binary
//! when the store cannot be used. Compiling is skipped while the content is unchanged.

use std::rc::Rc;

use edge_rewriter::{CacheLookup, EntrySource, MemoryStore, RuleCache, RuleSet, StoreEntries, read_entries};
use fastly::ConfigStore;

/// The config store holding the rules (fastly.toml: local_server and setup).
pub const STORE_NAME: &str = "edge_rewriter_rules";

/// rules/store.json as it was when this binary was built: the local store's content.
const BUILT_IN_STORE: &str = include_str!("../../rules/store.json");

/// The rules for this request. Never fails: problems are logged and the page is served.
pub fn load(cache: &mut RuleCache) -> Rc<RuleSet> {
    load_from(STORE_NAME, cache)
}

fn load_from(store_name: &str, cache: &mut RuleCache) -> Rc<RuleSet> {
    let entries = read_store(store_name).unwrap_or_else(|why| {
        log::error!("{why}; applying the rules built into this version instead");
        built_in()
    });
    match cache.get(&entries) {
        CacheLookup::Reused(rules) => rules,
        CacheLookup::Built(rules, errors) => {
            for err in &errors {
                log::error!("rule skipped: {err}");
            }
            rules
        }
    }
}

fn read_store(store_name: &str) -> Result<StoreEntries, String> {
    let store = ConfigStore::try_open(store_name)
        .map_err(|err| format!("config store {store_name:?} cannot be opened ({err})"))?;
    read_entries(&mut FastlyStore(store)).map_err(|err| format!("config store {store_name:?} cannot be used: {err}"))
}

fn built_in() -> StoreEntries {
    MemoryStore::from_json(BUILT_IN_STORE)
        .map_err(|err| err.to_string())
        .and_then(|mut store| read_entries(&mut store).map_err(|err| err.to_string()))
        .unwrap_or_else(|err| {
            log::error!("the built-in rules are unreadable ({err}); serving pages unchanged");
            StoreEntries::default()
        })
}

struct FastlyStore(ConfigStore);

impl EntrySource for FastlyStore {
    fn lookup(&mut self, key: &str) -> Result<Option<String>, String> {
        self.0.try_get(key).map_err(|err| err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built_in_ids() -> Vec<String> {
        let (rules, errors) = RuleSet::from_entries(&built_in().entries);
        assert!(errors.is_empty(), "{errors:?}");
        rules.rule_ids().map(str::to_owned).collect()
    }

    fn ids(rules: &RuleSet) -> Vec<String> {
        rules.rule_ids().map(str::to_owned).collect()
    }

    #[test]
    fn the_local_store_serves_the_repositorys_rules() {
        // Viceroy runs these tests with fastly.toml, whose local store is rules/store.json.
        let entries = read_store(STORE_NAME).expect("the local store is configured");
        assert!(entries.errors.is_empty(), "{:?}", entries.errors);
        let rules = load(&mut RuleCache::default());
        assert!(!rules.is_empty());
        assert_eq!(ids(&rules), built_in_ids());
    }

    #[test]
    fn a_missing_store_falls_back_to_the_built_in_rules() {
        assert!(read_store("no_such_store").is_err());
        let rules = load_from("no_such_store", &mut RuleCache::default());
        assert_eq!(ids(&rules), built_in_ids());
    }

    #[test]
    fn a_reused_instance_compiles_the_store_once() {
        let mut cache = RuleCache::default();
        let first = load(&mut cache);
        let second = load(&mut cache);
        assert!(Rc::ptr_eq(&first, &second));
        assert_eq!(cache.builds(), 1);
    }
}
