//! Headless Chromium, for tests that must see a page as a person would.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Chromium to run: `CHROMIUM` if set, else the first of the usual names on PATH.
pub fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|name| {
        std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| Path::new(dir).join(name)).find(|path| path.is_file())
    })
}

/// Renders `page` (a local file) at `width`x`height` and writes a PNG screenshot to `png`.
pub fn screenshot(page: &Path, png: &Path, width: u32, height: u32) -> io::Result<()> {
    let chromium = chromium().ok_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, "no Chromium found (scripts/bootstrap installs Debian's chromium)")
    })?;
    let profile = crate::viceroy::scratch_dir()?.join("chromium-profile");
    let page = std::fs::canonicalize(page)?;
    // The machine's network is closed: without these flags Chromium keeps trying to reach
    // Google's services at start-up.
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            // Every host fails at once: rendered fixtures name hosts that do not exist here.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()?;
    if !png.is_file() {
        return Err(io::Error::other(format!(
            "chromium wrote no screenshot ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(())
}
