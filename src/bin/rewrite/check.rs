//! `rewrite check`: every fixture case against its expected output.
//!
//! A case (`fixtures/cases/NAME.toml`) names a page under `fixtures/pages`, the request it
//! simulates, the rules, and the response's content type; its expected output is
//! `fixtures/expected/NAME.html` unless it says otherwise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use edge_rewriter::RequestContext;
use serde::{Deserialize, Serialize};

use crate::diff::use_color;
use crate::fragments::LocalFragments;
use crate::inputs::{LoadedRules, Rewritten, load_rules, read_page, report_rule_errors, rewrite_into};
use crate::outcome::{Outcome, Verdict};
use crate::{CheckArgs, CheckFormat, geo, junit, logger, out, report, schedule};

/// A case as written in its TOML file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    /// What the case shows, for people.
    description: String,
    /// The page, relative to `pages/`.
    page: String,
    /// The simulated request: `GET https://host/path`, then headers and `@fact value` lines.
    request: String,
    /// The rules, relative to the repository (the fixtures directory's parent).
    #[serde(default)]
    rules: Option<String>,
    /// The response's Content-Type. Default: by the page's extension, as the fixture origin
    /// sends it.
    #[serde(default)]
    content_type: Option<String>,
    /// The expected output, relative to `expected/`. Default: `NAME.html`.
    #[serde(default)]
    expected: Option<String>,
}

/// A case ready to run.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    pub name: String,
    /// The case file, which every message about the case names.
    pub file: PathBuf,
    pub description: String,
    /// The page, relative to `pages/` (the fixture origin serves it at `/` + this).
    pub page: String,
    pub page_file: PathBuf,
    /// The fixture pages, which also stand in for the origin's fragments.
    pub pages_dir: PathBuf,
    pub request: String,
    pub content_type: String,
    pub rules: PathBuf,
    pub expected: PathBuf,
}

/// The cases in `dir/cases`, sorted by name.
pub fn cases(dir: &Path) -> Result<Vec<Case>, String> {
    let cases_dir = dir.join("cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&cases_dir)
        .map_err(|err| format!("{}: {err}", cases_dir.display()))?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    let root = dir.parent().map(Path::to_path_buf).unwrap_or_default();
    files.iter().map(|file| read_case(file, dir, &root)).collect()
}

fn read_case(file: &Path, dir: &Path, root: &Path) -> Result<Case, String> {
    let text = std::fs::read_to_string(file).map_err(|err| format!("{}: {err}", file.display()))?;
    let spec: CaseFile = toml::from_str(&text).map_err(|err| format!("{}: {err}", file.display()))?;
    let name = file.file_stem().and_then(|stem| stem.to_str()).unwrap_or("case").to_owned();
    if spec.request.lines().any(|line| line.trim_start().starts_with("@content-type")) {
        return Err(format!("{}: give the content type as `content_type`, not in the request", file.display()));
    }
    let page_file = dir.join("pages").join(&spec.page);
    let content_type = spec.content_type.unwrap_or_else(|| content_type_for(&spec.page).to_owned());
    Ok(Case {
        expected: dir.join("expected").join(spec.expected.unwrap_or_else(|| format!("{name}.html"))),
        rules: root.join(spec.rules.unwrap_or_else(|| "rules/live".to_owned())),
        name,
        file: file.to_owned(),
        description: spec.description,
        page: spec.page,
        page_file,
        pages_dir: dir.join("pages"),
        request: spec.request,
        content_type,
    })
}

/// The Content-Type the fixture origin sends for a page.
fn content_type_for(page: &str) -> &'static str {
    if page.ends_with(".xhtml") { "application/xhtml+xml" } else { "text/html; charset=utf-8" }
}

/// Runs one case against already loaded rules. Errors name the case file.
pub fn run_case(case: &Case, rules: &LoadedRules) -> Result<Outcome, String> {
    let in_case = |what: &str, err: &dyn std::fmt::Display| format!("{}: {what}: {err}", case.file.display());
    let mut context = RequestContext::parse_simulated(&case.request).map_err(|err| in_case("request", &err))?;
    geo::complete(&mut context).map_err(|err| in_case("request", &err))?;
    context.content_type = Some(case.content_type.clone());
    let original = read_page(&case.page_file).map_err(|err| in_case(&format!("page {:?}", case.page), &err))?;
    let started = Instant::now();
    // The fixture pages stand in for the origin's fragments, as the fixture origin serves them.
    let fragments = LocalFragments::in_dir(&case.pages_dir);
    let (rewritten, report) = match rewrite_into(&rules.rules, &context, &original[..], Vec::new(), &fragments)? {
        Rewritten::Done(done) => (done.sink, Some(done.report)),
        Rewritten::PassedThrough(sink) => (sink, None),
    };
    let elapsed = started.elapsed();
    let expected = std::fs::read(&case.expected).ok();
    let verdict = match &expected {
        Some(expected) if *expected == rewritten => Verdict::Same,
        Some(_) => Verdict::Different,
        None => Verdict::NoExpected,
    };
    let schedule = schedule::lines(&rules.rules, &context);
    Ok(Outcome { case: case.clone(), original, rewritten, expected, context, report, verdict, elapsed, schedule })
}

/// `rewrite check`.
pub fn run(args: &CheckArgs) -> Result<i32, String> {
    let mut cases = cases(&args.dir)?;
    if let Some(only) = &args.only {
        cases.retain(|case| case.name.contains(only.as_str()));
    }
    if args.list_json {
        out::line(serde_json::to_string_pretty(&cases).map_err(|err| err.to_string())?);
        return Ok(0);
    }
    if cases.is_empty() {
        return Err(format!("no cases in {}", args.dir.join("cases").display()));
    }
    let text = args.format == CheckFormat::Text;
    let color = text && use_color(args.color.color);
    let mut loaded: BTreeMap<PathBuf, LoadedRules> = BTreeMap::new();
    let mut outcomes = Vec::new();
    for case in &cases {
        if !loaded.contains_key(&case.rules) {
            let rules = load_rules(&case.rules, None, "`rules` in the case file")
                .map_err(|err| format!("{}: rules: {err}", case.file.display()))?;
            report_rule_errors(&rules);
            loaded.insert(case.rules.clone(), rules);
        }
        // Notes printed while the case runs (a pass-through, a bail-out) name it.
        logger::set_context(Some(format!("case {}", case.name)));
        let outcome = run_case(case, &loaded[&case.rules]);
        logger::set_context(None);
        let mut outcome = outcome?;
        if args.bless && outcome.verdict != Verdict::Same {
            if let Some(parent) = case.expected.parent() {
                std::fs::create_dir_all(parent).map_err(|err| format!("{}: {err}", parent.display()))?;
            }
            std::fs::write(&case.expected, &outcome.rewritten)
                .map_err(|err| format!("{}: {err}", case.expected.display()))?;
            outcome.verdict = Verdict::Blessed;
        }
        if text {
            print_outcome(&outcome, color);
        }
        outcomes.push(outcome);
    }
    let failed = outcomes.iter().filter(|o| o.verdict.failed()).count();
    let blessed = outcomes.iter().filter(|o| o.verdict == Verdict::Blessed).count();
    if let Some(path) = &args.html {
        std::fs::write(path, report::html(&outcomes)).map_err(|err| format!("{}: {err}", path.display()))?;
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, junit::xml(&outcomes)).map_err(|err| format!("{}: {err}", path.display()))?;
    }
    match args.format {
        CheckFormat::Json => out::line(as_json(&outcomes)),
        CheckFormat::Junit => out::text(junit::xml(&outcomes)),
        CheckFormat::Text => {
            out::line(format!(
                "{} cases: {} ok, {failed} failed{}",
                outcomes.len(),
                outcomes.len() - failed - blessed,
                if blessed > 0 { format!(", {blessed} blessed") } else { String::new() }
            ));
            for (path, what) in [(&args.html, "report"), (&args.junit, "JUnit XML")] {
                if let Some(path) = path {
                    out::line(format!("{what}: {}", path.display()));
                }
            }
            if failed > 0 && !args.bless {
                out::line("update the expected outputs, once the differences are right: rewrite check --bless");
            }
        }
    }
    // A rule the service would skip fails the check too, whatever the pages show.
    let skipped = loaded.values().any(|rules| !rules.errors.is_empty());
    Ok(if failed > 0 || skipped { 1 } else { 0 })
}

fn print_outcome(outcome: &Outcome, color: bool) {
    let case = &outcome.case;
    match (outcome.verdict, outcome.failure()) {
        (Verdict::Same, _) => out::line(format!("ok      {}", case.name)),
        (Verdict::Blessed, _) => out::line(format!("blessed {} -> {}", case.name, case.expected.display())),
        (_, failure) => {
            out::line(format!("FAIL    {}: {}", case.name, failure.unwrap_or_default()));
            out::text(outcome.diff(color));
        }
    }
}

/// Every case as JSON: its verdict, what each rule did, and the diff when it failed.
fn as_json(outcomes: &[Outcome]) -> serde_json::Value {
    let counts = |hits: &[(String, u64)]| -> serde_json::Map<String, serde_json::Value> {
        hits.iter().map(|(id, n)| (id.clone(), serde_json::json!(n))).collect()
    };
    let results: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|outcome| {
            let case = &outcome.case;
            serde_json::json!({
                "name": case.name,
                "description": case.description,
                "file": case.file,
                "page": case.page,
                "expected": case.expected,
                "verdict": outcome.verdict.label(),
                "failed": outcome.verdict.failed(),
                "passed_through": outcome.report.is_none(),
                "hits": outcome.report.as_ref().map(|report| counts(&report.hits)),
                "shadow_hits": outcome.report.as_ref().map(|report| counts(&report.shadow_hits)),
                "ms": outcome.elapsed.as_secs_f64() * 1e3,
                "diff": outcome.failure().map(|_| outcome.diff(false)),
            })
        })
        .collect();
    let failed = outcomes.iter().filter(|o| o.verdict.failed()).count();
    serde_json::json!({ "cases": outcomes.len(), "failed": failed, "results": results })
}
