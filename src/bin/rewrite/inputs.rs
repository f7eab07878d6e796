//! What every command starts from: rules (read and checked as the service reads them), the
//! simulated request, the page. And `apply`, the simplest use of them.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use edge_rewriter::http::{Decision, ResponseFacts, decide};
use edge_rewriter::store::{DRAFT_FILES, store_for_files};
use edge_rewriter::{
    RequestContext, RewriteOptions, RuleError, RuleSet, RuleWarning, StreamError, Streamed,
    http::{PageEncoding, VISITOR_COOKIE, csp_nonce, visitor_id},
    store::{DRAFT_INDEX_KEY, DRAFT_PREFIX, INDEX_KEY, MemoryStore, read_entries_at, read_rules_dir},
    stream, stream_with_fragments,
};

use crate::fragments::LocalFragments;
use crate::{ApplyArgs, RequestArgs, geo, logger, out, response};

/// Rules as the service would use them, and every problem found on the way.
pub struct LoadedRules {
    pub rules: RuleSet,
    pub errors: Vec<RuleError>,
    pub source: RulesSource,
    /// How many store entries were read.
    pub entries: usize,
    /// How many rule files they were packed from (a rules directory, with its draft).
    pub files: Option<usize>,
    /// The rule set's version, when the index names one (a published store).
    pub version: Option<String>,
}

/// What `--rules` named.
pub enum RulesSource {
    /// A directory of entry files, and the draft directory over it.
    Dir { live: PathBuf, draft: Option<PathBuf> },
    /// One entry file.
    File(PathBuf),
    /// A store file (a JSON object with a `rules` index); `draft` when its draft was read.
    Store { file: PathBuf, draft: bool },
}

impl RulesSource {
    /// Where a rule lives, for messages editors act on: the file to open. `file` is the
    /// rule file a packed entry names, `entry` the store entry.
    pub fn locate(&self, entry: &str, file: Option<&str>) -> String {
        match self {
            RulesSource::Dir { live, draft } => {
                let in_draft = |name: &str| draft.as_ref().map(|draft| draft.join(name));
                let path = match file {
                    Some(file) => file.strip_prefix(DRAFT_FILES).and_then(in_draft).unwrap_or_else(|| live.join(file)),
                    None => match entry.strip_prefix(DRAFT_PREFIX).and_then(|name| in_draft(&format!("{name}.json"))) {
                        Some(path) => path,
                        None => live.join(format!("{entry}.json")),
                    },
                };
                // A problem of the set as a whole (too many rules for a request) is the
                // directory's.
                let path = if path.is_file() { path } else { live.clone() };
                format!("{}", path.display())
            }
            RulesSource::File(file) => format!("{}", file.display()),
            RulesSource::Store { file, .. } => format!("{} (entry {entry:?})", file.display()),
        }
    }

    /// Whether the draft was read over the live rules.
    pub fn is_draft(&self) -> bool {
        matches!(self, RulesSource::Dir { draft: Some(_), .. } | RulesSource::Store { draft: true, .. })
    }

    /// A rule error as every command prints it: where its entry lives, then the message
    /// `RuleError` itself displays (and, for a draft, how drafts replace live rules).
    pub fn describe(&self, error: &RuleError) -> String {
        let hint = if self.is_draft() && error.reason.contains("already has this id") {
            " (a draft file replaces the live file of the same name: to change a live rule, give the draft file \
             the live file's name; otherwise the preview skips one of the two)"
        } else {
            ""
        };
        format!("{}: {error}{hint}", self.locate(&error.entry, error.file.as_deref()))
    }

    /// A rule warning the same way.
    pub fn describe_warning(&self, warning: &RuleWarning) -> String {
        format!("{}: {warning}", self.locate(&warning.entry, warning.file.as_deref()))
    }
}

/// How `apply`, `diff` and `explain` take their rules, for hints.
pub const RULES_OPTION: &str = "--rules PATH";

/// Reads rules from a directory, entry file or store file, through the same store layout,
/// lookup budget and checks as the service; with `draft`, the draft as a preview reads it.
/// `given_as` says how the command takes the path (`--rules PATH`), for the hint when
/// there is nothing there.
pub fn load_rules(path: &Path, draft: Option<&Path>, given_as: &str) -> Result<LoadedRules, String> {
    let (store, errors, source) = if path.is_dir() {
        // Packed as `rewrite store` and `rewrite publish` lay them out.
        let live = read_rules_dir(path).map_err(|err| format!("{}: {err}", path.display()))?;
        let drafted = match draft {
            Some(draft) => {
                Some(read_rules_dir(draft).map_err(|err| format!("{}: {err} (the draft)", draft.display()))?)
            }
            None => None,
        };
        let source = RulesSource::Dir { live: path.to_owned(), draft: draft.map(Path::to_owned) };
        return load_dir_entries(&live, drafted.as_deref(), source);
    } else {
        let text = std::fs::read_to_string(path).map_err(|err| match err.kind() {
            io::ErrorKind::NotFound => not_found(path, given_as),
            _ => format!("{}: {err}", path.display()),
        })?;
        if is_store_file(&text) {
            let store = MemoryStore::from_json(&text).map_err(|err| format!("{}: {err}", path.display()))?;
            // What Fastly and Viceroy refuse, refused here too, as in a rules directory.
            let refused = store.over_limits();
            (store, refused, RulesSource::Store { file: path.to_owned(), draft: draft.is_some() })
        } else if draft.is_some() {
            return Err(format!("{}: --draft needs a rules directory or a store file", path.display()));
        } else {
            let name = path.file_stem().and_then(|stem| stem.to_str()).unwrap_or("rules").to_owned();
            let (store, errors) = MemoryStore::from_valid_entries(&[(name, text)]);
            (store, errors, RulesSource::File(path.to_owned()))
        }
    };
    compile(store, errors, source, path, None)
}

/// Rules from a rules directory's files (name, text) and, over them, a draft's, packed as
/// `rewrite store` lays them out: what [`load_rules`] reads from two directories, for callers
/// holding files in memory too (the studio's unsaved edit). `source` names the directories
/// in messages.
pub fn load_dir_entries(
    live: &[(String, String)],
    draft: Option<&[(String, String)]>,
    source: RulesSource,
) -> Result<LoadedRules, String> {
    let RulesSource::Dir { live: live_dir, .. } = &source else {
        return Err("load_dir_entries reads a rules directory's files".to_owned());
    };
    let live_dir = live_dir.clone();
    // A draft file of a live file's name takes its place.
    let new_in_draft =
        draft.iter().flat_map(|files| files.iter()).filter(|(name, _)| !live.iter().any(|(l, _)| l == name));
    let files = live.len() + new_in_draft.count();
    let (store, errors) = store_for_files(live, draft);
    compile(store, errors, source, &live_dir, Some(files))
}

/// Reads the index (the draft's when the source has one) and compiles its entries, as the
/// service does; `path` names the rules in messages, `files` counts a directory's files.
fn compile(
    mut store: MemoryStore,
    mut errors: Vec<RuleError>,
    source: RulesSource,
    path: &Path,
    files: Option<usize>,
) -> Result<LoadedRules, String> {
    let index = match &source {
        // As the service previews a store without a draft: its live rules.
        RulesSource::Store { draft: true, .. } if !store.values().contains_key(DRAFT_INDEX_KEY) => {
            logger::note(&format!("the store has no draft ({DRAFT_INDEX_KEY}): previewing the live rules"));
            INDEX_KEY
        }
        source if source.is_draft() => DRAFT_INDEX_KEY,
        _ => INDEX_KEY,
    };
    let mut read = read_entries_at(&mut store, index).map_err(|err| format!("{}: {err}", path.display()))?;
    if matches!(source, RulesSource::Store { .. }) {
        // A value Fastly would refuse is never read: the store file's refused keys. (A rules
        // directory's refusals name files and rules, which never reach the store at all.)
        read.entries.retain(|(name, _)| !errors.iter().any(|error| error.entry == *name));
    }
    errors.extend(read.errors);
    let (rules, rule_errors) = RuleSet::from_entries(&read.entries);
    errors.extend(rule_errors);
    Ok(LoadedRules { rules, errors, source, entries: read.entries.len(), files, version: read.version })
}

/// Why there are no rules at `path`: nothing is there; give them as `given_as` says, and the
/// name beside it that looks most like it, if one does (`rules/livee`: did you mean
/// rules/live?).
fn not_found(path: &Path, given_as: &str) -> String {
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let parent = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let closest = std::fs::read_dir(parent)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .map(|sibling| (similar::TextDiff::from_chars(name.as_str(), sibling.as_str()).ratio(), sibling))
        .filter(|(likeness, _)| *likeness >= 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, sibling)| format!(" (did you mean {}?)", path.with_file_name(sibling).display()))
        .unwrap_or_default();
    format!(
        "{}: no such file or directory{closest}; give a rules directory, rule file or store file as {given_as}",
        path.display()
    )
}

/// A store file is a JSON object whose values are all strings and which has the index.
fn is_store_file(text: &str) -> bool {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => {
            map.get(edge_rewriter::store::INDEX_KEY).is_some_and(serde_json::Value::is_string)
                && map.values().all(serde_json::Value::is_string)
        }
        _ => false,
    }
}

/// Prints what the service would log for each unusable rule, as errors on standard error.
pub fn report_rule_errors(loaded: &LoadedRules) {
    for error in &loaded.errors {
        logger::error(&format!("rule skipped: {}", loaded.source.describe(error)));
    }
}

impl LoadedRules {
    /// The exit status of a command that used these rules and otherwise went well: 1 when a
    /// rule was skipped, as the service would skip it.
    pub fn exit_status(&self) -> i32 {
        i32::from(!self.errors.is_empty())
    }
}

/// The simulated request from `--request FILE`, or from `--url`, `--header` and `--fact`.
pub fn request_context(args: &RequestArgs) -> Result<RequestContext, String> {
    let mut context = match &args.request {
        Some(file) => {
            let text = std::fs::read_to_string(file).map_err(|err| format!("{}: {err}", file.display()))?;
            RequestContext::parse_simulated(&text).map_err(|err| format!("{}: {err}", file.display()))?
        }
        None => {
            let mut context = RequestContext::for_url(&args.method, &args.url).map_err(|err| err.to_string())?;
            for header in &args.headers {
                let (name, value) =
                    header.split_once(':').ok_or_else(|| format!("--header {header:?}: write it as `Name: value`"))?;
                context.add_header(name, value);
            }
            context.apply_host_header().map_err(|err| err.to_string())?;
            for fact in &args.facts {
                let (name, value) =
                    fact.split_once('=').ok_or_else(|| format!("--fact {fact:?}: write it as `name=value`"))?;
                context.set_fact(name.trim(), value.trim()).map_err(|err| {
                    // A country given by name: its code, if the name is known.
                    let code = geo::code_for_name(value).filter(|_| name.trim().ends_with("country"));
                    match code {
                        Some((code, _)) => format!("--fact {fact:?}: {err}; here: --fact {}={code}", name.trim()),
                        None => format!("--fact {fact:?}: {err}"),
                    }
                })?;
            }
            context
        }
    };
    geo::complete(&mut context)?;
    if context.new_visitor_id.is_none() && context.cookie(VISITOR_COOKIE).is_none() {
        // As at the edge: a visitor without the cookie is a new one, with a random id; an
        // experiment assigns it a variant and the response gives it the cookie.
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|err| format!("no randomness for a new visitor's id: {err}"))?;
        context.new_visitor_id = Some(visitor_id(random));
    }
    if args.request.is_none() || context.content_type.is_none() {
        context.content_type = Some(args.content_type.clone());
    }
    if let Some(at) = &args.at {
        context.set_fact("now", at).map_err(|err| format!("--at: {err}"))?;
    }
    // As the service reads the origin's policy: its nonce goes on inserted scripts.
    let policy = response::origin_headers(args)?
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-security-policy"))
        .and_then(|(_, policy)| csp_nonce(&policy));
    if policy.is_some() {
        context.csp_nonce = policy;
    }
    Ok(context)
}

/// Opens the page: a file, or standard input for `-`.
pub fn open_page(path: &Path) -> Result<Box<dyn Read>, String> {
    if path == Path::new("-") {
        return Ok(Box::new(io::stdin().lock()));
    }
    let file = std::fs::File::open(path).map_err(|err| format!("{}: {err}", path.display()))?;
    Ok(Box::new(io::BufReader::new(file)))
}

/// Reads the whole page (for commands that compare before and after).
pub fn read_page(path: &Path) -> Result<Vec<u8>, String> {
    let mut page = Vec::new();
    open_page(path)?.read_to_end(&mut page).map_err(|err| format!("{}: {err}", path.display()))?;
    Ok(page)
}

/// What the service would do with this response: rewrite it (in which encoding), or pass
/// it through (why).
pub fn verdict(context: &RequestContext) -> Result<PageEncoding, &'static str> {
    let facts = ResponseFacts {
        content_type: context.content_type.as_deref(),
        ..ResponseFacts::new(&context.method, context.status)
    };
    match decide(&facts) {
        Decision::Rewrite(_, encoding) => Ok(encoding),
        Decision::PassThrough(why) => Err(why),
    }
}

/// Streams `page` through the rules for `context` into `sink`, or copies it unchanged when
/// the service would pass it through.
pub fn rewrite_into<W: Write>(
    rules: &RuleSet,
    context: &RequestContext,
    page: impl Read,
    mut sink: W,
    fragments: &LocalFragments,
) -> Result<Rewritten<W>, String> {
    let encoding = match verdict(context) {
        Ok(encoding) => encoding,
        Err(why) => {
            logger::note(&format!("the service would pass this response through untouched: {why}"));
            let mut page = page;
            if let Err(err) = io::copy(&mut page, &mut sink) {
                // `copy` reports read and write errors alike; a closed pipe is the reader's.
                out::failed_or(&err);
                return Err(format!("copying the page: {err}"));
            }
            return Ok(Rewritten::PassedThrough(sink));
        }
    };
    let plan = rules.plan(context);
    if let Some(id) = plan.new_visitor_id() {
        let variants: Vec<String> = plan.experiments().map(|(id, variant)| format!("{variant} of {id}")).collect();
        logger::note(&format!(
            "a new visitor (no {VISITOR_COOKIE} cookie) gets {}: the service gives it the cookie {VISITOR_COOKIE}={id};              see this visitor again with -H 'Cookie: {VISITOR_COOKIE}={id}', or another new one by running again",
            variants.join(", ")
        ));
    }
    let options = RewriteOptions { encoding, ..RewriteOptions::default() };
    let done = if plan.includes().is_empty() {
        stream(&plan, &options, page, sink)
    } else {
        stream_with_fragments(&plan, &options, page, sink, Box::new(fragments.clone()))
    };
    match &done.result {
        Ok(()) => Ok(Rewritten::Done(done)),
        Err(StreamError::Output(err)) => {
            out::failed_or(err);
            Err(StreamError::Output(io::Error::new(err.kind(), err.to_string())).to_string())
        }
        Err(err) => Err(err.to_string()),
    }
}

/// What [`rewrite_into`] did.
pub enum Rewritten<W> {
    Done(Streamed<W>),
    PassedThrough(W),
}

impl<W> Rewritten<W> {
    pub fn into_sink(self) -> W {
        match self {
            Rewritten::Done(done) => done.sink,
            Rewritten::PassedThrough(sink) => sink,
        }
    }
}

/// `rewrite apply`: the rewritten page on standard output, streamed; with `--headers`, the
/// response's headers after the rules' edits first.
pub fn apply(args: &ApplyArgs) -> Result<i32, String> {
    let page_args = &args.page;
    let loaded = load_rules(&page_args.rules.rules, page_args.rules.draft.as_deref(), RULES_OPTION)?;
    report_rule_errors(&loaded);
    let context = request_context(&page_args.request)?;
    if args.show_headers {
        let plan = loaded.rules.plan(&context);
        let edition = if loaded.source.is_draft() { "draft" } else { "live" };
        let headers = response::sent_headers(&loaded.rules, &context, &plan, edition, &page_args.request)?;
        // In lower case, as the platform (and HTTP/2) hands them on.
        for (name, value) in &headers {
            out::line(format!("{}: {value}", name.to_ascii_lowercase()));
        }
        out::line("");
    }
    let page = open_page(&page_args.page)?;
    // Standard output is line-buffered: a page would go out a line per write call. The
    // rewriter flushes after every piece it reads, so nothing waits longer than that.
    let stdout = io::BufWriter::with_capacity(64 << 10, io::stdout().lock());
    let fragments = LocalFragments::from_args(&args.page.request)?;
    rewrite_into(&loaded.rules, &context, page, stdout, &fragments)?;
    Ok(loaded.exit_status())
}
