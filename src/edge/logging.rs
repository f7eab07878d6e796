//! Logging through log-fastly to a named endpoint (Viceroy prints it as `name :: message`).

/// The log endpoint's name (fastly.toml `[setup.log_endpoints]`).
pub const LOG_ENDPOINT: &str = "edge_rewriter_log";

/// Routes the `log` macros, ours and the engine's, to the endpoint. Safe to call once per
/// instance; a second logger is refused quietly rather than panic.
pub fn init() {
    let _ = log_fastly::Logger::builder().max_level(log::LevelFilter::Info).default_endpoint(LOG_ENDPOINT).try_init();
}
