//! The editors' documentation stays true: docs/rules.schema.json is what the Rust types
//! generate, and every rule example in docs/RULES.md is valid and does what it says.

#![cfg(not(target_arch = "wasm32"))]

use devstack::project;
use std::collections::HashMap;

use edge_rewriter::{
    RequestContext, RewriteOptions, RuleSet,
    cost::BUDGETS,
    http::{apply_header_edits, parse_rfc3339},
    include::{Fragment, FragmentSource, PlannedInclude},
    language::{FORBIDDEN_HEADERS, json_schema},
    stream_with_fragments,
};

const BLESS: &str = "EDGE_REWRITER_BLESS";

#[test]
fn the_json_schema_is_generated_from_the_rule_types() {
    let path = project::root().join("docs/rules.schema.json");
    let expected = json_schema();
    if std::env::var_os(BLESS).is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "docs/rules.schema.json is out of date with the rule types.\nRegenerate it: {BLESS}=1 cargo test --test engine docs::"
    );
}

/// A fenced block in RULES.md: its info string and its text.
fn fenced_blocks(markdown: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        if let Some(info) = line.strip_prefix("```") {
            let body: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
            blocks.push((info.trim().to_owned(), body.join("\n")));
        }
    }
    blocks
}

/// A rule example: `json rule`, or `json rule FILE` for one a `console` session uses.
fn is_rule(info: &str) -> bool {
    info == "json rule" || info.starts_with("json rule ")
}

/// Fragments by path, from `html fragment PATH` blocks.
type Fragments = HashMap<String, String>;

/// The docs' fragments, each as a 200 response; a path without one is unavailable.
struct DocFragments(Fragments);

impl FromIterator<(String, String)> for DocFragments {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        DocFragments(iter.into_iter().collect())
    }
}

impl FragmentSource for DocFragments {
    fn fragment(&mut self, _index: usize, include: &PlannedInclude) -> Fragment {
        match self.0.get(&include.path) {
            Some(text) => Fragment::Response {
                status: 200,
                content_type: None,
                content_length: None,
                body: Box::new(std::io::Cursor::new(text.clone().into_bytes())),
            },
            None => Fragment::Unavailable(format!("RULES.md has no fragment for {}", include.path)),
        }
    }
}

/// Examples are written as a `json rule` block, optionally followed by a `html input` block,
/// a `text request` block (`GET https://...`, then header lines) and a `html output` block.
/// Header rules show the response's headers instead: a `text origin headers` block (what the
/// origin sent, `Name: value` lines; none without it) and a `text headers` block (what the
/// client gets, as `rewrite apply --headers` prints them).
#[test]
fn every_rule_example_in_rules_md_is_valid_and_does_what_it_says() {
    let markdown = std::fs::read_to_string(project::root().join("docs/RULES.md")).unwrap();
    let blocks = fenced_blocks(&markdown);
    let mut examples = 0;
    let mut demonstrated = 0;
    let mut headers_shown = 0;
    for (index, (info, text)) in blocks.iter().enumerate() {
        if !is_rule(info) {
            continue;
        }
        examples += 1;
        let (rules, errors) = RuleSet::from_entries(&[("RULES.md".into(), text.clone())]);
        assert!(errors.is_empty(), "example {examples} in RULES.md is invalid:\n{text}\n{errors:?}");
        assert!(rules.warnings().is_empty(), "example {examples} in RULES.md has warnings:\n{:?}", rules.warnings());
        let following: Vec<&(String, String)> =
            blocks[index + 1..].iter().take_while(|(info, _)| !is_rule(info)).collect();
        let find = |wanted: &str| following.iter().find(|(info, _)| info == wanted).map(|(_, text)| text.clone());
        // Examples run at a fixed instant unless their request says otherwise.
        let request = find("text request").unwrap_or_else(|| "GET https://www.example.com/".into());
        let mut context = RequestContext::parse_simulated(&request)
            .unwrap_or_else(|err| panic!("example {examples}: bad request block: {err}"));
        if !request.contains("@now") {
            context.now = parse_rfc3339("2026-11-24T12:00:00Z").unwrap();
        }
        let plan = rules.plan(&context);
        if let Some(expected) = find("text headers") {
            let mut headers: Vec<(String, String)> = find("text origin headers")
                .unwrap_or_default()
                .lines()
                .map(|line| {
                    let (name, value) = line.split_once(':').expect("origin headers are `Name: value` lines");
                    (name.trim().to_owned(), value.trim().to_owned())
                })
                .collect();
            apply_header_edits(&plan.header_edits(), &mut headers);
            let actual: Vec<String> =
                headers.iter().map(|(name, value)| format!("{}: {value}", name.to_ascii_lowercase())).collect();
            assert_eq!(actual.join("\n"), expected, "example {examples} in RULES.md:\n{text}");
            headers_shown += 1;
        }
        let (Some(input), Some(output)) = (find("html input"), find("html output")) else {
            continue;
        };
        // `html fragment PATH` blocks are the fragments includes get.
        let fragments: DocFragments = following
            .iter()
            .filter_map(|(info, text)| Some((info.strip_prefix("html fragment ")?.trim().to_owned(), text.clone())))
            .collect();
        let done =
            stream_with_fragments(&plan, &RewriteOptions::default(), input.as_bytes(), Vec::new(), Box::new(fragments));
        done.result.unwrap();
        assert_eq!(String::from_utf8(done.sink).unwrap(), output, "example {examples} in RULES.md:\n{text}");
        demonstrated += 1;
    }
    assert!(examples >= 20, "RULES.md has {examples} rule examples");
    assert!(demonstrated >= 15, "RULES.md shows input and output for {demonstrated} examples");
    assert!(headers_shown >= 5, "RULES.md shows the headers of {headers_shown} header rule examples");
}

/// Every header rules may not change is in RULES.md's list, with the reason the engine gives.
#[test]
fn rules_md_lists_the_forbidden_headers() {
    let markdown = std::fs::read_to_string(project::root().join("docs/RULES.md")).unwrap();
    for (name, _) in FORBIDDEN_HEADERS {
        assert!(markdown.contains(&format!("`{name}`")), "RULES.md does not list `{name}` among the forbidden headers");
    }
}

/// The cost model's table in RULES.md gives the constants the engine charges.
#[test]
fn the_cost_model_in_rules_md_is_the_engines() {
    let markdown = std::fs::read_to_string(project::root().join("docs/RULES.md")).unwrap();
    for (what, figure, unit) in edge_rewriter::cost::COST_MODEL {
        let row = format!("| {what} | {figure} {unit} |");
        assert!(markdown.lines().any(|line| line.starts_with(&row)), "RULES.md has no row {row}");
    }
    let page = edge_rewriter::cost::TYPICAL_PAGE;
    let profile = format!(
        "{} elements, {} KB of text in {} text chunks and {} comments per MB",
        page.elements,
        page.text_bytes / 1_000,
        page.text_chunks,
        page.comments
    );
    assert!(markdown.contains(&profile), "RULES.md describes the typical page as the engine does: {profile}");
}

/// The budgets table in RULES.md gives the figures the engine enforces.
#[test]
fn the_budgets_in_rules_md_are_the_engines() {
    let markdown = std::fs::read_to_string(project::root().join("docs/RULES.md")).unwrap();
    for budget in BUDGETS {
        let row = markdown
            .lines()
            .find(|line| line.starts_with(&format!("| {} |", budget.name)))
            .unwrap_or_else(|| panic!("RULES.md has no row for the {} budget", budget.name));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let shows = |cell: &str, amount: Option<usize>| match amount {
            Some(amount) => cell.starts_with(&budget.unit.format(amount)),
            None => cell.is_empty(),
        };
        assert!(shows(cells[2], budget.per_rule), "per rule, {}: {row}", budget.name);
        assert!(shows(cells[3], budget.per_set), "whole set, {}: {row}", budget.name);
    }
}

/// Whether `actual` lines are what `expected` shows: a line `…` stands for any lines (none
/// included), and `…` inside a line for any text.
fn shows(expected: &[&str], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((&"…", rest)) => (0..=actual.len()).any(|skip| shows(rest, &actual[skip..])),
        Some((line, rest)) => {
            actual.split_first().is_some_and(|(first, others)| same_line(line, first) && shows(rest, others))
        }
    }
}

fn same_line(expected: &str, actual: &str) -> bool {
    let pieces: Vec<&str> = expected.split('…').collect();
    let Some((first, rest)) = pieces.split_first() else { return expected == actual };
    let Some(mut left) = actual.strip_prefix(first) else { return false };
    for (i, piece) in rest.iter().enumerate() {
        if i + 1 == rest.len() {
            return left.ends_with(piece);
        }
        match left.find(piece) {
            Some(at) => left = &left[at + piece.len()..],
            None => return false,
        }
    }
    left.is_empty()
}

/// `console` blocks are sessions with the CLI, as an editor types them: each `$ …` line runs
/// (through `sh`, with the `rewrite` binary on the PATH) in a scratch copy of the
/// repository's rules/ and fixtures/, where each `json rule FILE` example (and `json file
/// FILE`, which need not be valid) is written as FILE first; its standard output must be what the lines under it show. Commands in one session
/// share their files, so a session can publish and then roll back.
#[test]
fn every_console_session_in_rules_md_gives_what_it_shows() {
    let markdown = std::fs::read_to_string(project::root().join("docs/RULES.md")).unwrap();
    let blocks = fenced_blocks(&markdown);
    let scratch = devstack::viceroy::scratch_dir().unwrap();
    for dir in ["rules", "fixtures"] {
        project::copy_dir(&project::root().join(dir), &scratch.join(dir));
    }
    for (info, text) in &blocks {
        // `json rule FILE` (a valid rule, also checked above) or `json file FILE` (anything).
        if let Some(file) = info.strip_prefix("json rule ").or_else(|| info.strip_prefix("json file ")) {
            let path = scratch.join(file.trim());
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_rewrite")).parent().unwrap().to_owned();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut sessions = 0;
    for (_, text) in blocks.iter().filter(|(info, _)| info == "console") {
        sessions += 1;
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            let command = line.strip_prefix("$ ").unwrap_or_else(|| panic!("a session starts with `$ `: {line:?}"));
            let mut expected = Vec::new();
            while let Some(next) = lines.next_if(|next| !next.starts_with("$ ")) {
                expected.push(next);
            }
            let output = std::process::Command::new("sh")
                .args(["-c", command])
                .current_dir(&scratch)
                .env("PATH", &path)
                .env("NO_COLOR", "1")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout).replace(&format!("{}/", scratch.display()), "");
            let actual: Vec<&str> = stdout.lines().collect();
            assert!(
                shows(&expected, &actual),
                "RULES.md session {sessions}, `{command}` printed:\n{stdout}\nstandard error:\n{}\nand the docs show:\n{}",
                String::from_utf8_lossy(&output.stderr),
                expected.join("\n")
            );
        }
    }
    assert!(sessions >= 4, "RULES.md has {sessions} console sessions");
}

#[test]
fn sessions_match_with_wildcards() {
    assert!(shows(&["a", "…", "d"], &["a", "b", "c", "d"]));
    assert!(shows(&["a …"], &["a b c"]) && !shows(&["a …"], &["b"]));
    assert!(shows(&["x…y…z"], &["x1y2z"]) && !shows(&["x…y…z"], &["x1z"]));
    assert!(!shows(&["a"], &["a", "b"]) && shows(&["…"], &[]));
}

/// The docs install the CLI once and call it `rewrite`: no `cargo run --bin rewrite` or
/// `target/debug/rewrite` for editors to copy.
#[test]
fn the_docs_use_the_installed_cli() {
    for doc in ["README.md", "docs/RULES.md", "fixtures/README.md"] {
        let text = std::fs::read_to_string(project::root().join(doc)).unwrap();
        for old in ["cargo run --bin rewrite", "target/debug/rewrite"] {
            assert!(!text.contains(old), "{doc} still says {old:?}");
        }
    }
    let readme = std::fs::read_to_string(project::root().join("README.md")).unwrap();
    assert!(readme.contains("cargo install --path ."), "README says how to install the CLI");
}
