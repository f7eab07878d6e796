//! The config store the service reads on every request: the rules index and entries, the
//! draft, the sites map. Its name is fastly.toml's (`[local_server.config_stores]` and
//! `[setup.config_stores]`).

use fastly::ConfigStore;

/// The config store's name.
pub const STORE_NAME: &str = "edge_rewriter_rules";

/// Opens the store named `name` (tests use a second, local one).
pub fn open(name: &str) -> Result<ConfigStore, String> {
    ConfigStore::try_open(name).map_err(|err| format!("config store {name:?} cannot be opened ({err})"))
}
