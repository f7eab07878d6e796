//! Standard output, for a command whose reader may stop early: `rewrite check | head -1`
//! closes the pipe after one line. Writing then fails with a broken pipe, which `println!`
//! turns into a panic; here it ends the program quietly with status 0, as ripgrep does:
//! the reader has all it wanted.

use std::fmt::Display;
use std::io::{self, Write};

/// Prints `text` and a newline.
pub fn line(text: impl Display) {
    write(format_args!("{text}\n"));
}

/// `1 entry`, `2 entries`, `0 entries`: a count and the noun that agrees with it.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Prints `text` as it is.
pub fn text(text: impl Display) {
    write(format_args!("{text}"));
}

fn write(args: std::fmt::Arguments<'_>) {
    if let Err(err) = io::stdout().lock().write_fmt(args) {
        failed(&err);
    }
}

/// Writing to standard output failed: a closed pipe ends the program quietly; anything else
/// is reported, with status 2.
fn failed(err: &io::Error) -> ! {
    failed_or(err);
    eprintln!("error: writing to standard output failed: {err}");
    std::process::exit(2);
}

/// Ends the program quietly if `err` is a closed pipe; returns otherwise, for the caller to
/// report the error its own way.
pub fn failed_or(err: &io::Error) {
    if err.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
}
