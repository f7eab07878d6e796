//! The limits in force for a request, read from the config store on every request so that a
//! site owner's change applies at once.

use edge_rewriter::store::{LIMITS_KEY, Limits};

use super::config_store::{self, STORE_NAME};

/// The store's `limits`, or the defaults when there are none or they cannot be used.
pub fn read() -> Limits {
    let value = match config_store::open(STORE_NAME).map(|store| store.try_get(LIMITS_KEY)) {
        Ok(Ok(Some(value))) => value,
        Ok(Ok(None)) | Err(_) => return Limits::default(),
        Ok(Err(err)) => {
            log::error!("looking up `{LIMITS_KEY}` failed ({err}); using the default limits");
            return Limits::default();
        }
    };
    Limits::parse(&value).unwrap_or_else(|err| {
        log::error!("{err}; using the default limits");
        Limits::default()
    })
}
