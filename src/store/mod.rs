//! Where rule text comes from: how rules are laid out in a Fastly Config Store and read back
//! within the lookup budget (`layout`, with the `index` naming entries and version), the compiled rules kept between requests
//! (`cache`), and the sites map a store may hold (`sites`).

pub(crate) mod cache;
mod index;
pub(crate) mod layout;
pub(crate) mod limits;
pub(crate) mod pack;
pub(crate) mod sites;

// What only the adapter and the CLI need: the store's layout and keys, the compiled-rule cache, the limits, the sites map.
// The engine's core is at the crate's root.
pub use cache::{CacheLookup, RuleCache};
pub use layout::{
    DRAFT_FILES, DRAFT_INDEX_KEY, DRAFT_PREFIX, EntrySource, INDEX_KEY, Index, LookupError, MAX_ENTRIES,
    MAX_VALUE_CHARS, MemoryStore, PREVIOUS_INDEX_KEY, SITES_KEY, StoreEntries, StoreError, read_entries,
    read_entries_at, read_rules_dir, store_for_files, store_from_dirs,
};
pub use limits::{LIMITS_KEY, Limits, LimitsError};
pub use pack::{PackError, Packed, pack};
pub use sites::{Site, Sites, SitesError};
