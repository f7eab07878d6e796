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

/// The shared test corpus (../shared/corpus next to the repository, or `EDGE_REWRITER_CORPUS`),
/// if this machine has it.
pub fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("EDGE_REWRITER_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("..").join("shared").join("corpus"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: no test corpus at {} (set EDGE_REWRITER_CORPUS)", dir.display());
        None
    }
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
