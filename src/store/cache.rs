//! Compiled rules kept between requests when an instance serves several (Fastly's sandbox
//! reuse), rebuilt only when the store's content changes.
//!
//! Reading the store is still done per request, so an editor's change applies to the very
//! next request; only the compile step is skipped when nothing changed.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use crate::rules::RuleError;
use crate::rules::compile::RuleSet;
use crate::store::layout::StoreEntries;

/// The last compiled rule set and the content it was compiled from.
#[derive(Debug, Default)]
pub struct RuleCache {
    fingerprint: Option<u64>,
    rules: Rc<RuleSet>,
    builds: usize,
    errors: usize,
}

/// What [`RuleCache::get`] did.
#[derive(Debug)]
pub enum CacheLookup {
    /// The content is unchanged: the compiled rules were reused.
    Reused(Rc<RuleSet>),
    /// The content changed (or this is the first request): the rules were compiled, with
    /// these errors (already-known errors are not reported again on reuse).
    Built(Rc<RuleSet>, Vec<RuleError>),
}

impl CacheLookup {
    /// The rules, however they were obtained.
    pub fn rules(&self) -> &Rc<RuleSet> {
        match self {
            CacheLookup::Reused(rules) | CacheLookup::Built(rules, _) => rules,
        }
    }
}

impl RuleCache {
    /// The rules for `entries`: reused when they are what was compiled last, else compiled.
    pub fn get(&mut self, entries: &StoreEntries) -> CacheLookup {
        let fingerprint = fingerprint(entries);
        if self.fingerprint == Some(fingerprint) {
            return CacheLookup::Reused(Rc::clone(&self.rules));
        }
        let (rules, mut errors) = RuleSet::from_entries(&entries.entries);
        errors.splice(0..0, entries.errors.iter().cloned());
        self.rules = Rc::new(rules);
        self.fingerprint = Some(fingerprint);
        self.builds += 1;
        self.errors = errors.len();
        CacheLookup::Built(Rc::clone(&self.rules), errors)
    }

    /// How many times rules were compiled.
    pub fn builds(&self) -> usize {
        self.builds
    }

    /// How many rules or entries the current rule set had to leave out.
    pub fn errors(&self) -> usize {
        self.errors
    }
}

fn fingerprint(entries: &StoreEntries) -> u64 {
    let mut hasher = DefaultHasher::new();
    entries.entries.hash(&mut hasher);
    for error in &entries.errors {
        (&error.entry, &error.reason).hash(&mut hasher);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> StoreEntries {
        StoreEntries { entries: vec![("e".into(), text.into())], ..StoreEntries::default() }
    }

    const RULE: &str = r#"{"id":"a","selector":"p","actions":["remove"]}"#;

    #[test]
    fn unchanged_content_reuses_the_compiled_rules() {
        let mut cache = RuleCache::default();
        let first = cache.get(&entries(RULE));
        assert!(matches!(first, CacheLookup::Built(_, ref errors) if errors.is_empty()));
        let second = cache.get(&entries(RULE));
        assert!(matches!(second, CacheLookup::Reused(_)));
        assert!(Rc::ptr_eq(first.rules(), second.rules()));
        assert_eq!(cache.builds(), 1);
    }

    #[test]
    fn changed_content_is_compiled_again_and_its_errors_reported() {
        let mut cache = RuleCache::default();
        cache.get(&entries(RULE));
        let changed = cache.get(&entries(r#"[{"id":"a","selector":"p","actions":["remove"]},{"id":"b"}]"#));
        match changed {
            CacheLookup::Built(rules, errors) => {
                assert_eq!(rules.len(), 1);
                assert_eq!(errors.len(), 1);
            }
            CacheLookup::Reused(_) => panic!("the content changed"),
        }
        assert_eq!(cache.builds(), 2);
        assert!(matches!(cache.get(&entries(RULE)), CacheLookup::Built(..)));
    }
}
