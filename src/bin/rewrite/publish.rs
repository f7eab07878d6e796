//! `rewrite publish` and `rewrite rollback`: a rule set goes live in one step a request can
//! never see half done, and goes back in one step.
//!
//! A publish writes every entry under a key of the new version (`v7.10-sale-banner`), then
//! keeps the index in use under `rules.previous`, then flips the one `rules` index to the new
//! version: until that last write, requests read the old index and the old entries, which
//! are still all there; after it, the new index and its entries, all written before it.
//! Versions beyond the last few are deleted afterwards. A rollback swaps `rules` and
//! `rules.previous`.

use std::collections::BTreeMap;

use edge_rewriter::{
    INDEX_KEY, Index, MAX_ENTRIES, MAX_VALUE_CHARS, MemoryStore, PREVIOUS_INDEX_KEY, check_entry, read_entries_at,
    read_rules_dir,
};

use crate::config_store;
use crate::inputs::load_rules;
use crate::{PublishArgs, RollbackArgs, out, rules_diff, versions};

/// `rewrite publish`.
pub fn publish(args: &PublishArgs) -> Result<i32, String> {
    let problems = problems(args)?;
    if !problems.is_empty() {
        for problem in &problems {
            out::line(problem);
        }
        out::line(format!("{} problem(s): nothing published; `rewrite validate` says more", problems.len()));
        return Ok(1);
    }
    let entries = read_rules_dir(&args.rules).map_err(|err| format!("{}: {err}", args.rules.display()))?;
    let mut store = config_store::open(&args.target, &args.fastly)?;
    let values = store.read_all()?;
    let live = if values.contains_key(INDEX_KEY) { Some(rule_set(&values, INDEX_KEY)?) } else { None };
    let version = versions::next(&values);
    let label = versions::label(version);
    let keys: Vec<(String, String)> =
        entries.iter().map(|(name, text)| (versions::key(version, name), text.clone())).collect();
    let index = Index { version: Some(label.clone()), entries: keys.iter().map(|(key, _)| key.clone()).collect() };
    let index_text = index.to_json();
    // What Fastly would refuse, refused before the first write.
    for (key, text) in &keys {
        check_entry(key, text).map_err(|err| format!("{}: {err}", args.rules.display()))?;
    }
    if index_text.chars().count() > MAX_VALUE_CHARS {
        return Err(format!("the index would be over {MAX_VALUE_CHARS} characters: use fewer, shorter file names"));
    }
    let changes = rules_diff::diff(live.as_ref().map_or(&[][..], |live| &live.1), &entries);
    let from = live.as_ref().map_or_else(|| "nothing yet".to_owned(), |(version, _)| version.clone());
    // Same rules, already versioned: nothing to do. (The same rules under a plain index are
    // published, to move them to the versioned layout.)
    if live.as_ref().is_some_and(|(version, _)| versions::of(version).is_some()) && changes.is_empty() {
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
    let stale = versions::stale(&after, args.keep as usize);

    out::line(format!("publish {label} to {} (live now: {from})", store.describe()));
    out::text(changes.render());
    out::line(format!(
        "keys: write {} entr{} ({}), then {PREVIOUS_INDEX_KEY} ({from}), then {INDEX_KEY} ({label}){}",
        keys.len(),
        if keys.len() == 1 { "y" } else { "ies" },
        keys.iter().map(|(key, _)| key.as_str()).collect::<Vec<_>>().join(", "),
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
    let mut removed = 0;
    for key in &stale {
        // The new rules are live: a failed clean-up is reported, not fatal.
        match store.delete(key) {
            Ok(()) => removed += 1,
            Err(err) => out::line(format!("warning: could not delete the stale entry {key}: {err}")),
        }
    }
    out::line(format!(
        "published {label}: {} entr{} live; {PREVIOUS_INDEX_KEY} holds {from} (`rewrite rollback` flips back); \
         {removed} stale entr{} deleted",
        keys.len(),
        if keys.len() == 1 { "y" } else { "ies" },
        if removed == 1 { "y" } else { "ies" }
    ));
    Ok(0)
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
    // Both sets must be whole: a rollback to an index whose entries were deleted would
    // leave requests with missing rules.
    let (now, live) = rule_set(&values, INDEX_KEY)?;
    let (back_to, earlier) = rule_set(&values, PREVIOUS_INDEX_KEY)?;
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
/// and its entries; an error when an entry it names is not in the store.
fn rule_set(values: &BTreeMap<String, String>, index: &str) -> Result<(String, Vec<(String, String)>), String> {
    let read = read_entries_at(&mut MemoryStore::new(values.clone()), index).map_err(|err| err.to_string())?;
    if let Some(error) = read.errors.iter().find(|error| error.reason.contains("absent")) {
        return Err(format!("`{index}` names {:?}, which the store does not hold: {error}", error.entry));
    }
    Ok((read.version.unwrap_or_else(|| "unversioned".to_owned()), read.entries))
}

/// Why the rules cannot be published: what `validate` refuses, entry names that would need
/// escaping as keys, more entries than a request reads.
fn problems(args: &PublishArgs) -> Result<Vec<String>, String> {
    let loaded = load_rules(&args.rules, None, "--rules DIR")?;
    let mut problems: Vec<String> = loaded.errors.iter().map(|error| loaded.source.describe(error)).collect();
    for warning in loaded.rules.warnings() {
        out::line(format!("warning: {}", loaded.source.describe_warning(warning)));
    }
    let entries = read_rules_dir(&args.rules).map_err(|err| format!("{}: {err}", args.rules.display()))?;
    for (name, _) in &entries {
        if !versions::key_safe(name) {
            problems.push(format!(
                "{}: the entry name {name:?} is not a plain key: name rule files with letters, digits, `-`, `_` and \
                 `.` only (the Fastly CLI sends keys in URLs)",
                args.rules.join(format!("{name}.json")).display()
            ));
        }
    }
    if entries.len() > MAX_ENTRIES {
        problems.push(format!(
            "{}: {} entries, and a request reads at most {MAX_ENTRIES}: put several rules in one file as a JSON array",
            args.rules.display(),
            entries.len()
        ));
    }
    Ok(problems)
}
