//! Logging through log-fastly to named endpoints (Viceroy prints them as `name :: message`).

/// The log endpoint's name (fastly.toml `[setup.log_endpoints]`).
pub const LOG_ENDPOINT: &str = "edge_rewriter_log";
/// Where panics are reported (fastly.toml `[setup.log_endpoints]`).
pub const PANIC_ENDPOINT: &str = "edge_rewriter_panics";

/// Routes the `log` macros, ours and the engine's, to the endpoint, and panics to theirs.
/// Called once per instance; a second logger would be refused quietly rather than panic.
pub fn init() {
    let _ = log_fastly::Logger::builder().max_level(log::LevelFilter::Info).default_endpoint(LOG_ENDPOINT).try_init();
    if let Err(err) = fastly::log::set_panic_endpoint(PANIC_ENDPOINT) {
        log::warn!("panics cannot be logged to {PANIC_ENDPOINT:?}: {err:?}");
    }
}
