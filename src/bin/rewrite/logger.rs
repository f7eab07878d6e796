//! Standard error: the engine's warnings (a bail-out, a text node over the regex limit)
//! through `log`, and the CLI's own notes, warnings and errors. Each line is labelled with
//! what it is (`note:`, `warning:`, `error:`), so a note is never read as a failure; standard
//! output stays the page or the report alone. While `check` runs a case, each line names the
//! case, so a note is never left without the page it is about.

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
            let label = match record.level() {
                log::Level::Error => Label::Error,
                _ => Label::Warning,
            };
            print(label, &record.args().to_string());
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

/// What a line on standard error is.
#[derive(Debug, Clone, Copy)]
enum Label {
    /// Worth knowing; nothing is wrong.
    Note,
    /// Likely not what was meant; the command still succeeds.
    Warning,
    /// Something the service would refuse or skip: the exit status says so.
    Error,
}

/// `note: [context: ]message`: for information only.
pub fn note(message: &str) {
    print(Label::Note, message);
}

/// `error: [context: ]message`: the caller also makes the exit status say so.
pub fn error(message: &str) {
    print(Label::Error, message);
}

fn print(label: Label, message: &str) {
    let label = match label {
        Label::Note => "note",
        Label::Warning => "warning",
        Label::Error => "error",
    };
    let context = CONTEXT.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    match context {
        Some(context) => eprintln!("{label}: {context}: {message}"),
        None => eprintln!("{label}: {message}"),
    }
}
