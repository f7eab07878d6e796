//! The `rewrite` CLI, run as QA engineers and editors run it: the real binary, real files.

#![cfg(not(target_arch = "wasm32"))]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use devstack::project;

fn rewrite(args: &[&str]) -> Output {
    rewrite_with_stdin(args, None)
}

fn rewrite_with_stdin(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rewrite"))
        .args(args)
        .current_dir(project::root())
        .env_remove("NO_COLOR")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the rewrite binary runs");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A scratch directory with rule files, for the commands that read rules.
fn rules_dir(files: &[(&str, &str)]) -> PathBuf {
    let dir = devstack::viceroy::scratch_dir().unwrap().join("rules");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

#[test]
fn apply_rewrites_a_page_for_the_simulated_request() {
    let output =
        rewrite(&["apply", "--url", "https://news.example.org/news/article.html", "fixtures/pages/news/article.html"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let page = stdout(&output);
    assert!(page.contains("<div class=\"edge-banner\""), "{page}");
    assert!(page.contains("new dog shelter"), "{page}");
    assert!(page.contains("href=\"https://news.example.org/news/article.html\""), "templates see the simulated host");
}

#[test]
fn apply_reads_standard_input_and_honours_headers_and_facts() {
    let rules = rules_dir(&[(
        "beta.json",
        r#"{"id":"beta","selector":"p","when":{"header":{"name":"x-beta","equals":"1"},"time":{"start":"2026-12-01T00:00:00Z"}},"actions":[{"append":{"text":" beta {{country}}"}}]}"#,
    )]);
    let rules = rules.to_str().unwrap();
    let page = b"<p>hello</p>";
    let with = rewrite_with_stdin(
        &["apply", "--rules", rules, "-H", "X-Beta: 1", "--fact", "now=2026-12-02T00:00:00Z", "--fact", "country=nl"],
        Some(page),
    );
    assert!(with.status.success(), "{}", stderr(&with));
    assert_eq!(stdout(&with), "<p>hello beta NL</p>");
    let before_the_window = rewrite_with_stdin(
        &["apply", "--rules", rules, "-H", "X-Beta: 1", "--fact", "now=2026-11-30T00:00:00Z"],
        Some(page),
    );
    assert_eq!(stdout(&before_the_window), "<p>hello</p>");
}

#[test]
fn apply_passes_through_what_the_service_would_not_rewrite() {
    let output = rewrite_with_stdin(&["apply", "--fact", "status=404"], Some(b"<body>404 cat</body>"));
    assert_eq!(stdout(&output), "<body>404 cat</body>");
    assert!(stderr(&output).contains("not a 2xx response"), "{}", stderr(&output));
}

#[test]
fn diff_is_plain_when_piped_and_coloured_on_request() {
    let args = ["diff", "--url", "https://www.example.com/shop/", "fixtures/pages/shop/index.html"];
    let plain = rewrite(&args);
    assert!(plain.status.success(), "{}", stderr(&plain));
    let text = stdout(&plain);
    assert!(
        text.starts_with(
            "--- fixtures/pages/shop/index.html (origin)\n+++ fixtures/pages/shop/index.html (rewritten)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("\n-  <h1>Cat toys and accessories</h1>\n")
            && text.contains("\n+  <h1>Dog toys and accessories</h1>\n"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "no colour when piped");
    let coloured = stdout(&rewrite(&[&args[..], &["--color", "always"]].concat()));
    assert!(coloured.contains("\u{1b}[31m-  <h1>Cat toys"), "{coloured}");
}

/// A copy of the fixtures (cases, pages, expected) to break on purpose.
fn fixtures_copy() -> PathBuf {
    let dir = devstack::viceroy::scratch_dir().unwrap().join("fixtures");
    copy_dir(&project::root().join("fixtures"), &dir);
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn every_fixture_matches_its_expected_output() {
    let output = rewrite(&["check"]);
    assert!(output.status.success(), "{}\n{}", stdout(&output), stderr(&output));
    let summary = stdout(&output);
    let cases = std::fs::read_dir(project::root().join("fixtures/cases")).unwrap().count();
    assert!(cases >= 10, "at least ten fixtures");
    assert!(summary.contains(&format!("{cases} cases: {cases} ok, 0 failed")), "{summary}");
}

#[test]
fn check_reports_a_difference_and_bless_accepts_it() {
    let fixtures = fixtures_copy();
    let rules = project::root().join("rules/live");
    // The copy's cases name rules relative to the copy's parent: put the rules there.
    copy_dir(&rules, &fixtures.parent().unwrap().join("rules/live"));
    let expected = fixtures.join("expected/home.html");
    let good = std::fs::read_to_string(&expected).unwrap();
    std::fs::write(&expected, good.replace("Winter sale", "Summer sale")).unwrap();
    let dir = fixtures.to_str().unwrap();

    let failing = rewrite(&["check", dir]);
    assert_eq!(failing.status.code(), Some(1));
    let report = stdout(&failing);
    assert!(report.contains("FAIL    home: output differs"), "{report}");
    assert!(report.contains("-<body><div class=\"edge-banner\" role=\"note\">Summer sale"), "{report}");
    assert!(report.contains("+<body><div class=\"edge-banner\" role=\"note\">Winter sale"), "{report}");

    let blessed = rewrite(&["check", dir, "--bless", "--only", "home"]);
    assert!(blessed.status.success(), "{}", stdout(&blessed));
    assert_eq!(std::fs::read_to_string(&expected).unwrap(), good);
    assert!(rewrite(&["check", dir]).status.success());
}

#[test]
fn check_lists_cases_as_json() {
    let output = rewrite(&["check", "--list-json"]);
    let cases: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let news = cases.as_array().unwrap().iter().find(|case| case["name"] == "news-article").expect("the news case");
    assert_eq!(news["page"], "news/article.html");
    assert_eq!(news["content_type"], "text/html; charset=utf-8");
    assert!(
        news["request"].as_str().unwrap().starts_with("\nGET https://www.example.com/news/article.html")
            || news["request"].as_str().unwrap().starts_with("GET ")
    );
}

#[test]
fn the_html_report_renders_in_a_browser() {
    let dir = devstack::viceroy::scratch_dir().unwrap();
    let report = dir.join("report.html");
    let output = rewrite(&["check", "--html", report.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stdout(&output));
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<section class=\"case\" id=\"news-article\">"));
    assert!(html.contains("<td class=\"ins\">"), "changes are marked");

    let png = dir.join("report.png");
    devstack::browser::screenshot(&report, &png, 1280, 1600).expect("a screenshot of the report");
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height), (1280, 1600));
    let channels = frame.color_type.samples();
    let mut colours = std::collections::HashSet::new();
    let mut dark = 0usize;
    for pixel in pixels[..frame.buffer_size()].chunks(channels) {
        colours.insert(pixel[..3].to_vec());
        if pixel[..3].iter().map(|&c| u32::from(c)).sum::<u32>() < 200 {
            dark += 1;
        }
    }
    // A blank page is one colour; the report has a dark header, text, green and red marks.
    assert!(colours.len() > 50, "only {} colours: the report rendered blank", colours.len());
    assert!(dark > 5_000, "only {dark} dark pixels: no header or text rendered");
}

#[test]
fn validate_names_file_entry_rule_field_and_reason() {
    let good = rewrite(&["validate"]);
    assert!(good.status.success(), "{}", stdout(&good));
    assert!(stdout(&good).contains("0 problems"));

    let rules = rules_dir(&[
        ("10-ok.json", r#"{"id":"ok","selector":"p","actions":["remove"]}"#),
        (
            "20-bad.json",
            r#"[{"id":"last","selector":"li:last-child","actions":["remove"]},{"id":"tpl","selector":"p","actions":[{"append":{"html":"{{user}}"}}]}]"#,
        ),
        ("30-broken.json", "{ not json"),
    ]);
    let output = rewrite(&["validate", rules.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let file = rules.join("20-bad.json");
    assert!(
        text.contains(&format!(
            "{}: entry \"20-bad\", rule \"last\", field `selector`: selector \"li:last-child\"",
            file.display()
        )),
        "{text}"
    );
    assert!(
        text.contains("rule \"tpl\", field `actions[0].append.html`: unknown template variable `{{user}}`"),
        "{text}"
    );
    assert!(text.contains("30-broken.json: entry \"30-broken\": not valid JSON"), "{text}");
    assert!(text.contains("1 valid rule(s) in 3 entries, 3 problems"), "{text}");
}

#[test]
fn explain_says_which_rules_apply_and_flags_those_that_never_fire() {
    let rules = rules_dir(&[
        ("10-banner.json", r#"{"id":"banner","selector":"body","actions":[{"prepend":{"text":"hi"}}]}"#),
        (
            "20-news.json",
            r#"{"id":"news-only","selector":"h1","when":{"path":{"prefix":"/news/"}},"actions":["remove"]}"#,
        ),
        ("30-idle.json", r#"{"id":"idle","selector":".no-such-thing","actions":["remove"]}"#),
        ("40-off.json", r#"{"id":"off","enabled":false,"selector":"p","actions":["remove"]}"#),
        ("50-bad.json", r#"{"id":"bad","selector":"p + p","actions":["remove"]}"#),
    ]);
    let output = rewrite(&[
        "explain",
        "--rules",
        rules.to_str().unwrap(),
        "--url",
        "https://example.com/shop/",
        "fixtures/pages/index.html",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let line = |id: &str| {
        text.lines().find(|line| line.starts_with(id)).unwrap_or_else(|| panic!("no line for {id}:\n{text}")).to_owned()
    };
    assert!(line("banner (10-banner)").contains("yes") && line("banner").contains(" 1"), "{text}");
    assert!(line("news-only").contains("no") && line("news-only").contains("when.path does not hold"), "{text}");
    assert!(line("idle").contains("NEVER FIRED"), "{text}");
    assert!(line("off").contains("disabled"), "{text}");
    assert!(line("bad").contains("invalid") && line("bad").contains("next-sibling combinator"), "{text}");
    assert!(text.contains("1 rule(s) apply to this request but never fired"), "{text}");
}

#[test]
fn explain_lists_windows_rollouts_and_experiments_and_shows_the_page_at_another_time() {
    let rules = rules_dir(&[
        (
            "10-sale.json",
            r#"{"id":"sale","selector":"h1","when":{"time":{"start":"2026-11-27T00:00:00Z","end":"2026-12-01T00:00:00Z"}},
                "actions":[{"append":{"text":" - Sale"}}]}"#,
        ),
        (
            "20-hero.json",
            r#"{"id":"hero","selector":"body","experiment":{"id":"hero-2026","attribute":"data-hero",
                "variants":[{"name":"control","weight":1},{"name":"big-cta","weight":3}]}}"#,
        ),
        (
            "30-news.json",
            r#"{"id":"news","selector":"h1","when":{"path":{"prefix":"/news/"},"rollout":{"percent":5}},"actions":["remove"]}"#,
        ),
        (
            "40-de.json",
            r#"{"id":"de","selector":"h1","when":{"geo":{"country":["DE"]},"device":["mobile"]},"actions":[{"prepend":{"text":"{{geo.city}}: "}}]}"#,
        ),
    ]);
    let explain = |extra: &[&str]| {
        let mut args = vec!["explain", "--rules", rules.to_str().unwrap(), "--url", "https://example.com/"];
        args.extend_from_slice(extra);
        args.push("fixtures/pages/index.html");
        let output = rewrite(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    let before = explain(&["--at", "2026-11-24T12:00:00Z", "--fact", "variant=hero-2026=big-cta"]);
    assert!(before.contains("on this page, at 2026-11-24T12:00:00Z:"), "{before}");
    assert!(
        before.contains("sale (10-sale): time window from 2026-11-27T00:00:00Z until 2026-12-01T00:00:00Z, not open yet; does not apply (when.time does not hold)"),
        "{before}"
    );
    assert!(
        before.contains("experiment hero-2026 (control 25%, big-cta 75%), this request gets big-cta; applies"),
        "{before}"
    );
    assert!(!before.contains("news (30-news):"), "a rollout on another path does not affect this page:\n{before}");
    assert!(before.contains("next change: 2026-11-27T00:00:00Z (sale's window opens)"), "{before}");
    let during = explain(&["--at", "2026-11-28T00:00:00Z"]);
    assert!(
        during.contains("time window from 2026-11-27T00:00:00Z until 2026-12-01T00:00:00Z, open; applies"),
        "{during}"
    );
    assert!(
        during.contains("this request is not in it; does not apply (experiment (no visitor id) does not hold)"),
        "{during}"
    );
    let output = rewrite(&[
        "apply",
        "--rules",
        rules.to_str().unwrap(),
        "--at",
        "2026-11-28T00:00:00Z",
        "--fact",
        "geo.country=DE",
        "--fact",
        "geo.city=Berlin",
        "--fact",
        "device.type=mobile",
        "-H",
        "Cookie: edge_vid=visitor-1",
        "fixtures/pages/index.html",
    ]);
    let page = stdout(&output);
    assert!(page.contains("<h1>Berlin: Welcome - Sale</h1>"), "{page}");
    assert!(page.contains("<body data-hero=\""), "{page}");
    let bad = rewrite(&["apply", "--at", "soon", "fixtures/pages/index.html"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--at: \"soon\" is not an RFC 3339 time"), "{}", stderr(&bad));
}

#[test]
fn store_output_matches_the_committed_local_store_and_publishes_index_last() {
    let check = rewrite(&["store", "--check"]);
    assert!(check.status.success(), "{}", stdout(&check));

    let script = stdout(&rewrite(&["store", "--fastly-commands"]));
    assert!(script.starts_with("#!/bin/sh\n"));
    let keys: Vec<&str> = script.lines().filter_map(|line| line.split("--key '").nth(1)?.split('\'').next()).collect();
    let store: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project::rules_store()).unwrap()).unwrap();
    let index: Vec<String> = serde_json::from_str(store["rules"].as_str().unwrap()).unwrap();
    let draft_index: Vec<String> = serde_json::from_str(store["rules.draft"].as_str().unwrap()).unwrap();
    let mut expected: Vec<&str> = index.iter().map(String::as_str).collect();
    expected.extend(draft_index.iter().map(String::as_str).filter(|key| key.starts_with("draft/")));
    expected.extend(["rules", "rules.draft"]);
    assert_eq!(keys, expected, "entries in index order, the draft's own entries, then the indexes");

    let bulk: serde_json::Value = serde_json::from_slice(&rewrite(&["store", "--bulk-json"]).stdout).unwrap();
    let items = bulk["items"].as_array().unwrap();
    assert_eq!(items.len(), expected.len());
    for item in items {
        let key = item["item_key"].as_str().unwrap();
        assert_eq!(item["item_value"], store[key], "{key}: the same value as the local store");
    }
}

#[test]
fn errors_that_stop_a_command_exit_2_with_a_hint() {
    let output = rewrite(&["apply", "--rules", "no/such/dir", "fixtures/pages/index.html"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no/such/dir: no such file or directory (give rules with --rules PATH)"),
        "{}",
        stderr(&output)
    );
}
