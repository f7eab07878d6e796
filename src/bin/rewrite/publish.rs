//! `rewrite publish` and `rewrite rollback`: a rule set goes live in one step a request can
//! never see half done, and goes back in one step.
//!
//! A publish packs the rule files into as few entries as fit (as `rewrite store` does),
//! writes every entry under a key of the new version (`v7.10-sale-banner..80-app-shell`),
//! then keeps the index in use under `rules.previous`, then flips the one `rules` index to
//! the new version: until that last write, requests read the old index and the old entries,
//! which are still all there; after it, the new index and its entries, all written before
//! it. The draft beside the rules, if there is one, is published over the new rules as
//! `rules.draft`; without one, a `rules.draft` naming older rules is removed, so a preview
//! never shows a set older than the live one. Versions beyond the last few are deleted
//! afterwards. A rollback swaps `rules` and `rules.previous`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use edge_rewriter::store::{DRAFT_INDEX_KEY, INDEX_KEY, MemoryStore, read_entries_at, read_rules_dir};
use edge_rewriter::store::{Index, PREVIOUS_INDEX_KEY, store_for_files};

use crate::config_store;
use crate::inputs::load_rules;
use crate::{PublishArgs, RollbackArgs, out, rules_diff, versions};

/// `rewrite publish`.
pub fn publish(args: &PublishArgs) -> Result<i32, String> {
    let draft = draft_dir(args);
    let problems = problems(args, draft.as_deref())?;
    if !problems.is_empty() {
        for problem in &problems {
            out::line(problem);
        }
        out::line(format!(
            "{}: nothing published; `rewrite validate` says more",
            out::count(problems.len(), "problem", "problems")
        ));
        return Ok(1);
    }
    let files = read_rules_dir(&args.rules).map_err(|err| format!("{}: {err}", args.rules.display()))?;
    let drafted = match &draft {
        Some(dir) => Some(read_rules_dir(dir).map_err(|err| format!("{}: {err}", dir.display()))?),
        None => None,
    };
    let (laid_out, _) = store_for_files(&files, drafted.as_deref());
    let mut store = config_store::open(&args.target, &args.fastly)?;
    let values = store.read_all()?;
    let live = values.contains_key(INDEX_KEY).then(|| rule_set(&values, INDEX_KEY));
    let version = versions::next(&values);
    let label = versions::label(version);
    // Every entry of the new set and of its draft, under the new version's keys.
    let index_of = |key: &str| Index::parse(key, &laid_out.values()[key]).map(|index| index.entries);
    let live_names = index_of(INDEX_KEY).map_err(|err| err.to_string())?;
    let draft_names =
        if drafted.is_some() { index_of(DRAFT_INDEX_KEY).map_err(|err| err.to_string())? } else { Vec::new() };
    let mut keys: Vec<(String, String)> = Vec::new();
    for name in live_names.iter().chain(&draft_names) {
        let key = versions::key(version, name);
        if !keys.iter().any(|(known, _)| *known == key) {
            keys.push((key, laid_out.values()[name].clone()));
        }
    }
    let versioned = |names: &[String]| Index {
        version: Some(label.clone()),
        entries: names.iter().map(|name| versions::key(version, name)).collect(),
    };
    let index_text = versioned(&live_names).to_json();
    let draft_index_text = drafted.is_some().then(|| versioned(&draft_names).to_json());
    let new_entries: Vec<(String, String)> =
        live_names.iter().map(|name| (versions::key(version, name), laid_out.values()[name].clone())).collect();
    let (from, changes) = match &live {
        None => ("nothing yet".to_owned(), rules_diff::diff(&[], &new_entries)),
        Some(Ok((version, entries))) => (version.clone(), rules_diff::diff(entries, &new_entries)),
        Some(Err(why)) => (format!("an unreadable set ({why})"), rules_diff::diff(&[], &new_entries)),
    };
    // Same rules, already versioned: nothing to do. (The same rules under a plain index are
    // published, to move them to the versioned layout.)
    let draft_unchanged = !values.contains_key(DRAFT_INDEX_KEY) && draft_index_text.is_none();
    if let Some(Ok((version, _))) = &live
        && versions::of(version).is_some()
        && changes.is_empty()
        && draft_unchanged
    {
        out::line(format!("nothing to publish: {} already holds these rules ({from})", store.describe()));
        return Ok(0);
    }
    // What the store will hold once published, for the stale versions to clean up.
    let mut after = values.clone();
    after.extend(keys.iter().cloned());
    if let Some(current) = values.get(INDEX_KEY) {
        after.insert(PREVIOUS_INDEX_KEY.to_owned(), current.clone());
    }
    after.insert(INDEX_KEY.to_owned(), index_text.clone());
    match &draft_index_text {
        Some(text) => {
            after.insert(DRAFT_INDEX_KEY.to_owned(), text.clone());
        }
        None => {
            after.remove(DRAFT_INDEX_KEY);
        }
    }
    let stale = versions::stale(&after, args.keep as usize);

    out::line(format!("publish {label} to {} (live now: {from})", store.describe()));
    if let Some(Err(_)) = &live {
        out::line(
            "the live rules could not be read: every rule counts as added, and the broken index is kept as rules.previous",
        );
    }
    out::text(changes.render());
    let draft_plan = match (&draft, &draft_index_text, values.contains_key(DRAFT_INDEX_KEY)) {
        (Some(dir), Some(_), _) => format!("then {DRAFT_INDEX_KEY} ({label} with the draft in {})", dir.display()),
        (None, _, true) => format!(
            "then remove {DRAFT_INDEX_KEY} (it names older rules and there is no draft beside {}: previews show {label})",
            args.rules.display()
        ),
        _ => String::new(),
    };
    out::line(format!(
        "keys: write {} ({}), then {PREVIOUS_INDEX_KEY} ({from}), then {INDEX_KEY} ({label}){}{}",
        out::count(keys.len(), "entry", "entries"),
        keys.iter().map(|(key, _)| key.as_str()).collect::<Vec<_>>().join(", "),
        if draft_plan.is_empty() { String::new() } else { format!(", {draft_plan}") },
        if stale.is_empty() { String::new() } else { format!("; then delete {}", stale.join(", ")) }
    ));
    if args.dry_run {
        out::line("dry run: nothing written");
        return Ok(0);
    }
    for (key, text) in &keys {
        store.upsert(key, text)?;
    }
    if let Some(current) = values.get(INDEX_KEY) {
        store.upsert(PREVIOUS_INDEX_KEY, current)?;
    }
    // The one write that makes the new rules live.
    store.upsert(INDEX_KEY, &index_text)?;
    let draft_done = match &draft_index_text {
        Some(text) => {
            store.upsert(DRAFT_INDEX_KEY, text)?;
            format!("; {DRAFT_INDEX_KEY} is {label} with the draft")
        }
        None if values.contains_key(DRAFT_INDEX_KEY) => {
            store.delete(DRAFT_INDEX_KEY)?;
            format!("; {DRAFT_INDEX_KEY} removed, previews show {label}")
        }
        None => String::new(),
    };
    let mut removed = 0;
    for key in &stale {
        // The new rules are live: a failed clean-up is reported, not fatal.
        match store.delete(key) {
            Ok(()) => removed += 1,
            Err(err) => out::line(format!("warning: could not delete the stale entry {key}: {err}")),
        }
    }
    out::line(format!(
        "published {label}: {} live{draft_done}; {PREVIOUS_INDEX_KEY} holds {from} (`rewrite rollback` flips back); \
         {} deleted",
        out::count(live_names.len(), "entry", "entries"),
        out::count(removed, "stale entry", "stale entries"),
    ));
    Ok(0)
}

/// The draft directory published with the rules: `--draft=DIR`, or the `draft` directory
/// beside the rules directory (rules/draft beside rules/live) when there is one.
fn draft_dir(args: &PublishArgs) -> Option<PathBuf> {
    if args.no_draft {
        return None;
    }
    args.draft.clone().or_else(|| {
        let beside = args.rules.parent().unwrap_or(Path::new(".")).join("draft");
        (beside.is_dir() && beside != args.rules).then_some(beside)
    })
}

/// `rewrite rollback`.
pub fn rollback(args: &RollbackArgs) -> Result<i32, String> {
    let mut store = config_store::open(&args.target, &args.fastly)?;
    let values = store.read_all()?;
    let (Some(current), Some(previous)) = (values.get(INDEX_KEY), values.get(PREVIOUS_INDEX_KEY)) else {
        return Err(format!(
            "{} has no `{PREVIOUS_INDEX_KEY}` (or no `{INDEX_KEY}`): nothing to roll back to; `rewrite publish` keeps \
             the index it replaces there",
            store.describe()
        ));
    };
    // The set rolled back to must be whole: a rollback to an index whose entries were
    // deleted would leave requests with missing rules. The one rolled back from may be
    // broken (that may be why).
    let (back_to, earlier) = rule_set(&values, PREVIOUS_INDEX_KEY)?;
    let (now, live) =
        rule_set(&values, INDEX_KEY).unwrap_or_else(|why| (format!("an unreadable set ({why})"), Vec::new()));
    out::line(format!("roll back {} from {now} to {back_to}", store.describe()));
    out::text(rules_diff::diff(&live, &earlier).render());
    if args.dry_run {
        out::line("dry run: nothing written");
        return Ok(0);
    }
    store.upsert(INDEX_KEY, previous)?;
    store.upsert(PREVIOUS_INDEX_KEY, current)?;
    out::line(format!(
        "rolled back: {INDEX_KEY} is {back_to} again; {PREVIOUS_INDEX_KEY} holds {now} (`rewrite rollback` again flips \
         forward)"
    ));
    Ok(0)
}

/// The rule set an index names, as a request would read it: its version (or `unversioned`)
/// and its entries; an error when the index cannot be read or an entry it names is not in
/// the store.
fn rule_set(values: &BTreeMap<String, String>, index: &str) -> Result<(String, Vec<(String, String)>), String> {
    let read = read_entries_at(&mut MemoryStore::new(values.clone()), index).map_err(|err| err.to_string())?;
    if let Some(error) = read.errors.iter().find(|error| error.reason.contains("absent")) {
        return Err(format!("`{index}` names {:?}, which the store does not hold: {error}", error.entry));
    }
    Ok((read.version.unwrap_or_else(|| "unversioned".to_owned()), read.entries))
}

/// Why the rules cannot be published: what `validate` refuses (the draft's too), and entry
/// names that would need escaping as keys.
fn problems(args: &PublishArgs, draft: Option<&Path>) -> Result<Vec<String>, String> {
    let loaded = load_rules(&args.rules, draft, "--rules DIR")?;
    let mut problems: Vec<String> = loaded.errors.iter().map(|error| loaded.source.describe(error)).collect();
    for warning in loaded.rules.warnings() {
        out::line(format!("warning: {}", loaded.source.describe_warning(warning)));
    }
    if draft.is_some() {
        // The live set on its own, too: it is what requests without a preview get.
        let live = load_rules(&args.rules, None, "--rules DIR")?;
        problems.extend(
            live.errors
                .iter()
                .map(|error| live.source.describe(error))
                .filter(|p| !problems.contains(p))
                .collect::<Vec<_>>(),
        );
    }
    let files = read_rules_dir(&args.rules).map_err(|err| format!("{}: {err}", args.rules.display()))?;
    for (name, _) in &files {
        if !versions::key_safe(name) {
            problems.push(format!(
                "{}: the file name {name:?} is not a plain key: name rule files with letters, digits, `-`, `_` and \
                 `.` only (the Fastly CLI sends keys in URLs)",
                args.rules.join(format!("{name}.json")).display()
            ));
        }
    }
    Ok(problems)
}
