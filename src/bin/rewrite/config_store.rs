//! The config store `publish` and `rollback` read and write: a Fastly config store through
//! the Fastly CLI, or a store file standing in for one (offline, in tests, or Viceroy's
//! local store).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{FastlyArgs, StoreTarget};

/// A config store, as `publish` and `rollback` use it: read whole, written a key at a time.
pub trait ConfigStore {
    /// Every key and value the store holds now.
    fn read_all(&mut self) -> Result<BTreeMap<String, String>, String>;
    /// Sets `key` to `value`, creating it if needed.
    fn upsert(&mut self, key: &str, value: &str) -> Result<(), String>;
    /// Removes `key`.
    fn delete(&mut self, key: &str) -> Result<(), String>;
    /// What the store is, for messages: `store file rules/store.json`, `config store abc123`.
    fn describe(&self) -> String;
}

/// The store `--store-id` or `--store-file` names.
pub fn open(target: &StoreTarget, fastly: &FastlyArgs) -> Result<Box<dyn ConfigStore>, String> {
    match (&target.store_id, &target.store_file) {
        (Some(id), None) => Ok(Box::new(FastlyCli { program: fastly.fastly_cli.clone(), store_id: id.clone() })),
        (None, Some(file)) => Ok(Box::new(StoreFile::open(file)?)),
        _ => Err("give the store: --store-id ID (through the Fastly CLI) or --store-file FILE".to_owned()),
    }
}

/// A store file: a JSON object of strings (what Viceroy reads and `rewrite store` writes),
/// or what `fastly config-store-entry list --json` prints. Each write rewrites the whole
/// file, by renaming a complete new one over it: a reader sees the store before or after a
/// write, as a request sees a config store.
pub struct StoreFile {
    path: PathBuf,
    values: BTreeMap<String, String>,
}

/// One item as `fastly config-store-entry list --json` prints it.
#[derive(serde::Deserialize)]
struct ListedItem {
    item_key: String,
    item_value: String,
}

impl StoreFile {
    fn open(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            values: parse_store(&text).map_err(|err| format!("{}: {err}", path.display()))?,
        })
    }

    fn save(&self) -> Result<(), String> {
        let json = edge_rewriter::store::MemoryStore::new(self.values.clone()).to_json();
        let temporary = self.path.with_extension("json.publishing");
        std::fs::write(&temporary, json).map_err(|err| format!("{}: {err}", temporary.display()))?;
        std::fs::rename(&temporary, &self.path).map_err(|err| format!("{}: {err}", self.path.display()))
    }
}

/// A store's content from a JSON object of strings, or from a list of items.
fn parse_store(text: &str) -> Result<BTreeMap<String, String>, String> {
    if let Ok(values) = serde_json::from_str::<BTreeMap<String, String>>(text) {
        return Ok(values);
    }
    let items: Vec<ListedItem> = serde_json::from_str(text).map_err(|err| {
        format!(
            "not a store: expected a JSON object of strings, or the list `fastly config-store-entry list --json` \
             prints ({err})"
        )
    })?;
    Ok(items.into_iter().map(|item| (item.item_key, item.item_value)).collect())
}

impl ConfigStore for StoreFile {
    fn read_all(&mut self) -> Result<BTreeMap<String, String>, String> {
        Ok(self.values.clone())
    }

    fn upsert(&mut self, key: &str, value: &str) -> Result<(), String> {
        self.values.insert(key.to_owned(), value.to_owned());
        self.save()
    }

    fn delete(&mut self, key: &str) -> Result<(), String> {
        self.values.remove(key);
        self.save()
    }

    fn describe(&self) -> String {
        format!("store file {}", self.path.display())
    }
}

/// A Fastly config store, through the Fastly CLI (which has the account's token).
pub struct FastlyCli {
    program: PathBuf,
    store_id: String,
}

impl FastlyCli {
    /// Runs `fastly config-store-entry ARGS --store-id ID`, with `stdin` as its input.
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
        let mut command = Command::new(&self.program);
        command.arg("config-store-entry").args(args).arg("--store-id").arg(&self.store_id);
        let shown =
            format!("{} config-store-entry {} --store-id {}", self.program.display(), args.join(" "), self.store_id);
        let mut child = command
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| {
                format!(
                    "{}: {err}; install the Fastly CLI (npm install -g @fastly/cli) or name it with --fastly-cli PATH",
                    self.program.display()
                )
            })?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input.as_bytes()).map_err(|err| format!("{shown}: writing the value: {err}"))?;
        }
        let output = child.wait_with_output().map_err(|err| format!("{shown}: {err}"))?;
        if !output.status.success() {
            return Err(format!(
                "{shown} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

impl ConfigStore for FastlyCli {
    fn read_all(&mut self) -> Result<BTreeMap<String, String>, String> {
        let listed = self.run(&["list", "--json"], None)?;
        parse_store(&listed).map_err(|err| format!("the Fastly CLI's list of store {}: {err}", self.store_id))
    }

    fn upsert(&mut self, key: &str, value: &str) -> Result<(), String> {
        self.run(&["update", "--upsert", "--key", key, "--stdin"], Some(value)).map(drop)
    }

    fn delete(&mut self, key: &str) -> Result<(), String> {
        self.run(&["delete", "--key", key], None).map(drop)
    }

    fn describe(&self) -> String {
        format!("config store {}", self.store_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_are_read_as_objects_or_as_the_fastly_clis_list() {
        let object = parse_store(r#"{"rules": "[]", "a": "1"}"#).unwrap();
        let listed = parse_store(
            r#"[{"store_id": "s", "item_key": "rules", "item_value": "[]", "created_at": null},
                {"store_id": "s", "item_key": "a", "item_value": "1"}]"#,
        )
        .unwrap();
        assert_eq!(object, listed);
        assert!(parse_store("[1]").unwrap_err().contains("not a store"));
    }
}
