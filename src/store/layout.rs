//! How rules are laid out in a Fastly Config Store, and how they are read back.
//!
//! A config store cannot list its keys and production limits lookups per request, so the
//! layout is an index plus entries:
//!
//! * the key `rules` names the rule entries, in the order they apply: a JSON array
//!   (`["10-sale-banner", "20-analytics"]`), or an object that also names the rule set's
//!   version (`{"version": "v7", "entries": ["v7.10-sale-banner", "v7.20-analytics"]}`), which
//!   `rewrite publish` writes so that every log line can say which version ran ([`Index`]);
//! * each named entry holds one rule object or an array of rule objects.
//!
//! A request makes at most [`LOOKUP_BUDGET`] lookups: one for the sites map ([`SITES_KEY`]),
//! one for the limits (`limits`), one for the index, and one per entry, so at most
//! [`MAX_ENTRIES`] entries. Entries listed
//! past that are skipped with an error that says so. Values are limited to
//! [`MAX_VALUE_CHARS`] characters by Fastly; a rule set larger than that is spread over
//! several entries, each holding an array of rules.
//!
//! A draft rule set for previews lives beside the live one, under its own index
//! ([`DRAFT_INDEX_KEY`]); its entries may be shared with the live set or be its own. After a
//! publish, the index it replaced stays under [`PREVIOUS_INDEX_KEY`], for a rollback.
//!
//! Keys the layout makes use only letters, digits, `-`, `_` and `.`: the Fastly CLI and API
//! put a key in a URL path, where a `/` would have to be sent as `%2F`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use super::index::Index;
use super::limits::LIMITS_KEY;
use super::pack::{Pack, PackError, Packed, files_in, pack};
use crate::rules::RuleError;

/// The key holding the ordered list of rule entries.
pub const INDEX_KEY: &str = "rules";
/// The key holding the draft rule set's index, for previews.
pub const DRAFT_INDEX_KEY: &str = "rules.draft";
/// The key holding the index a publish replaced, so a rollback can flip back to it.
pub const PREVIOUS_INDEX_KEY: &str = "rules.previous";
/// What draft entries' keys start with, beside the live entries of the same name.
pub const DRAFT_PREFIX: &str = "draft.";
/// The key holding the host-to-origin map, when the service fronts several sites.
pub const SITES_KEY: &str = "sites";
/// Config store lookups one request may make (the lowest limit Fastly documents).
pub const LOOKUP_BUDGET: usize = 16;
/// Entries a request reads at most: the budget less the sites map, the limits and the index.
pub const MAX_ENTRIES: usize = LOOKUP_BUDGET - 3;
/// The longest value a Fastly config store accepts, in characters.
pub const MAX_VALUE_CHARS: usize = 8_000;
/// The longest key a Fastly config store accepts, in characters.
pub const MAX_KEY_CHARS: usize = 255;

/// Somewhere rule entries can be looked up by key: the Fastly config store at the edge, a
/// JSON file or a map in tests.
pub trait EntrySource {
    /// Looks `key` up. `Ok(None)` means the key is absent; `Err` means the lookup failed.
    fn lookup(&mut self, key: &str) -> Result<Option<String>, LookupError>;
}

/// Why an [`EntrySource`] lookup failed, in the source's own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct LookupError {
    /// What the source said.
    pub reason: String,
}

impl LookupError {
    /// A lookup that failed because of `reason`.
    pub fn new(reason: impl Into<String>) -> Self {
        Self { reason: reason.into() }
    }
}

/// The entries one request read, in index order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreEntries {
    /// The rule set's version, when the index names one.
    pub version: Option<String>,
    /// `(entry name, entry text)` in the order the index lists them.
    pub entries: Vec<(String, String)>,
    /// Entries that are listed but could not be used.
    pub errors: Vec<RuleError>,
}

/// Why a store's rules cannot be used at all (callers fall back to built-in rules), or why
/// rules cannot be laid out as a store Fastly would take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store has no such index key.
    #[error("the store has no `{0}` index entry")]
    NoIndex(String),
    /// The index could not be read: its key, and why.
    #[error("looking up `{0}` failed: {1}")]
    Lookup(String, LookupError),
    /// The index is neither a JSON array of entry names nor a versioned index: its key, and
    /// why.
    #[error(
        "`{0}` must be a JSON array of entry names, like [\"10-banner\"], or an object like \
         {{\"version\": \"v7\", \"entries\": [\"v7.10-banner\"]}}: {1}"
    )]
    BadIndex(String, String),
    /// A store file that is not a JSON object of strings: why.
    #[error("a store file is a JSON object of string values: {0}")]
    NotAStoreFile(String),
    /// An entry named like a key the store uses for something else: the key, and what for.
    #[error("an entry cannot be named `{0}`: that key is the {1}")]
    ReservedName(String, &'static str),
    /// A key longer (or shorter) than a config store takes.
    #[error("entry name {0:?} must be 1 to {MAX_KEY_CHARS} characters long")]
    KeyLength(String),
    /// A value longer than a config store takes: its key, and its length in characters.
    #[error(
        "entry {0:?} is {1} characters long; a config store value holds at most {MAX_VALUE_CHARS}: split its rules \
         over several entries"
    )]
    ValueLength(String, usize),
    /// A rules directory that cannot be read: the directory, and why.
    #[error("{}: {reason}", dir.display())]
    ReadDir {
        /// The directory.
        dir: PathBuf,
        /// What reading it said.
        reason: String,
    },
    /// Rules a request would not get from the store laid out (see [`store_for_files`]).
    #[error("{0}")]
    Refused(RuleError),
    /// A rules directory whose entries cannot be laid out: the directory, and why.
    #[error("{}: {error}", dir.display())]
    InDir {
        /// The directory.
        dir: PathBuf,
        /// What is wrong with its entries.
        error: Box<StoreError>,
    },
}
impl StoreError {
    /// The error, found in the rules directory `dir`.
    fn in_dir(self, dir: &Path) -> StoreError {
        StoreError::InDir { dir: dir.to_owned(), error: Box::new(self) }
    }
}

/// Reads the live index and the entries it lists, within the lookup budget.
pub fn read_entries(source: &mut dyn EntrySource) -> Result<StoreEntries, StoreError> {
    read_entries_at(source, INDEX_KEY)
}

/// Reads the index at `index_key` and the entries it lists: at most [`MAX_ENTRIES`].
pub fn read_entries_at(source: &mut dyn EntrySource, index_key: &str) -> Result<StoreEntries, StoreError> {
    let index_text = source
        .lookup(index_key)
        .map_err(|err| StoreError::Lookup(index_key.to_owned(), err))?
        .ok_or_else(|| StoreError::NoIndex(index_key.to_owned()))?;
    let Index { version, entries: names } = Index::parse(index_key, &index_text)?;

    let mut read = StoreEntries { version, ..StoreEntries::default() };
    if names.len() > MAX_ENTRIES {
        // One report for them all: an index of 500 entries must not make 486 log lines.
        let skipped = &names[MAX_ENTRIES..];
        let named: Vec<&str> = skipped.iter().take(5).map(String::as_str).collect();
        let more = if skipped.len() > named.len() {
            format!(" and {} more", skipped.len() - named.len())
        } else {
            String::new()
        };
        let reason = format!(
            "skipped {} entries ({}{more}): `{index_key}` lists {} entries and a request may make only \
             {LOOKUP_BUDGET} store lookups, so only the first {MAX_ENTRIES} are read; put several rules in one \
             entry as a JSON array",
            skipped.len(),
            named.join(", "),
            names.len()
        );
        read.errors.push(RuleError::new(skipped[0].clone(), reason));
    }
    for name in names.into_iter().take(MAX_ENTRIES) {
        match source.lookup(&name) {
            Ok(Some(text)) => read.entries.push((name, text)),
            Ok(None) => {
                let reason = format!("listed in `{index_key}` but absent from the store");
                read.errors.push(RuleError::new(name, reason));
            }
            Err(err) => read.errors.push(RuleError::new(name, format!("lookup failed: {err}"))),
        }
    }
    Ok(read)
}

/// A store held in memory: the rules compiled into the binary, a local JSON store file, tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStore {
    values: BTreeMap<String, String>,
}

impl MemoryStore {
    /// A store holding `values`.
    pub fn new(values: BTreeMap<String, String>) -> Self {
        Self { values }
    }

    /// Reads a store file in the format Viceroy's `format = "json"` stores use: one JSON
    /// object whose values are all strings.
    pub fn from_json(text: &str) -> Result<Self, StoreError> {
        serde_json::from_str(text).map(Self::new).map_err(|err| StoreError::NotAStoreFile(err.to_string()))
    }

    /// Lays `entries` (name, text) out as a store: the index plus one key per entry.
    ///
    /// Fails, naming the entry, when a key or value is over Fastly's limits.
    pub fn from_entries(entries: &[(String, String)]) -> Result<Self, StoreError> {
        let (store, refused) = Self::lay_out(entries);
        match refused.into_iter().next() {
            Some((_, error)) => Err(error),
            None => Ok(store),
        }
    }

    /// Lays out the entries Fastly would accept and reports each other one, so a check can
    /// name every problem at once.
    pub fn from_valid_entries(entries: &[(String, String)]) -> (Self, Vec<RuleError>) {
        let (store, refused) = Self::lay_out(entries);
        let errors = refused.into_iter().map(|(key, error)| RuleError::new(key, error.to_string())).collect();
        (store, errors)
    }

    /// The store for the entries Fastly would accept, and each refused key with why.
    fn lay_out(entries: &[(String, String)]) -> (Self, Vec<(String, StoreError)>) {
        let mut values = BTreeMap::new();
        let mut names = Vec::new();
        let mut refused = Vec::new();
        for (name, text) in entries {
            match check_entry(name, text) {
                Ok(()) => {
                    names.push(name.as_str());
                    values.insert(name.clone(), text.clone());
                }
                Err(error) => refused.push((name.clone(), error)),
            }
        }
        let index = Index { version: None, entries: names.into_iter().map(str::to_owned).collect() }.to_json();
        if let Err(error) = check_limits(INDEX_KEY, &index) {
            refused.push((INDEX_KEY.to_owned(), error));
        }
        values.insert(INDEX_KEY.to_owned(), index);
        (Self::new(values), refused)
    }

    /// Sets the index `key` to the entries `names`, unless it would be over Fastly's limits.
    fn insert_index(&mut self, key: &str, names: Vec<String>, refused: &mut Vec<RuleError>) {
        let index = Index { version: None, entries: names }.to_json();
        if let Err(error) = check_limits(key, &index) {
            refused.push(RuleError::new(key, error.to_string()));
        }
        self.values.insert(key.to_owned(), index);
    }

    /// The store as a JSON object of strings, the file Viceroy's local store reads.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.values).expect("strings serialise");
        text.push('\n');
        text
    }

    /// The stored values by key.
    pub fn values(&self) -> &BTreeMap<String, String> {
        &self.values
    }

    /// Each key or value over Fastly's limits, as a refusal naming the key: Viceroy will not
    /// load such a store and Fastly will not take the value, so a store file is refused
    /// exactly as a rules directory with the same content is.
    pub fn over_limits(&self) -> Vec<RuleError> {
        self.values
            .iter()
            .filter_map(|(key, value)| {
                check_limits(key, value).err().map(|error| RuleError::new(key, error.to_string()))
            })
            .collect()
    }
}

impl EntrySource for MemoryStore {
    fn lookup(&mut self, key: &str) -> Result<Option<String>, LookupError> {
        Ok(self.values.get(key).cloned())
    }
}

/// Keys the store uses for something other than rule entries, and what for.
const RESERVED_KEYS: [(&str, &str); 5] = [
    (INDEX_KEY, "index"),
    (DRAFT_INDEX_KEY, "draft's index"),
    (PREVIOUS_INDEX_KEY, "previous index, kept for a rollback"),
    (SITES_KEY, "sites map"),
    (LIMITS_KEY, "service's limits"),
];

/// Whether Fastly's config store would take this entry (name and size), and it does not
/// collide with a key the store uses for something else.
pub fn check_entry(name: &str, text: &str) -> Result<(), StoreError> {
    if let Some((key, what)) = RESERVED_KEYS.iter().find(|(key, _)| *key == name) {
        return Err(StoreError::ReservedName((*key).to_owned(), what));
    }
    check_limits(name, text)
}

fn check_limits(key: &str, value: &str) -> Result<(), StoreError> {
    let key_chars = key.chars().count();
    if key_chars == 0 || key_chars > MAX_KEY_CHARS {
        return Err(StoreError::KeyLength(key.to_owned()));
    }
    let value_chars = value.chars().count();
    if value_chars > MAX_VALUE_CHARS {
        return Err(StoreError::ValueLength(key.to_owned(), value_chars));
    }
    Ok(())
}

/// Rule files laid out as the service reads them, as `rewrite store` and `rewrite publish`
/// write them: the live files packed ([`pack`]) under the index, and the draft over them
/// under the draft's index. The draft is the live files with those of the same name replaced
/// by the draft's and the draft's new ones added, in name order. It is packed a live pack's
/// files at a time (a draft file goes with the live pack whose names it falls among), so a
/// pack the draft leaves alone is the live entry itself; the others are stored as
/// [`DRAFT_PREFIX`] + their name (`draft.10-banner`), beside the live ones.
///
/// `live` and `draft` are `(name without .json, text)`, as [`read_rules_dir`] reads them.
/// Returns the store and what a request would not get: files that are not rules, rules too
/// long for a value, rules past what a request may read.
pub fn store_for_files(live: &[(String, String)], draft: Option<&[(String, String)]>) -> (MemoryStore, Vec<RuleError>) {
    let labelled = |files: &[(String, String)], prefix: &str| -> Vec<(String, String)> {
        files.iter().map(|(name, text)| (format!("{prefix}{name}.json"), text.clone())).collect()
    };
    let mut values = BTreeMap::new();
    let mut refused = Vec::new();
    let live_packs = packed_within_budget(&[labelled(live, "")], INDEX_KEY, &mut refused);
    let mut index = Vec::new();
    for (key, value) in &live_packs {
        match check_entry(key, value) {
            Ok(()) => {
                values.insert(key.clone(), value.clone());
                index.push(key.clone());
            }
            Err(error) => refused.push(RuleError::new(key, error.to_string())),
        }
    }
    let mut store = MemoryStore::new(values);
    store.insert_index(INDEX_KEY, index, &mut refused);
    if let Some(draft) = draft {
        // In name order, each draft file in place of the live file of its name.
        let mut merged: BTreeMap<&str, (String, String)> =
            live.iter().zip(labelled(live, "")).map(|((name, _), file)| (name.as_str(), file)).collect();
        merged.extend(draft.iter().zip(labelled(draft, DRAFT_FILES)).map(|((name, _), file)| (name.as_str(), file)));
        // Each file with the live pack it falls in: the first whose last file sorts after it.
        let ends: Vec<String> = live_packs
            .iter()
            .filter_map(|(_, value)| files_in(value).pop())
            .map(|file| stem(&file).to_owned())
            .collect();
        let mut segments: Vec<Vec<(String, String)>> = vec![Vec::new(); ends.len().max(1)];
        for (name, file) in merged {
            let at = ends.iter().position(|end| name <= end.as_str()).unwrap_or(segments.len() - 1);
            segments[at].push(file);
        }
        // The live files' own refusals are already told.
        let mut draft_refused = Vec::new();
        let draft_packs = packed_within_budget(&segments, DRAFT_INDEX_KEY, &mut draft_refused);
        refused.extend(draft_refused.into_iter().filter(|error| !refused.contains(error)).collect::<Vec<_>>());
        let mut index = Vec::new();
        for (name, value) in draft_packs {
            match live_packs.iter().find(|(_, live)| *live == value) {
                Some((key, _)) => index.push(key.clone()),
                None => {
                    let key = format!("{DRAFT_PREFIX}{name}");
                    match check_entry(&key, &value) {
                        Ok(()) => {
                            store.values.insert(key.clone(), value);
                            index.push(key);
                        }
                        Err(error) => refused.push(RuleError::new(key, error.to_string())),
                    }
                }
            }
        }
        store.insert_index(DRAFT_INDEX_KEY, index, &mut refused);
    }
    (store, refused)
}

/// Where a draft's files are said to come from in a pack: `draft/10-banner.json`.
pub const DRAFT_FILES: &str = "draft/";

/// The name a pack's file has on its own: `10-banner` for `10-banner.json`.
fn stem(file: &str) -> &str {
    let file = file.strip_prefix(DRAFT_FILES).unwrap_or(file);
    file.strip_suffix(".json").unwrap_or(file)
}

/// `segments` of files packed, each apart, no more packs than a request reads; what is left
/// out is added to `refused`.
fn packed_within_budget(segments: &[Vec<(String, String)>], index: &str, refused: &mut Vec<RuleError>) -> Vec<Pack> {
    let (mut packs, mut unpackable) = (Vec::new(), Vec::new());
    for files in segments {
        let Packed { packs: some, refused: left } = pack(files);
        packs.extend(some);
        unpackable.extend(left);
    }
    refused.extend(unpackable.into_iter().map(|error| {
        let file = error.file().to_owned();
        // Named as the entry a file would be on its own, which is how commands locate it.
        let entry = file.strip_suffix(".json").unwrap_or(&file).replace(DRAFT_FILES, DRAFT_PREFIX);
        let refusal = RuleError::new(entry, error.reason());
        match error {
            PackError::RuleTooLong { rule, .. } => refusal.with_rule(rule.trim_matches('"')),
            PackError::Unreadable { .. } => refusal,
        }
    }));
    if packs.len() > MAX_ENTRIES {
        let left: Vec<Pack> = packs.split_off(MAX_ENTRIES);
        let names: Vec<&str> = left.iter().map(|(name, _)| name.as_str()).collect();
        let chars: usize = left.iter().map(|(_, value)| value.chars().count()).sum();
        let reason = format!(
            "the rule files fill {} store entries once packed ({MAX_VALUE_CHARS} characters each), and a request \
             reads at most {MAX_ENTRIES} (it may make {LOOKUP_BUDGET} store lookups, less the sites map, the limits \
             and `{index}`): the rules in {} are left out; shorten or remove about {chars} characters of rules",
            MAX_ENTRIES + left.len(),
            names.join(", ")
        );
        refused.push(RuleError::new(names[0], reason));
    }
    packs
}

/// The store for a live rules directory and, if given, a draft directory beside it (see
/// [`store_for_files`]): what `rewrite store` writes and the service embeds. Fails on the
/// first thing a request would not get.
pub fn store_from_dirs(live: &Path, draft: Option<&Path>) -> Result<MemoryStore, StoreError> {
    let read = |dir: &Path| {
        read_rules_dir(dir).map_err(|err| StoreError::ReadDir { dir: dir.to_owned(), reason: err.to_string() })
    };
    let drafted = draft.map(read).transpose()?;
    let (store, refused) = store_for_files(&read(live)?, drafted.as_deref());
    match refused.into_iter().next() {
        Some(error) => Err(StoreError::Refused(error).in_dir(live)),
        None => Ok(store),
    }
}

/// Reads a rules directory: each `*.json` file is one entry named after the file (without
/// `.json`), in file-name order, so `10-banner.json` applies before `20-links.json`.
pub fn read_rules_dir(dir: &Path) -> std::io::Result<Vec<(String, String)>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json") && path.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path
                .file_stem()
                .and_then(|stem| stem.to_str())
                .ok_or_else(|| std::io::Error::other(format!("{}: name is not UTF-8", path.display())))?
                .to_owned();
            Ok((name, std::fs::read_to_string(&path)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts real lookups, independent of what `read_entries` believes it did.
    struct Counting<'a> {
        store: &'a mut MemoryStore,
        lookups: usize,
    }

    impl EntrySource for Counting<'_> {
        fn lookup(&mut self, key: &str) -> Result<Option<String>, LookupError> {
            self.lookups += 1;
            self.store.lookup(key)
        }
    }

    fn entries(n: usize) -> Vec<(String, String)> {
        (0..n).map(|i| (format!("e{i:02}"), format!("[\"rule {i}\"]"))).collect()
    }

    #[test]
    fn entries_come_back_in_index_order() {
        let mut written = entries(3);
        written.reverse();
        let mut store = MemoryStore::from_entries(&written).unwrap();
        let read = read_entries(&mut store).unwrap();
        assert_eq!(read.entries, written);
        assert!(read.errors.is_empty());
    }

    #[test]
    fn never_more_lookups_than_the_budget() {
        let mut store = MemoryStore::from_entries(&entries(40)).unwrap();
        let mut counting = Counting { store: &mut store, lookups: 0 };
        let read = read_entries(&mut counting).unwrap();
        // The index and the entries; the sites map and the limits take the budget's last two.
        assert_eq!(counting.lookups, LOOKUP_BUDGET - 2);
        assert_eq!(read.entries.len(), MAX_ENTRIES);
        // One report names the first skipped entries and counts the rest.
        assert_eq!(read.errors.len(), 1);
        assert_eq!(read.errors[0].entry, "e13");
        let reason = &read.errors[0].reason;
        assert!(reason.starts_with("skipped 27 entries (e13, e14, e15, e16, e17 and 22 more)"), "{reason}");
        assert!(reason.contains("lists 40 entries") && reason.contains("only the first 13"), "{reason}");
    }

    #[test]
    fn missing_index_and_bad_index_are_store_errors() {
        let mut empty = MemoryStore::default();
        assert_eq!(read_entries(&mut empty), Err(StoreError::NoIndex("rules".into())));
        let mut bad = MemoryStore::new([(INDEX_KEY.to_owned(), "banner".to_owned())].into());
        assert!(matches!(read_entries(&mut bad), Err(StoreError::BadIndex(..))));
    }

    #[test]
    fn a_versioned_index_names_the_version_and_costs_no_lookup() {
        let index = r#"{"version": "v7", "entries": ["v7.e00"]}"#;
        let mut store =
            MemoryStore::new([(INDEX_KEY.to_owned(), index.to_owned()), ("v7.e00".to_owned(), "[]".to_owned())].into());
        let mut counting = Counting { store: &mut store, lookups: 0 };
        let read = read_entries(&mut counting).unwrap();
        assert_eq!(read.version.as_deref(), Some("v7"));
        assert_eq!(read.entries, [("v7.e00".to_owned(), "[]".to_owned())]);
        assert_eq!(counting.lookups, 2, "the index and its one entry");
        let plain = read_entries(&mut MemoryStore::from_entries(&entries(1)).unwrap()).unwrap();
        assert_eq!(plain.version, None);
    }

    #[test]
    fn a_store_file_over_the_limits_is_refused_by_key() {
        let store = MemoryStore::new(
            [("rules".to_owned(), "[\"big\"]".to_owned()), ("big".to_owned(), "x".repeat(MAX_VALUE_CHARS + 1))].into(),
        );
        let refused = store.over_limits();
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].entry, "big");
        assert!(refused[0].reason.contains("8001 characters long"), "{}", refused[0]);
    }

    #[test]
    fn a_listed_entry_that_is_absent_is_reported() {
        let mut store = MemoryStore::new([(INDEX_KEY.to_owned(), r#"["gone"]"#.to_owned())].into());
        let read = read_entries(&mut store).unwrap();
        assert!(read.entries.is_empty());
        assert_eq!(read.errors[0].entry, "gone");
        assert!(read.errors[0].reason.contains("absent"), "{}", read.errors[0]);
    }

    #[test]
    fn values_over_the_fastly_limit_are_refused_by_name() {
        let big = vec![("huge".to_owned(), "x".repeat(MAX_VALUE_CHARS + 1))];
        let err = MemoryStore::from_entries(&big).unwrap_err();
        assert_eq!(
            err.to_string(),
            "entry \"huge\" is 8001 characters long; a config store value holds at most 8000: split its rules over \
             several entries"
        );
        let exact = vec![("exact".to_owned(), "x".repeat(MAX_VALUE_CHARS))];
        assert!(MemoryStore::from_entries(&exact).is_ok());
    }

    #[test]
    fn keys_a_config_store_refuses_are_named() {
        let refused = |name: &str| MemoryStore::from_entries(&[(name.to_owned(), "[]".to_owned())]).unwrap_err();
        assert_eq!(refused(INDEX_KEY).to_string(), "an entry cannot be named `rules`: that key is the index");
        assert_eq!(
            refused("rules.previous").to_string(),
            "an entry cannot be named `rules.previous`: that key is the previous index, kept for a rollback"
        );
        assert_eq!(refused("").to_string(), "entry name \"\" must be 1 to 255 characters long");
    }

    /// Rule files of about `size` characters each.
    fn rule_files(names: &[&str], size: usize) -> Vec<(String, String)> {
        let rule = |id: &str| {
            format!(r#"{{"id":"{id}","selector":"body","actions":[{{"append":{{"text":"{}"}}}}]}}"#, "x".repeat(size))
        };
        names.iter().map(|name| (name.to_string(), rule(name))).collect()
    }

    fn index(store: &MemoryStore, key: &str) -> Vec<String> {
        Index::parse(key, &store.values()[key]).unwrap().entries
    }

    #[test]
    fn files_are_packed_and_a_draft_packs_over_them_sharing_what_it_leaves_alone() {
        // Two packs of live files: e00..e05 fill the first, e06..e07 the second.
        let live = rule_files(&["e00", "e01", "e02", "e03", "e04", "e05", "e06", "e07"], 1_200);
        let (store, refused) = store_for_files(&live, Some(&rule_files(&["e06", "e09"], 100)));
        assert!(refused.is_empty(), "{refused:?}");
        assert_eq!(index(&store, INDEX_KEY), ["e00..e05", "e06..e07"]);
        let draft = index(&store, DRAFT_INDEX_KEY);
        assert_eq!(draft, ["e00..e05", "draft.e06..e09"], "the first pack is the live one");
        let mut reader = store.clone();
        let drafted = read_entries_at(&mut reader, DRAFT_INDEX_KEY).unwrap();
        let (rules, errors) = crate::RuleSet::from_entries(&drafted.entries);
        assert!(errors.is_empty(), "{errors:?}");
        let sources: Vec<(&str, &str)> = rules.rules_by_entry().skip(5).collect();
        assert_eq!(
            sources,
            [("e05", "e05.json"), ("e06", "draft/e06.json"), ("e07", "e07.json"), ("e09", "draft/e09.json")]
        );
    }

    #[test]
    fn files_past_what_a_request_reads_are_named_once() {
        let names: Vec<String> = (0..20).map(|i| format!("f{i:02}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let (store, refused) = store_for_files(&rule_files(&names, 7_000), None);
        assert_eq!(index(&store, INDEX_KEY).len(), MAX_ENTRIES, "the index names what a request reads");
        assert_eq!(refused.len(), 1, "{refused:?}");
        let reason = &refused[0].reason;
        assert!(reason.starts_with("the rule files fill 20 store entries once packed"), "{reason}");
        assert!(reason.contains("the rules in f13, f14, f15, f16, f17, f18, f19 are left out"), "{reason}");
        let (_, broken) = store_for_files(&[("10-a".into(), "{".into())], Some(&[("20-b".into(), "[1".into())]));
        let entries: Vec<&str> = broken.iter().map(|error| error.entry.as_str()).collect();
        assert_eq!(entries, ["10-a", "draft.20-b"], "{broken:?}");
    }

    #[test]
    fn json_round_trip() {
        let store = MemoryStore::from_entries(&entries(2)).unwrap();
        assert_eq!(MemoryStore::from_json(&store.to_json()).unwrap(), store);
        assert!(MemoryStore::from_json("[1]").is_err());
    }
}
