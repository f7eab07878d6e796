//! Where the project's pieces are: the repository root, fixtures, rules and the service's
//! wasm (built on demand).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository root (the directory holding fastly.toml).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("devstack lives in the repository").to_path_buf()
}

/// `fixtures/pages`, what the fixture origin serves.
pub fn fixture_pages() -> PathBuf {
    root().join("fixtures").join("pages")
}

/// `rules/store.json`, the local config store's content.
pub fn rules_store() -> PathBuf {
    root().join("rules").join("store.json")
}

/// Copies the directory `from` to `to`, files and subdirectories, for a test to change freely.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|err| panic!("{}: {err}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|err| panic!("{}: {err}", from.display())).flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap_or_else(|err| panic!("{}: {err}", target.display()));
        }
    }
}

/// The shared test corpus (../shared/corpus next to the repository, or `EDGE_REWRITER_CORPUS`),
/// if this machine has it.
///
/// Where it is missing, corpus tests pass without running: this prints `SKIPPED` and returns
/// `None`. Under CI (`CI=true`, in any case) a missing corpus is an error instead: it panics,
/// saying where it looked, so that CI never passes corpus tests it did not run.
pub fn corpus() -> Option<PathBuf> {
    let from_env = std::env::var_os("EDGE_REWRITER_CORPUS").map(PathBuf::from);
    let ci = std::env::var("CI").is_ok_and(|value| is_ci(&value));
    find_corpus(from_env, ci)
}

/// Whether a value of the environment variable `CI` means we run under CI.
fn is_ci(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case("true")
}

fn find_corpus(from_env: Option<PathBuf>, ci: bool) -> Option<PathBuf> {
    let named = from_env.is_some();
    let dir = from_env.unwrap_or_else(|| root().join("..").join("shared").join("corpus"));
    if dir.is_dir() {
        return Some(dir);
    }
    let looked = if named {
        format!("EDGE_REWRITER_CORPUS={}, which is not a directory", dir.display())
    } else {
        format!("{} (EDGE_REWRITER_CORPUS is not set)", dir.display())
    };
    if ci {
        panic!(
            "CI is true but there is no test corpus: looked at {looked}. Corpus tests must run under CI: \
             put the shared corpus (pages/, html5lib/, css3-modsel/) at ../shared/corpus next to the \
             repository, or set EDGE_REWRITER_CORPUS to its directory."
        );
    }
    eprintln!("SKIPPED: no test corpus at {looked} (set EDGE_REWRITER_CORPUS)");
    None
}

/// The corpus's pages (`pages/*.html`) as (file name, bytes), smallest first: what the
/// benches and the text replacement tests run on. Empty where this machine has no corpus
/// (after [`corpus`]'s `SKIPPED`; under CI, [`corpus`] panics instead).
pub fn corpus_pages() -> Vec<(String, Vec<u8>)> {
    let Some(corpus) = corpus() else { return Vec::new() };
    let dir = corpus.join("pages");
    let mut pages: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err} (set EDGE_REWRITER_CORPUS)", dir.display()))
        .flatten()
        .filter(|entry| entry.path().extension().is_some_and(|x| x == "html"))
        .map(|entry| {
            let page = std::fs::read(entry.path()).unwrap_or_else(|err| panic!("{}: {err}", entry.path().display()));
            (entry.file_name().to_string_lossy().into_owned(), page)
        })
        .collect();
    pages.sort_by(|(a_name, a), (b_name, b)| a.len().cmp(&b.len()).then_with(|| a_name.cmp(b_name)));
    pages
}

/// The release wasm of the service.
///
/// `EDGE_REWRITER_WASM` names a prebuilt one (the test script sets it after building once);
/// otherwise it is built here, once per process: `cargo build` is a no-op when up to date.
pub fn service_wasm() -> PathBuf {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        if let Some(path) = std::env::var_os("EDGE_REWRITER_WASM") {
            let path = PathBuf::from(path);
            assert!(path.is_file(), "EDGE_REWRITER_WASM={} is not a file", path.display());
            return path;
        }
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root())
            .args(["build", "--release", "--target", "wasm32-wasip1", "--bin", "edge-rewriter"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the service's wasm failed");
        let target =
            std::env::var_os("CARGO_TARGET_DIR").map(|dir| root().join(dir)).unwrap_or_else(|| root().join("target"));
        target.join("wasm32-wasip1").join("release").join("edge-rewriter.wasm")
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_is_true_in_any_case() {
        assert!(is_ci("true") && is_ci("TRUE") && is_ci("True"));
        assert!(!is_ci("") && !is_ci("false") && !is_ci("1"));
    }

    #[test]
    fn a_missing_corpus_is_skipped_outside_ci() {
        assert_eq!(find_corpus(Some(root().join("no-such-corpus")), false), None);
    }

    #[test]
    #[should_panic(expected = "EDGE_REWRITER_CORPUS=")]
    fn a_missing_corpus_fails_under_ci() {
        find_corpus(Some(root().join("no-such-corpus")), true);
    }

    #[test]
    fn a_present_corpus_is_found_under_ci_too() {
        let here = root().join("fixtures");
        assert_eq!(find_corpus(Some(here.clone()), true), Some(here));
    }
}
