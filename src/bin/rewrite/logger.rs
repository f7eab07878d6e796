//! Warnings and notes on standard error: the engine's (a bail-out, a text node over the
//! regex limit) through `log`, and the CLI's own. While `check` runs a case, each line
//! names the case, so a note is never left without the page it is about.

use std::sync::Mutex;

/// What the current lines are about, e.g. `case news-article`.
static CONTEXT: Mutex<Option<String>> = Mutex::new(None);

struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            note(&format!("{}: {}", record.level().as_str().to_lowercase(), record.args()));
        }
    }

    fn flush(&self) {}
}

pub fn init() {
    static LOGGER: StderrLogger = StderrLogger;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
}

/// Names what the following lines are about, until set again (`None`: nothing).
pub fn set_context(context: Option<String>) {
    *CONTEXT.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = context;
}

/// Prints a note on standard error: `rewrite: [context: ]message`.
pub fn note(message: &str) {
    let context = CONTEXT.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    match context {
        Some(context) => eprintln!("rewrite: {context}: {message}"),
        None => eprintln!("rewrite: {message}"),
    }
}
