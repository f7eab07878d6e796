//! Where the service's rules come from: the Fastly Config Store, read on every request (so
//! an editor's change applies to the next request), or the rules built into the binary
//! when the store cannot be used. Compiling is skipped while the content is unchanged.

use std::rc::Rc;

use edge_rewriter::store::{CacheLookup, EntrySource, LookupError, StoreEntries, StoreError};
use edge_rewriter::{
    RuleSet,
    store::{DRAFT_INDEX_KEY, INDEX_KEY, MemoryStore, RuleCache, read_entries, read_entries_at},
};
use fastly::ConfigStore;

use super::config_store::{self, STORE_NAME};

/// rules/store.json as it was when this binary was built: the local store's content.
const BUILT_IN_STORE: &str = include_str!("../../rules/store.json");

/// Which rule set a response is rewritten with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edition {
    Live,
    /// The draft set (`rules.draft`), for a preview.
    Draft,
    /// A preview was asked for but the store has no draft: the live rules.
    NoDraft,
}

impl Edition {
    /// How responses and log lines name it.
    pub fn label(self) -> &'static str {
        match self {
            Edition::Live => "live",
            Edition::Draft => "draft",
            Edition::NoDraft => "live (no draft in the store)",
        }
    }
}

/// Compiled live and draft rules, each kept while its content is unchanged, and the version
/// each index named (read with the index: no lookup of its own).
#[derive(Debug, Default)]
pub struct RuleSource {
    live: RuleCache,
    draft: RuleCache,
    live_version: Option<String>,
    draft_version: Option<String>,
}

impl RuleSource {
    /// The live rules. Never fails: problems are logged and the page is served.
    pub fn live(&mut self) -> Rc<RuleSet> {
        self.live_from_store(STORE_NAME)
    }

    /// The draft rules for a preview, or the live ones when there is no draft.
    pub fn preview(&mut self) -> (Rc<RuleSet>, Edition) {
        self.preview_from(STORE_NAME)
    }

    fn preview_from(&mut self, store_name: &str) -> (Rc<RuleSet>, Edition) {
        match read_store(store_name, DRAFT_INDEX_KEY) {
            Ok(entries) => {
                self.draft_version = entries.version.clone();
                (compiled(&mut self.draft, &entries), Edition::Draft)
            }
            Err(why) => {
                log::warn!("preview asked for, but {why}; previewing the live rules");
                (self.live_from_store(store_name), Edition::NoDraft)
            }
        }
    }

    /// The version of the rule set in use, as its index names it (`rewrite publish` writes
    /// one; the plain array form has none).
    pub fn version(&self, edition: Edition) -> Option<&str> {
        match edition {
            Edition::Draft => self.draft_version.as_deref(),
            Edition::Live | Edition::NoDraft => self.live_version.as_deref(),
        }
    }

    /// Rules left out of the set in use because they are invalid.
    pub fn errors(&self, edition: Edition) -> usize {
        match edition {
            Edition::Draft => self.draft.errors(),
            Edition::Live | Edition::NoDraft => self.live.errors(),
        }
    }

    /// The live rules of the store named `store_name` (tests use a second local store).
    pub fn live_from_store(&mut self, store_name: &str) -> Rc<RuleSet> {
        let entries = read_store(store_name, INDEX_KEY).unwrap_or_else(|why| {
            log::error!("{why}; applying the rules built into this version instead");
            built_in()
        });
        self.live_version = entries.version.clone();
        compiled(&mut self.live, &entries)
    }
}

fn compiled(cache: &mut RuleCache, entries: &StoreEntries) -> Rc<RuleSet> {
    match cache.get(entries) {
        CacheLookup::Reused(rules) => rules,
        CacheLookup::Built(rules, errors) => {
            // A hostile set can have a thousand refusals: each log line is a hostcall the
            // first request pays for, so past the first ones they are counted by budget.
            for err in errors.iter().take(MAX_LOGGED_ERRORS) {
                log::error!("rule skipped: {err}");
            }
            if errors.len() > MAX_LOGGED_ERRORS {
                log::error!("rule skipped: {}", more_skipped(&errors[MAX_LOGGED_ERRORS..]));
            }
            // Once per content, like the errors: the rule applies, but likely not as meant.
            for warning in rules.warnings() {
                log::warn!("rule warning: {warning}");
            }
            rules
        }
    }
}

/// Refusals logged one line each when rules compile; the rest get one line together.
const MAX_LOGGED_ERRORS: usize = 20;

/// One line for refusals past [`MAX_LOGGED_ERRORS`]: how many, and why, by budget or field.
fn more_skipped(errors: &[edge_rewriter::RuleError]) -> String {
    let mut reasons: Vec<(String, usize)> = Vec::new();
    for err in errors {
        let reason = match err.reason.find(" budget") {
            Some(end) => err.reason[..end + " budget".len()].to_owned(),
            None => format!("field `{}`", err.field.as_deref().unwrap_or("?")),
        };
        match reasons.iter_mut().find(|(known, _)| *known == reason) {
            Some((_, count)) => *count += 1,
            None => reasons.push((reason, 1)),
        }
    }
    let reasons: Vec<String> = reasons.iter().map(|(reason, count)| format!("{count} {reason}")).collect();
    format!("{} more rules skipped ({}); `rewrite validate` lists each", errors.len(), reasons.join(", "))
}

fn read_store(store_name: &str, index: &str) -> Result<StoreEntries, String> {
    let store = config_store::open(store_name)?;
    read_entries_at(&mut FastlyStore(store), index)
        .map_err(|err: StoreError| format!("config store {store_name:?} cannot be used: {err}"))
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
    fn lookup(&mut self, key: &str) -> Result<Option<String>, LookupError> {
        self.0.try_get(key).map_err(|err| LookupError::new(err.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(rules: &RuleSet) -> Vec<String> {
        rules.rule_ids().map(str::to_owned).collect()
    }

    fn built_in_ids() -> Vec<String> {
        let (rules, errors) = RuleSet::from_entries(&built_in().entries);
        assert!(errors.is_empty(), "{errors:?}");
        ids(&rules)
    }

    #[test]
    fn the_local_store_serves_the_repositorys_rules() {
        // Viceroy runs these tests with fastly.toml, whose local store is rules/store.json.
        let entries = read_store(STORE_NAME, INDEX_KEY).expect("the local store is configured");
        assert!(entries.errors.is_empty(), "{:?}", entries.errors);
        let rules = RuleSource::default().live();
        assert!(!rules.is_empty());
        assert_eq!(ids(&rules), built_in_ids());
    }

    #[test]
    fn a_missing_store_falls_back_to_the_built_in_rules() {
        assert!(read_store("no_such_store", INDEX_KEY).is_err());
        let rules = RuleSource::default().live_from_store("no_such_store");
        assert_eq!(ids(&rules), built_in_ids());
    }

    #[test]
    fn a_reused_instance_compiles_the_store_once_and_again_when_it_changes() {
        let mut source = RuleSource::default();
        let first = source.live();
        let second = source.live();
        assert!(Rc::ptr_eq(&first, &second));
        assert_eq!(source.live.builds(), 1);
        // The same instance, the store updated (a second local store stands in for the
        // first one after an editor's change): the next request sees the new rules.
        let updated = source.live_from_store("edge_rewriter_rules_updated");
        assert_eq!(source.live.builds(), 2);
        assert_eq!(ids(&updated), ["updated-rule"]);
        assert!(!Rc::ptr_eq(&first, &updated));
        assert_eq!(source.version(Edition::Live), Some("v2"), "the version the updated index names");
    }

    #[test]
    fn a_preview_uses_the_draft_beside_the_live_rules() {
        // The local store holds rules/draft as `rules.draft`: the same rules, one changed.
        let mut source = RuleSource::default();
        let (draft, edition) = source.preview();
        assert_eq!(edition, Edition::Draft);
        assert_eq!(ids(&draft), built_in_ids());
        assert!(!Rc::ptr_eq(&draft, &source.live()), "drafts and live rules are compiled apart");
        assert_eq!((source.draft.builds(), source.live.builds()), (1, 1));
    }

    #[test]
    fn refusals_past_the_first_are_counted_by_budget() {
        let rules: Vec<String> = (0..30)
            .map(|i| {
                format!(
                    r#"{{"id":"s{i}","selector":"*","actions":[{{"set_attribute":{{"name":"d{i}","value":"1"}}}}]}}"#
                )
            })
            .chain([r#"{"id":"bad","selector":"p:hover","actions":["remove"]}"#.to_owned()])
            .collect();
        let (_, errors) = RuleSet::from_entries(&[("e".into(), format!("[{}]", rules.join(",")))]);
        let line = more_skipped(&errors);
        assert!(line.starts_with(&format!("{} more rules skipped (", errors.len())), "{line}");
        assert!(line.contains("over the rule set's page CPU budget") && line.contains("1 field `selector`"), "{line}");
    }

    #[test]
    fn without_a_draft_a_preview_shows_the_live_rules() {
        let mut source = RuleSource::default();
        let (rules, edition) = source.preview_from("edge_rewriter_rules_updated");
        assert_eq!(edition, Edition::NoDraft);
        assert_eq!(ids(&rules), ["updated-rule"]);
    }
}
