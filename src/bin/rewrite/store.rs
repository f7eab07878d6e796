//! `rewrite store`: rules laid out as config store content, for the local Viceroy store and
//! for production.

use std::path::Path;

use edge_rewriter::store::{
    DRAFT_INDEX_KEY, DRAFT_PREFIX, INDEX_KEY, MemoryStore, read_entries, read_entries_at, read_rules_dir,
    store_from_dirs,
};
use edge_rewriter::store::{Index, PREVIOUS_INDEX_KEY};

use crate::inputs::load_rules;
use crate::{StoreArgs, out};

pub fn run(args: &StoreArgs) -> Result<i32, String> {
    if !args.check {
        let problems = problems(&args.rules, &args.draft)?;
        if !problems.is_empty() {
            for problem in &problems {
                out::line(problem);
            }
            out::line(format!(
                "{}: nothing written; the service would skip these rules (see `rewrite validate --draft`)",
                out::count(problems.len(), "problem", "problems")
            ));
            return Ok(1);
        }
    }
    let store = layout(&args.rules, &args.draft)?;
    let writes_the_store_file = !args.fastly_commands && !args.bulk_json;
    if writes_the_store_file && let Some(history) = published_history(&args.out) {
        let what = if args.check { "it is not compared" } else { "nothing written" };
        out::line(format!(
            "{} holds published rule sets ({history}), which `rewrite store` would drop with the rollback history: {what}. \
             Publish to it instead (`rewrite publish --store-file {}`), or lay the rules out elsewhere (--out FILE); \
             the local store is `rewrite store`'s alone, so rehearse a publish on a copy and serve that copy with \
             `scripts/serve --store COPY`",
            args.out.display(),
            args.out.display()
        ));
        return Ok(1);
    }
    if args.fastly_commands {
        out::text(fastly_commands(&store)?);
        return Ok(0);
    }
    if args.bulk_json {
        out::line(bulk_json(&store)?);
        return Ok(0);
    }
    let json = store.to_json();
    if args.check {
        let current = std::fs::read_to_string(&args.out).unwrap_or_default();
        if current == json {
            out::line(format!("{} is up to date with {}", args.out.display(), args.rules.display()));
            return Ok(0);
        }
        out::line(format!("{} is out of date with {}: run `rewrite store`", args.out.display(), args.rules.display()));
        return Ok(1);
    }
    std::fs::write(&args.out, &json).map_err(|err| format!("{}: {err}", args.out.display()))?;
    let files = |dir: &Path| read_rules_dir(dir).map_or(0, |files| files.len());
    let live = Index::parse(INDEX_KEY, &store.values()[INDEX_KEY]).map_or(0, |index| index.entries.len());
    let draft_note = match store.values().get(DRAFT_INDEX_KEY) {
        Some(_) => {
            let own = store.values().keys().filter(|key| key.starts_with(DRAFT_PREFIX)).count();
            format!(
                "; the draft, {} from {}, {} of its own",
                out::count(files(&args.draft), "file", "files"),
                args.draft.display(),
                out::count(own, "entry", "entries")
            )
        }
        None => String::new(),
    };
    out::line(format!(
        "wrote {}: {} from {} packed into {}{draft_note}",
        args.out.display(),
        out::count(files(&args.rules), "file", "files"),
        args.rules.display(),
        out::count(live, "entry", "entries"),
    ));
    Ok(0)
}

/// What published history the store file at `path` holds, if any: a versioned index, or an
/// index kept for a rollback. `rewrite store` writes neither.
fn published_history(path: &Path) -> Option<String> {
    let store = MemoryStore::from_json(&std::fs::read_to_string(path).ok()?).ok()?;
    let version = |key: &str| Index::parse(key, store.values().get(key)?).ok()?.version;
    let live = version(INDEX_KEY);
    let previous = store.values().contains_key(PREVIOUS_INDEX_KEY);
    if live.is_none() && !previous {
        return None;
    }
    let mut parts = Vec::new();
    if let Some(live) = live {
        parts.push(format!("live {live}"));
    }
    if previous {
        parts.push(format!(
            "{PREVIOUS_INDEX_KEY} {}",
            version(PREVIOUS_INDEX_KEY).unwrap_or_else(|| "unversioned".into())
        ));
    }
    Some(parts.join(", "))
}

/// The rules the service would skip, in the live set and in the draft read over it (a draft
/// rule reusing a live rule's id, say), as `validate` prints them.
fn problems(rules: &Path, draft: &Path) -> Result<Vec<String>, String> {
    if !rules.is_dir() {
        return Ok(Vec::new());
    }
    let live = load_rules(rules, None, "--rules DIR")?;
    let mut problems: Vec<String> = live.errors.iter().map(|error| live.source.describe(error)).collect();
    if draft.is_dir() {
        // The draft's own problems: the live ones it shares are already listed.
        let drafted = load_rules(rules, Some(draft), "--rules DIR")?;
        let own = drafted.errors.iter().map(|error| drafted.source.describe(error)).filter(|p| !problems.contains(p));
        problems.extend(own.map(|problem| format!("draft: {problem}")).collect::<Vec<_>>());
    }
    Ok(problems)
}

/// The store for a rules directory (with its draft directory, if there is one) or an
/// existing store file, refusing what Fastly would.
fn layout(path: &Path, draft: &Path) -> Result<MemoryStore, String> {
    if path.is_dir() {
        return store_from_dirs(path, draft.is_dir().then_some(draft)).map_err(|err| err.to_string());
    }
    let text = std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))?;
    MemoryStore::from_json(&text).map_err(|err| format!("{}: {err}", path.display()))
}

/// The entries in index order, then the draft's own entries, then the indexes: publishing
/// in this order never leaves a live index naming an entry that is not there yet.
fn publish_order(store: &MemoryStore) -> Result<Vec<(String, String)>, String> {
    let mut reader = store.clone();
    let live = read_entries(&mut reader).map_err(|err| err.to_string())?;
    if let Some(error) = live.errors.first() {
        return Err(error.to_string());
    }
    let mut order = live.entries;
    let mut indexes = vec![INDEX_KEY];
    if store.values().contains_key(DRAFT_INDEX_KEY) {
        let draft = read_entries_at(&mut reader, DRAFT_INDEX_KEY).map_err(|err| err.to_string())?;
        order.extend(draft.entries.into_iter().filter(|(key, _)| key.starts_with(DRAFT_PREFIX)));
        indexes.push(DRAFT_INDEX_KEY);
    }
    order.extend(indexes.into_iter().map(|key| (key.to_owned(), store.values()[key].clone())));
    Ok(order)
}

/// A shell script: `sh publish-rules.sh STORE_ID`.
fn fastly_commands(store: &MemoryStore) -> Result<String, String> {
    const END: &str = "EDGE_REWRITER_VALUE";
    let mut script = String::from(
        "#!/bin/sh\n\
         # Publishes edge-rewriter's rules to a Fastly config store. Generated by `rewrite store --fastly-commands`.\n\
         # Usage: sh publish-rules.sh STORE_ID   (find the id with: fastly config-store list)\n\
         # Entries go first and the index last, so the live index never names a missing entry.\n\
         # Entries no longer listed stay in the store, unused; remove them with fastly config-store-entry delete.\n\
         set -eu\n\
         STORE_ID=\"${1:?usage: sh publish-rules.sh STORE_ID}\"\n",
    );
    for (key, value) in publish_order(store)? {
        if value.lines().any(|line| line == END) {
            return Err(format!("entry {key:?} contains a line `{END}`, which would end the here-document early"));
        }
        script.push_str(&format!(
            "fastly config-store-entry update --upsert --store-id \"$STORE_ID\" --key '{key}' --stdin <<'{END}'\n{value}{}{END}\n",
            if value.ends_with('\n') { "" } else { "\n" }
        ));
    }
    Ok(script)
}

/// The Fastly API's bulk update body, index last.
fn bulk_json(store: &MemoryStore) -> Result<String, String> {
    let items: Vec<serde_json::Value> = publish_order(store)?
        .into_iter()
        .map(|(key, value)| serde_json::json!({ "op": "upsert", "item_key": key, "item_value": value }))
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({ "items": items })).map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> MemoryStore {
        MemoryStore::from_entries(&[
            ("20-b".into(), "{\"id\":\"b\"}\n".into()),
            ("10-a".into(), "{\"id\":\"a\"}".into()),
        ])
        .unwrap()
    }

    #[test]
    fn the_index_is_published_last() {
        let order = publish_order(&store()).unwrap();
        let keys: Vec<&str> = order.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(keys, ["20-b", "10-a", "rules"]);
        let script = fastly_commands(&store()).unwrap();
        assert!(script.contains("--key '20-b' --stdin <<'EDGE_REWRITER_VALUE'\n{\"id\":\"b\"}\nEDGE_REWRITER_VALUE\n"));
        assert!(script.trim_end().ends_with("[\"20-b\",\"10-a\"]\nEDGE_REWRITER_VALUE"));
        let bulk: serde_json::Value = serde_json::from_str(&bulk_json(&store()).unwrap()).unwrap();
        assert_eq!(bulk["items"][2]["item_key"], "rules");
        assert_eq!(bulk["items"][0]["op"], "upsert");
    }
}
