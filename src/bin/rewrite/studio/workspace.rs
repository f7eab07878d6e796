//! What the studio works on: the pages to pick from, the rules directory (live rules in
//! `live/`, the draft in `draft/`), and the one place that writes, [`Workspace::save`], which
//! writes a rule file into the draft directory and nowhere else.

use std::path::{Path, PathBuf};

use edge_rewriter::store::read_rules_dir;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::StudioArgs;
use super::rule_file::{entry_text, rules_of};
use crate::inputs::{LoadedRules, RulesSource, load_dir_entries};

/// Page files the studio offers, by extension.
const PAGE_EXTENSIONS: [&str; 3] = ["html", "htm", "xhtml"];
/// How deep the pages directory is searched.
const PAGE_DEPTH: usize = 6;

/// Entries as name and text, in file-name order.
pub type Entries = Vec<(String, String)>;

pub struct Workspace {
    /// As given (paths in messages read as the editor wrote them).
    pub rules_dir: PathBuf,
    /// Where it really is: the draft directory must be inside it.
    real_rules_dir: PathBuf,
    pub live_dir: PathBuf,
    pub draft_dir: PathBuf,
    pub pages_dir: PathBuf,
    pub fragments_dir: PathBuf,
    pub urls: Vec<String>,
    pub store_file: Option<PathBuf>,
}

/// An edit from the studio: a rule, and where it goes.
#[derive(Debug, Clone, Deserialize)]
pub struct Edit {
    /// The entry (file name without `.json`) the rule goes into; a new one when absent.
    #[serde(default)]
    pub entry: Option<String>,
    /// The id of the rule it replaces in that entry; added to the entry when absent.
    #[serde(default)]
    pub replaces: Option<String>,
    /// The rule, as JSON.
    pub rule: Value,
}

/// An edit laid into the rules: the entry's new text, and the rule sets it makes.
pub struct Composed {
    pub entry: String,
    pub text: String,
    pub live: Entries,
    /// The draft directory's entries with the edited entry in place.
    pub draft: Entries,
}

/// A rule as the studio lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ListedRule {
    pub id: Option<String>,
    pub entry: String,
    /// `live`, or `draft` for a rule in the draft directory.
    pub from: &'static str,
    pub rule: Value,
}

impl Workspace {
    pub fn open(args: &StudioArgs) -> Result<Workspace, String> {
        let real_rules_dir = std::fs::canonicalize(&args.rules).map_err(|err| {
            format!(
                "{}: {err} (give the rules directory, which holds live/ and draft/, with --rules DIR)",
                args.rules.display()
            )
        })?;
        let rules_dir = args.rules.clone();
        let live_dir = rules_dir.join("live");
        if !live_dir.is_dir() {
            return Err(format!(
                "{}: no live/ directory: --rules names the directory holding live/ (and draft/), e.g. --rules rules",
                rules_dir.display()
            ));
        }
        let pages_dir = args.pages.clone();
        if !pages_dir.is_dir() {
            return Err(format!("{}: no such directory (give the pages with --pages DIR)", pages_dir.display()));
        }
        let fragments_dir = args.fragments.clone().unwrap_or_else(|| pages_dir.clone());
        let store_file = match &args.store_file {
            Some(file) => Some(file.clone()),
            None => Some(rules_dir.join("store.json")).filter(|file| file.is_file()),
        };
        Ok(Workspace {
            draft_dir: rules_dir.join("draft"),
            rules_dir,
            real_rules_dir,
            live_dir,
            pages_dir,
            fragments_dir,
            urls: args.urls.clone(),
            store_file,
        })
    }

    /// The pages under the pages directory, as paths relative to it, sorted.
    pub fn pages(&self) -> Vec<String> {
        let mut pages = Vec::new();
        collect_pages(&self.pages_dir, &self.pages_dir, 0, &mut pages);
        pages.sort();
        pages
    }

    /// A page's bytes, for a path [`pages`](Self::pages) lists (nothing else is read).
    pub fn page(&self, relative: &str) -> Result<Vec<u8>, String> {
        if !self.pages().iter().any(|page| page == relative) {
            return Err(format!("{relative:?} is not one of the pages in {}", self.pages_dir.display()));
        }
        std::fs::read(self.pages_dir.join(relative)).map_err(|err| format!("{relative}: {err}"))
    }

    /// The page a request URL maps to, as the fixture origin serves the pages directory:
    /// `/shop/` is `shop/index.html`.
    pub fn page_for_url(&self, url: &str) -> Option<String> {
        let path = edge_rewriter::RequestContext::for_url("GET", url).ok()?.path;
        let relative = path.trim_start_matches('/');
        let relative = if relative.is_empty() || relative.ends_with('/') {
            format!("{relative}index.html")
        } else {
            relative.to_owned()
        };
        self.pages().into_iter().find(|page| *page == relative)
    }

    /// The live entries and the draft directory's (none when it does not exist yet).
    pub fn entries(&self) -> Result<(Entries, Entries), String> {
        let live = read_rules_dir(&self.live_dir).map_err(|err| format!("{}: {err}", self.live_dir.display()))?;
        let draft = if self.draft_dir.is_dir() {
            read_rules_dir(&self.draft_dir).map_err(|err| format!("{}: {err}", self.draft_dir.display()))?
        } else {
            Vec::new()
        };
        Ok((live, draft))
    }

    /// Every rule, live and draft, as written.
    pub fn rules(&self) -> Result<Vec<ListedRule>, String> {
        let (live, draft) = self.entries()?;
        let mut listed = Vec::new();
        for (from, entries) in [("live", &live), ("draft", &draft)] {
            for (entry, text) in entries {
                // An entry that is not JSON is listed by `validate`'s problems instead.
                for rule in rules_of(text).unwrap_or_default() {
                    let id = rule.get("id").and_then(Value::as_str).map(str::to_owned);
                    listed.push(ListedRule { id, entry: entry.clone(), from, rule });
                }
            }
        }
        Ok(listed)
    }

    /// The rules as the service reads them: live, or the draft over them.
    pub fn load(&self, live: &[(String, String)], draft: Option<&[(String, String)]>) -> Result<LoadedRules, String> {
        let source = RulesSource::Dir { live: self.live_dir.clone(), draft: draft.map(|_| self.draft_dir.clone()) };
        load_dir_entries(live, draft, source)
    }

    /// The rules with `edit` laid into its entry (in the draft).
    pub fn compose(&self, edit: &Edit, studio_attribute: &str) -> Result<Composed, String> {
        if !edit.rule.is_object() {
            return Err("the rule must be a JSON object".to_owned());
        }
        if edit.rule.to_string().contains(studio_attribute) {
            return Err(format!(
                "the rule mentions {studio_attribute}, the studio's own attribute, which pages at the edge never have: \
                 pick another selector"
            ));
        }
        let (live, mut draft) = self.entries()?;
        let id = edit.rule.get("id").and_then(Value::as_str).unwrap_or("rule");
        let entry = match &edit.entry {
            Some(entry) => entry.clone(),
            None => new_entry_name(id, &live, &draft),
        };
        check_entry_name(&entry)?;
        let base = draft.iter().chain(&live).find(|(name, _)| *name == entry).map(|(_, text)| text.clone());
        let mut rules = match base {
            Some(text) => rules_of(&text).map_err(|err| {
                format!(
                    "{}: {err}; fix it by hand before the studio edits it",
                    self.draft_dir.join(format!("{entry}.json")).display()
                )
            })?,
            None => Vec::new(),
        };
        let at = edit
            .replaces
            .as_deref()
            .and_then(|id| rules.iter().position(|rule| rule.get("id").and_then(Value::as_str) == Some(id)));
        match at {
            Some(at) => rules[at] = edit.rule.clone(),
            None => rules.push(edit.rule.clone()),
        }
        let text = entry_text(&rules);
        match draft.iter_mut().find(|(name, _)| *name == entry) {
            Some((_, existing)) => *existing = text.clone(),
            None => {
                draft.push((entry.clone(), text.clone()));
                draft.sort();
            }
        }
        Ok(Composed { entry, text, live, draft })
    }

    /// Writes `text` as the draft entry `entry`: `DIR/draft/ENTRY.json`, created or replaced
    /// whole (written aside, then renamed into place). The only write the studio makes.
    pub fn save(&self, entry: &str, text: &str) -> Result<PathBuf, String> {
        check_entry_name(entry)?;
        std::fs::create_dir_all(&self.draft_dir).map_err(|err| format!("{}: {err}", self.draft_dir.display()))?;
        let real_draft_dir = std::fs::canonicalize(&self.draft_dir).map_err(|err| err.to_string())?;
        if real_draft_dir.parent() != Some(self.real_rules_dir.as_path()) {
            return Err(format!(
                "{} is not inside {}: the studio writes only under the rules directory",
                real_draft_dir.display(),
                self.real_rules_dir.display()
            ));
        }
        let file = self.draft_dir.join(format!("{entry}.json"));
        if std::fs::symlink_metadata(&file).is_ok_and(|meta| !meta.is_file()) {
            return Err(format!("{}: not a plain file; the studio replaces only plain files", file.display()));
        }
        let aside = real_draft_dir.join(format!(".{entry}.json.studio"));
        std::fs::write(&aside, text).map_err(|err| format!("{}: {err}", aside.display()))?;
        std::fs::rename(&aside, real_draft_dir.join(format!("{entry}.json")))
            .map_err(|err| format!("{}: {err}", file.display()))?;
        Ok(file)
    }
}

/// An entry name the store takes as a key and the file system as a plain file name.
fn check_entry_name(entry: &str) -> Result<(), String> {
    let plain = crate::versions::key_safe(entry)
        && !entry.starts_with('.')
        && entry.len() <= 200
        && entry.bytes().any(|b| b.is_ascii_alphanumeric());
    if plain {
        Ok(())
    } else {
        Err(format!(
            "the file name {entry:?} cannot be used: name rule files with letters, digits, `-`, `_` and `.` (not first)"
        ))
    }
}

/// A new entry's name: after the last numbered one (`90-` after `80-…`), then the rule's id.
fn new_entry_name(id: &str, live: &[(String, String)], draft: &[(String, String)]) -> String {
    let last =
        live.iter().chain(draft).filter_map(|(name, _)| name.split('-').next()?.parse::<u64>().ok()).max().unwrap_or(0);
    let slug: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c.to_ascii_lowercase() } else { '-' })
        .collect();
    let slug = slug.trim_matches('-');
    let slug = if slug.is_empty() { "rule" } else { slug };
    format!("{}-{slug}", (last / 10 + 1) * 10)
}

fn collect_pages(root: &Path, dir: &Path, depth: usize, pages: &mut Vec<String>) {
    let Ok(read) = std::fs::read_dir(dir) else { return };
    for entry in read.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if hidden || kind.is_symlink() {
            continue;
        }
        if kind.is_dir() && depth < PAGE_DEPTH {
            collect_pages(root, &path, depth + 1, pages);
        } else if kind.is_file()
            && path.extension().is_some_and(|ext| PAGE_EXTENSIONS.iter().any(|e| ext == *e))
            && let Some(relative) = path.strip_prefix(root).ok().and_then(Path::to_str)
        {
            pages.push(relative.replace('\\', "/"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_entries_come_after_the_last_numbered_one() {
        let live = vec![("10-a".to_owned(), String::new()), ("80-app-shell".to_owned(), String::new())];
        assert_eq!(new_entry_name("Promo banner!", &live, &[]), "90-promo-banner");
        assert_eq!(new_entry_name("x", &[], &[("95-x".to_owned(), String::new())]), "100-x");
        assert_eq!(new_entry_name("", &[], &[]), "10-rule");
    }

    #[test]
    fn entry_names_are_plain_file_names() {
        for bad in ["", ".", "..", "../live/10-a", "a/b", ".hidden", "a b", "x\\y"] {
            assert!(check_entry_name(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["90-promo", "a.b", "x_1"] {
            assert!(check_entry_name(good).is_ok(), "{good:?} refused");
        }
    }
}
