//! What `rewrite publish --dry-run` would say if the draft went live: the live rules with the
//! draft laid over them, published (dry) against the store. It runs the `rewrite` command
//! itself, so the studio shows exactly what the command prints, and never writes: the rules
//! go to a scratch directory, the store is read from a copy.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::pipeline::promoted;
use super::workspace::Workspace;

/// The dry run's output (what it printed, standard output then standard error).
pub fn dry_run(workspace: &Workspace) -> Result<String, String> {
    let (live, draft) = workspace.entries()?;
    let scratch = Scratch::new()?;
    let rules = scratch.0.join("rules");
    std::fs::create_dir(&rules).map_err(|err| err.to_string())?;
    for (name, text) in promoted(&live, &draft) {
        std::fs::write(rules.join(format!("{name}.json")), text).map_err(|err| err.to_string())?;
    }
    let store = scratch.0.join("store.json");
    match &workspace.store_file {
        Some(file) => std::fs::copy(file, &store).map(|_| ()).map_err(|err| format!("{}: {err}", file.display()))?,
        None => std::fs::write(&store, "{}").map_err(|err| err.to_string())?,
    }
    let exe = std::env::current_exe().map_err(|err| format!("the rewrite command cannot be found: {err}"))?;
    let output = Command::new(exe)
        .arg("publish")
        .arg("--rules")
        .arg(&rules)
        .arg("--store-file")
        .arg(&store)
        .arg("--dry-run")
        .output()
        .map_err(|err| format!("running rewrite publish --dry-run: {err}"))?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    // The scratch paths mean nothing to the editor: name what they stand for.
    let store_name = workspace.store_file.as_deref().map_or_else(|| "an empty store".to_owned(), display);
    Ok(text.replace(&display(&store), &store_name).replace(&display(&rules), &display(&workspace.live_dir)))
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

/// A directory of its own under the system's temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch, String> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|err| err.to_string())?;
        let name: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        let dir = std::env::temp_dir().join(format!("rewrite-studio-{name}"));
        std::fs::create_dir(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
