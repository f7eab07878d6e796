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
        // A command that stops before reading the page (a bad argument) closes its input.
        if let Err(err) = child.stdin.take().unwrap().write_all(input) {
            assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe, "writing the page: {err}");
        }
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
fn apply_shows_the_headers_after_the_rules_edits_and_explain_lists_them() {
    let rules = rules_dir(&[(
        "10-headers.json",
        r#"[{"id": "csp", "actions": [{"csp_add": {"script-src": ["https://analytics.example"]}}]},
            {"id": "frame", "actions": [{"set_header": {"name": "X-Frame-Options", "value": "DENY"}},
                                        {"remove_header": "x-powered-by"}]},
            {"id": "seen", "actions": [{"set_cookie": {"name": "seen", "value": "{{query.ref}}"}}]}]"#,
    )]);
    let request = [
        "--rules",
        rules.to_str().unwrap(),
        "--url",
        "https://www.example.com/?ref=mail",
        "--response-header",
        "Content-Security-Policy: script-src 'self'",
        "--response-header",
        "X-Powered-By: PHP",
    ];
    let output = rewrite_with_stdin(&[&["apply", "--headers"], &request[..], &["-"]].concat(), Some(b"<p>hi</p>"));
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let etag = text.lines().find(|line| line.starts_with("etag: W/\"er")).expect(&text);
    assert_eq!(
        text,
        format!(
            "content-type: text/html\n\
             {etag}\n\
             x-compress-hint: on\n\
             content-security-policy: script-src 'self' https://analytics.example\n\
             x-frame-options: DENY\n\
             set-cookie: seen=mail; Path=/; SameSite=Lax; Secure; HttpOnly\n\
             \n\
             <p>hi</p>"
        )
    );
    let output = rewrite_with_stdin(&[&["explain"], &request[..], &["-"]].concat(), Some(b"<p>hi</p>"));
    let text = stdout(&output);
    assert!(output.status.success(), "{}", stderr(&output));
    for edit in [
        "  csp_add script-src https://analytics.example (in every Content-Security-Policy the page has)",
        "  set x-frame-options: DENY",
        "  remove x-powered-by",
        "  set-cookie: seen=mail; Path=/; SameSite=Lax; Secure; HttpOnly",
    ] {
        assert!(text.contains(edit), "{edit:?} in:\n{text}");
    }
    assert!(!text.contains("NEVER FIRED"), "header rules fire once per response:\n{text}");
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
    assert!(
        coloured.contains("\u{1b}[31m-  <h1>\u{1b}[7mCat\u{1b}[27m toys"),
        "the changed word is marked: {coloured}"
    );
}

/// A copy of the fixtures (cases, pages, expected) to break on purpose, with the rules its
/// cases name (relative to the copy's parent).
fn fixtures_copy() -> PathBuf {
    let dir = devstack::viceroy::scratch_dir().unwrap().join("fixtures");
    project::copy_dir(&project::root().join("fixtures"), &dir);
    project::copy_dir(&project::root().join("rules/live"), &dir.parent().unwrap().join("rules/live"));
    dir
}

/// A copy of the fixtures whose `home` case expects "Summer sale" where the rules say
/// "Winter sale": one failing case.
fn fixtures_with_a_failure() -> PathBuf {
    let fixtures = fixtures_copy();
    let expected = fixtures.join("expected/home.html");
    let good = std::fs::read_to_string(&expected).unwrap();
    std::fs::write(&expected, good.replace("Winter sale", "Summer sale")).unwrap();
    fixtures
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
    let fixtures = fixtures_with_a_failure();
    let expected = fixtures.join("expected/home.html");
    let good = std::fs::read_to_string(project::root().join("fixtures/expected/home.html")).unwrap();
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
fn the_html_report_puts_failures_first_and_renders_quickly_in_a_browser() {
    let fixtures = fixtures_with_a_failure();
    let dir = devstack::viceroy::scratch_dir().unwrap();
    let report = dir.join("report.html");
    let output = rewrite(&["check", fixtures.to_str().unwrap(), "--html", report.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let html = std::fs::read_to_string(&report).unwrap();
    let cases = std::fs::read_dir(fixtures.join("cases")).unwrap().count();
    // The summary at the top, with a link to the failure.
    let summary = html.split("</header>").next().unwrap();
    assert!(summary.contains(&format!("<b>{cases}</b> cases")), "{summary}");
    assert!(summary.contains("<b>1</b> failed") && summary.contains("<a href=\"#case-home\">home</a>"), "{summary}");
    // Failures first: the failing case's section comes before every other.
    let first = html.find("<section").unwrap();
    assert_eq!(html[first..].find("id=\"case-home\""), Some(html[first..].find("id=").unwrap()), "home comes first");
    // Expected beside actual, the changed words marked.
    let home = &html[first..html[first..].find("</section>").unwrap() + first];
    assert!(home.contains("(expected) beside the actual output"), "expected and actual are shown");
    assert!(home.contains("<td class=\"del\">") && home.contains("<em>Summer</em>"), "the expected word is marked");
    assert!(home.contains("<em>Winter</em>"), "the actual word is marked");
    // Pages in other charsets are shown decoded.
    let meta = &html[html.find("id=\"case-windows-1252-meta\"").unwrap()..];
    assert!(meta[..meta.find("</section>").unwrap()].contains("Café"), "windows-1252 decoded through its <meta>");
    // Quick to open: the 450 KB page is shown once per side at most, its table cut short.
    assert!(html.len() < 1_600_000, "the report is {} bytes", html.len());

    let png = dir.join("report.png");
    let started = std::time::Instant::now();
    devstack::browser::screenshot(&report, &png, 1280, 1600).expect("a screenshot of the report");
    let seconds = started.elapsed().as_secs_f64();
    assert!(seconds < 30.0, "Chromium took {seconds:.1} s to render the report");
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height), (1280, 1600));
    let channels = frame.color_type.samples();
    let mut colours = std::collections::HashSet::new();
    let (mut dark, mut red) = (0usize, 0usize);
    for pixel in pixels[..frame.buffer_size()].chunks(channels) {
        colours.insert(pixel[..3].to_vec());
        if pixel[..3].iter().map(|&c| u32::from(c)).sum::<u32>() < 200 {
            dark += 1;
        }
        // The failing case's red border and the expected side's red marks, on screen first.
        if pixel[0] > 180 && pixel[1] < 90 && pixel[2] < 90 {
            red += 1;
        }
    }
    // A blank page is one colour; the report has a dark header, text, green and red marks.
    assert!(colours.len() > 50, "only {} colours: the report rendered blank", colours.len());
    assert!(dark > 5_000, "only {dark} dark pixels: no header or text rendered");
    assert!(red > 1_000, "only {red} red pixels: the failure is not on the first screen");
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
            "{}: entry \"10-ok..20-bad\", file \"20-bad.json\", rule \"last\", field `selector`: selector \"li:last-child\"",
            file.display()
        )),
        "{text}"
    );
    assert!(
        text.contains("rule \"tpl\", field `actions[0].append.html`: unknown template variable `{{user}}`"),
        "{text}"
    );
    assert!(text.contains("30-broken.json: entry \"30-broken\": not valid JSON"), "{text}");
    assert!(text.contains("1 valid rule in 3 files (1 store entry once packed), 3 problems"), "{text}");
}

#[test]
fn validate_warns_of_editors_traps_with_the_fix_and_still_passes() {
    let rules = rules_dir(&[
        ("10-colour.json", r#"{"id":"colour","actions":[{"replace_text":{"regex":"\bcolour\b","replace":"color"}}]}"#),
        (
            "20-banner.json",
            r#"{"id":"banner","selector":"body","actions":[{"prepend":{"html":"<div class=\"banner\">Sale"}}]}"#,
        ),
    ]);
    let output = rewrite(&["validate", rules.to_str().unwrap()]);
    assert!(output.status.success(), "warnings do not fail validation: {}", stdout(&output));
    let text = stdout(&output);
    let file = rules.join("10-colour.json");
    assert!(
        text.contains(&format!(
            "warning: {}: entry \"10-colour..20-banner\", file \"10-colour.json\", rule \"colour\", field `actions[0].replace_text.regex`: the regex contains a backspace",
            file.display()
        )),
        "{text}"
    );
    assert!(text.contains(r#"write "\\b" for the regex's \b"#), "{text}");
    assert!(text.contains("opens <div class=\"banner\"> and never closes it") && text.contains("add </div>"), "{text}");
    assert!(text.contains("2 valid rules in 2 files (1 store entry once packed), 0 problems"), "{text}");
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
    assert_eq!(output.status.code(), Some(1), "a rule is skipped: {}", stderr(&output));
    let text = stdout(&output);
    let line = |id: &str| {
        text.lines().find(|line| line.starts_with(id)).unwrap_or_else(|| panic!("no line for {id}:\n{text}")).to_owned()
    };
    assert!(line("banner (10-banner.json)").contains("yes") && line("banner").contains(" 1"), "{text}");
    assert!(line("news-only").contains("no") && line("news-only").contains("when.path does not hold"), "{text}");
    assert!(line("idle").contains("NEVER FIRED"), "{text}");
    assert!(line("off").contains("disabled"), "{text}");
    assert!(line("bad").contains("invalid") && line("bad").contains("next-sibling combinator"), "{text}");
    assert!(text.contains("1 rule applies to this request but never fired"), "{text}");
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
        before.contains("sale (10-sale.json): time window from 2026-11-27T00:00:00Z until 2026-12-01T00:00:00Z, not open yet; does not apply (when.time does not hold)"),
        "{before}"
    );
    assert!(
        before.contains("experiment hero-2026 (control 25%, big-cta 75%), this request gets big-cta; applies"),
        "{before}"
    );
    assert!(!before.contains("news (30-news.json):"), "a rollout on another path does not affect this page:\n{before}");
    assert!(before.contains("next change: 2026-11-27T00:00:00Z (sale's window opens)"), "{before}");
    let during = explain(&["--at", "2026-11-28T00:00:00Z"]);
    assert!(
        during.contains("time window from 2026-11-27T00:00:00Z until 2026-12-01T00:00:00Z, open; applies"),
        "{during}"
    );
    assert!(
        during.contains("this request gets control; applies") || during.contains("this request gets big-cta; applies"),
        "a new visitor is assigned, as at the edge: {during}"
    );
    let returning =
        explain(&["--at", "2026-11-28T00:00:00Z", "-H", "Cookie: other=1", "--fact", "new-visitor-id=v-42"]);
    assert!(returning.contains("this request gets "), "{returning}");
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
    expected.extend(
        draft_index.iter().map(String::as_str).filter(|key| key.starts_with(edge_rewriter::store::DRAFT_PREFIX)),
    );
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
        stderr(&output).contains(
            "no/such/dir: no such file or directory; give a rules directory, rule file or store file as --rules PATH"
        ),
        "{}",
        stderr(&output)
    );
}

// ---- drafts ----------------------------------------------------------------------------

/// A live rules directory and a draft beside it (`live/`, `draft/`).
fn live_and_draft(live: &[(&str, &str)], draft: &[(&str, &str)]) -> (PathBuf, PathBuf) {
    let root = devstack::viceroy::scratch_dir().unwrap();
    for (dir, files) in [("live", live), ("draft", draft)] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
        for (name, text) in files {
            std::fs::write(root.join(dir).join(name), text).unwrap();
        }
    }
    (root.join("live"), root.join("draft"))
}

const LIVE_BANNER: &str = r#"{"id":"banner","selector":"body","actions":[{"prepend":{"text":"LIVE"}}]}"#;
const DRAFT_BANNER: &str = r#"{"id":"banner","selector":"body","actions":[{"prepend":{"text":"DRAFT"}}]}"#;

#[test]
fn apply_diff_and_explain_read_the_draft_over_the_live_rules() {
    let (live, draft) = live_and_draft(
        &[("10-banner.json", LIVE_BANNER), ("20-keep.json", r#"{"id":"keep","selector":"p","actions":["remove"]}"#)],
        &[("10-banner.json", DRAFT_BANNER)],
    );
    let rules = ["--rules", live.to_str().unwrap()];
    let draft_arg = format!("--draft={}", draft.display());
    let with_draft = [&rules[..], &[draft_arg.as_str()]].concat();
    let page = b"<body><p>x</p></body>";
    let applied = |extra: &[&str]| stdout(&rewrite_with_stdin(&[&["apply"], extra].concat(), Some(page)));
    assert_eq!(applied(&rules), "<body>LIVE</body>");
    assert_eq!(applied(&with_draft), "<body>DRAFT</body>", "the draft replaces the live entry, keeps the others");
    let diff = stdout(&rewrite_with_stdin(&[&["diff"], &with_draft[..]].concat(), Some(page)));
    assert!(diff.contains("+<body>DRAFT</body>"), "{diff}");
    let explained = stdout(&rewrite_with_stdin(&[&["explain"], &with_draft[..]].concat(), Some(page)));
    assert!(
        explained.contains("banner (draft/10-banner.json)") && explained.contains("keep (20-keep.json)"),
        "{explained}"
    );
}

#[test]
fn validate_draft_reports_a_draft_rule_reusing_a_live_id_and_store_refuses_it() {
    // A new draft file with the id of a live rule: the preview would skip one of the two.
    let (live, draft) = live_and_draft(&[("10-banner.json", LIVE_BANNER)], &[("05-new-banner.json", DRAFT_BANNER)]);
    let live_only = rewrite(&["validate", live.to_str().unwrap()]);
    assert!(live_only.status.success(), "{}", stdout(&live_only));
    let output = rewrite(&["validate", live.to_str().unwrap(), &format!("--draft={}", draft.display())]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(text.contains("another rule already has this id (in file \"draft/05-new-banner.json\")"), "{text}");
    assert!(text.contains("give the draft file the live file's name"), "{text}");

    let out = live.parent().unwrap().join("store.json");
    let args = [
        "store",
        "--rules",
        live.to_str().unwrap(),
        "--draft",
        draft.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let store = rewrite(&args);
    assert_eq!(store.status.code(), Some(1), "{}", stdout(&store));
    assert!(stdout(&store).contains("draft: ") && stdout(&store).contains("nothing written"), "{}", stdout(&store));
    assert!(!out.exists());
}

// ---- output for people, scripts and CI ---------------------------------------------------

#[test]
fn validate_check_and_explain_speak_json() {
    let validated: serde_json::Value =
        serde_json::from_slice(&rewrite(&["validate", "--format", "json"]).stdout).unwrap();
    assert_eq!(validated["ok"], true);
    assert!(validated["rules"].as_u64().unwrap() >= 10, "{validated}");
    assert_eq!(validated["errors"].as_array().unwrap().len(), 0);

    let rules = rules_dir(&[("20-bad.json", r#"{"id":"last","selector":"li:last-child","actions":["remove"]}"#)]);
    let invalid = rewrite(&["validate", rules.to_str().unwrap(), "--format", "json"]);
    assert_eq!(invalid.status.code(), Some(1));
    let invalid: serde_json::Value = serde_json::from_slice(&invalid.stdout).unwrap();
    assert_eq!(invalid["errors"][0]["rule"], "last");
    assert_eq!(invalid["errors"][0]["field"], "selector");
    assert!(invalid["errors"][0]["file"].as_str().unwrap().ends_with("20-bad.json"), "{invalid}");

    let fixtures = fixtures_with_a_failure();
    let checked = rewrite(&["check", fixtures.to_str().unwrap(), "--format", "json"]);
    assert_eq!(checked.status.code(), Some(1));
    let checked: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
    assert_eq!(checked["failed"], 1);
    let home = checked["results"].as_array().unwrap().iter().find(|case| case["name"] == "home").unwrap();
    assert_eq!(home["verdict"], "differs from expected");
    assert_eq!(home["hits"]["sale-banner"], 1);
    assert!(
        home["diff"].as_str().unwrap().contains("-<body><div class=\"edge-banner\" role=\"note\">Summer"),
        "{home}"
    );

    let args = ["explain", "--url", "https://www.example.com/news/a.html", "fixtures/pages/news/article.html"];
    let explained: serde_json::Value =
        serde_json::from_slice(&rewrite(&[&args[..], &["--format", "json"]].concat()).stdout).unwrap();
    let banner = explained["rules"].as_array().unwrap().iter().find(|rule| rule["id"] == "sale-banner").unwrap();
    assert_eq!((banner["applies"].as_str(), banner["fired"].as_u64()), (Some("yes"), Some(1)), "{banner}");
}

#[test]
fn check_writes_junit_xml_for_ci() {
    let fixtures = fixtures_with_a_failure();
    let junit = fixtures.parent().unwrap().join("fixtures.xml");
    let output = rewrite(&["check", fixtures.to_str().unwrap(), "--junit", junit.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let xml = std::fs::read_to_string(&junit).unwrap();
    let cases = std::fs::read_dir(fixtures.join("cases")).unwrap().count();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"rewrite check\""), "{xml}");
    assert!(xml.contains(&format!("tests=\"{cases}\" failures=\"1\"")), "{xml}");
    assert!(xml.contains("<testcase classname=\"fixtures\" name=\"home\""), "{xml}");
    assert!(xml.contains("<failure type=\"differs from expected\" message=\"output differs from"), "{xml}");
    assert!(xml.contains("-&lt;body&gt;&lt;div class=&quot;edge-banner&quot;"), "the diff, escaped: {xml}");
    assert_eq!(xml.matches("<testcase ").count(), cases);
    let printed = stdout(&rewrite(&["check", fixtures.to_str().unwrap(), "--format", "junit"]));
    assert_eq!(without_times(&printed), without_times(&xml), "--format junit prints what --junit writes");
}

/// JUnit XML without its `time="…"` attributes, which differ from run to run.
fn without_times(xml: &str) -> String {
    let mut rest = xml;
    let mut kept = String::new();
    while let Some(at) = rest.find(" time=\"") {
        kept.push_str(&rest[..at]);
        let after = &rest[at + 7..];
        rest = &after[after.find('"').map_or(after.len(), |end| end + 1)..];
    }
    kept.push_str(rest);
    kept
}

#[test]
fn shell_completions_know_every_command() {
    let bash = rewrite(&["completions", "bash"]);
    assert!(bash.status.success());
    let script = stdout(&bash);
    for command in ["apply", "check", "validate", "explain", "publish", "rollback"] {
        assert!(script.contains(command), "bash completion lacks {command}");
    }
    assert!(stdout(&rewrite(&["completions", "zsh"])).starts_with("#compdef rewrite"));
}

#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    // The reader is gone before the first byte: every write fails with a broken pipe.
    let commands: [&[&str]; 6] = [
        &["check"],
        &["validate"],
        &["explain", "fixtures/pages/news/article.html"],
        &["store", "--bulk-json"],
        &["apply", "fixtures/pages/large/archive.html"],
        &["diff", "fixtures/pages/large/archive.html"],
    ];
    for args in commands {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rewrite"))
            .args(args)
            .current_dir(project::root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
        assert!(!stderr(&output).contains("panicked"), "{args:?}: {}", stderr(&output));
    }
}

// ---- refusing what the service refuses ------------------------------------------------

#[test]
fn a_store_file_is_refused_exactly_as_a_rules_directory_is() {
    let big = format!(r#"{{"id":"big","selector":"p","actions":[{{"append":{{"text":"{}"}}}}]}}"#, "x".repeat(8_000));
    let small = r#"{"id":"small","selector":"p","actions":[{"append":{"text":"!"}}]}"#;
    let dir = rules_dir(&[("10-big.json", &big), ("20-small.json", small)]);
    let store = dir.parent().unwrap().join("store.json");
    let values = serde_json::json!({ "rules": "[\"10-big\",\"20-small\"]", "10-big": big, "20-small": small });
    std::fs::write(&store, values.to_string()).unwrap();
    for (rules, reason) in [
        (&dir, "characters even written compactly, and a config store value holds at most 8000"),
        (&store, "characters long; a config store value holds at most 8000"),
    ] {
        let validated = rewrite(&["validate", rules.to_str().unwrap()]);
        assert_eq!(validated.status.code(), Some(1), "{}", rules.display());
        assert!(stdout(&validated).contains(reason), "{}: {}", rules.display(), stdout(&validated));
        let applied = rewrite_with_stdin(&["apply", "--rules", rules.to_str().unwrap()], Some(b"<p>a</p>"));
        assert_eq!(
            stdout(&applied),
            "<p>a!</p>",
            "{}: the big rule is left out, the small one applies",
            rules.display()
        );
        assert!(stderr(&applied).contains(reason), "{}", stderr(&applied));
    }
}

#[test]
fn check_names_the_case_in_its_notes_and_a_wrong_path_names_the_case_file() {
    let output = rewrite(&["check"]);
    assert!(
        stderr(&output).contains("note: case not-found: the service would pass this response through untouched"),
        "{}",
        stderr(&output)
    );
    let fixtures = fixtures_copy();
    let case = fixtures.join("cases/zz-broken.toml");
    std::fs::write(
        &case,
        "description = \"x\"\npage = \"news/no-such-page.html\"\nrequest = \"GET https://a.example/\"\n",
    )
    .unwrap();
    let broken = rewrite(&["check", fixtures.to_str().unwrap()]);
    assert_eq!(broken.status.code(), Some(2));
    let message = stderr(&broken);
    assert!(message.contains(&format!("{}: page \"news/no-such-page.html\"", case.display())), "{message}");
}

#[test]
fn explain_lists_shadow_rules_apart() {
    let rules = rules_dir(&[
        ("10-live.json", r#"{"id":"live","selector":"h1","actions":["remove"]}"#),
        ("20-trial.json", r#"{"id":"trial","mode":"shadow","selector":"p","actions":["remove"]}"#),
    ]);
    let output = rewrite(&["explain", "--rules", rules.to_str().unwrap(), "fixtures/pages/news/article.html"]);
    let text = stdout(&output);
    let (live, shadow) = text.split_once("shadow rules: counted where they would act").expect(&text);
    assert!(live.contains("live (10-live.json)") && !live.contains("trial"), "{text}");
    assert!(shadow.contains("would fire") && shadow.contains("trial (20-trial.json)"), "{text}");
    let trial = shadow.lines().find(|line| line.starts_with("trial")).unwrap();
    assert!(trial.split_whitespace().any(|word| word == "5"), "the article's five paragraphs would go: {trial}");
}

// ---- publishing ------------------------------------------------------------------------

/// A store file standing in for the production store: the repository's rules under the plain
/// index, as `rewrite store` lays them out.
fn production_store() -> PathBuf {
    let store = devstack::viceroy::scratch_dir().unwrap().join("production.json");
    std::fs::copy(project::rules_store(), &store).unwrap();
    store
}

fn store_values(store: &Path) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(store).unwrap()).unwrap()
}

#[test]
fn publish_flips_the_index_last_keeps_the_previous_and_rollback_flips_back() {
    let store = production_store();
    let store_arg = store.to_str().unwrap();
    let rules = rules_dir(&[
        (
            "10-banner.json",
            r#"{"id":"banner","selector":"body","actions":[{"prepend":{"text":"Winter sale: 20% off"}}]}"#,
        ),
        ("20-old.json", r#"{"id":"old","selector":"p","actions":["remove"]}"#),
    ]);
    let rules_arg = rules.to_str().unwrap();
    let first = rewrite(&["publish", "--rules", rules_arg, "--store-file", store_arg]);
    assert!(first.status.success(), "{}{}", stdout(&first), stderr(&first));
    let values = store_values(&store);
    assert_eq!(values["rules"], r#"{"version":"v1","entries":["v1.10-banner..20-old"]}"#);
    assert!(
        values["rules.previous"].as_str().unwrap().starts_with("[\"10-sale-banner..80-app-shell\""),
        "the plain index is kept"
    );
    assert!(values.contains_key("10-sale-banner..80-app-shell"), "entries publish did not write are left alone");
    assert!(!values.contains_key("rules.draft"), "no draft beside the rules: the old draft index is gone");

    // An edit: one rule changed, one removed, one added. The dry run says so and writes nothing.
    std::fs::write(
        rules.join("10-banner.json"),
        r#"{"id":"banner","selector":"body","actions":[{"prepend":{"text":"Winter sale extended: 30% off"}}]}"#,
    )
    .unwrap();
    std::fs::remove_file(rules.join("20-old.json")).unwrap();
    std::fs::write(rules.join("30-new.json"), r#"{"id":"new","selector":"h1","actions":["remove"]}"#).unwrap();
    let before = std::fs::read_to_string(&store).unwrap();
    let dry = rewrite(&["publish", "--rules", rules_arg, "--store-file", store_arg, "--dry-run"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    let plan = stdout(&dry);
    assert!(plan.starts_with(&format!("publish v2 to store file {store_arg} (live now: v1)\n")), "{plan}");
    assert!(plan.contains("rules: 1 added, 1 changed, 1 removed, 0 unchanged\n"), "{plan}");
    assert!(plan.contains("  ~ banner (10-banner.json)\n"), "{plan}");
    assert!(
        plan.contains(r#"actions[0].prepend.text: "Winter sale: 20% off" → "Winter sale extended: 30% off""#),
        "{plan}"
    );
    assert!(plan.contains("  + new (30-new.json)\n") && plan.contains("  - old (20-old.json)\n"), "{plan}");
    assert!(plan.contains("then rules.previous (v1), then rules (v2)") && plan.ends_with("dry run: nothing written\n"));
    assert_eq!(std::fs::read_to_string(&store).unwrap(), before, "a dry run writes nothing");

    let second = rewrite(&["publish", "--rules", rules_arg, "--store-file", store_arg]);
    assert!(second.status.success(), "{}", stderr(&second));
    let values = store_values(&store);
    assert_eq!(values["rules"], r#"{"version":"v2","entries":["v2.10-banner..30-new"]}"#);
    assert_eq!(values["rules.previous"], r#"{"version":"v1","entries":["v1.10-banner..20-old"]}"#);

    let back = rewrite(&["rollback", "--store-file", store_arg]);
    assert!(back.status.success(), "{}", stderr(&back));
    assert!(
        stdout(&back).starts_with(&format!("roll back store file {store_arg} from v2 to v1\n")),
        "{}",
        stdout(&back)
    );
    let values = store_values(&store);
    assert_eq!(values["rules"], r#"{"version":"v1","entries":["v1.10-banner..20-old"]}"#);
    assert_eq!(values["rules.previous"], r#"{"version":"v2","entries":["v2.10-banner..30-new"]}"#);

    // Numbers are never reused, and only the last few versions stay.
    for text in ["A", "B", "C"] {
        let rule = format!(r#"{{"id":"banner","selector":"body","actions":[{{"prepend":{{"text":"{text}"}}}}]}}"#);
        std::fs::write(rules.join("10-banner.json"), rule).unwrap();
        let published = rewrite(&["publish", "--rules", rules_arg, "--store-file", store_arg, "--keep", "2"]);
        assert!(published.status.success(), "{}", stderr(&published));
    }
    let values = store_values(&store);
    assert!(values["rules"].as_str().unwrap().starts_with(r#"{"version":"v5""#), "{}", values["rules"]);
    let versioned: Vec<&String> = values.keys().filter(|key| key.starts_with('v')).collect();
    assert_eq!(versioned, ["v4.10-banner..30-new", "v5.10-banner..30-new"], "v1 to v3 deleted");
}

#[test]
fn publish_refuses_rules_the_service_would_skip_and_rollback_needs_a_previous_index() {
    let store = production_store();
    let rules = rules_dir(&[("10-bad.json", r#"{"id":"bad","selector":"li:last-child","actions":["remove"]}"#)]);
    let refused = rewrite(&["publish", "--rules", rules.to_str().unwrap(), "--store-file", store.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stdout(&refused).contains("`:last-child`") && stdout(&refused).contains("nothing published"));
    assert_eq!(std::fs::read(&store).unwrap(), std::fs::read(project::rules_store()).unwrap());
    let nothing = rewrite(&["rollback", "--store-file", store.to_str().unwrap()]);
    assert_eq!(nothing.status.code(), Some(2));
    assert!(stderr(&nothing).contains("no `rules.previous`"), "{}", stderr(&nothing));
}

#[test]
fn publish_drives_the_fastly_cli_entries_first_and_the_index_last() {
    let dir = devstack::viceroy::scratch_dir().unwrap();
    let (log, listing, fake) = (dir.join("fastly.log"), dir.join("list.json"), dir.join("fastly"));
    // What `fastly config-store-entry list --json` prints for a store holding version 4.
    let listed = serde_json::json!([
        { "store_id": "s", "item_key": "rules", "item_value": r#"{"version":"v4","entries":["v4.10-banner"]}"# },
        { "store_id": "s", "item_key": "v4.10-banner", "item_value": LIVE_BANNER },
        { "store_id": "s", "item_key": "v1.10-banner", "item_value": LIVE_BANNER },
    ]);
    std::fs::write(&listing, listed.to_string()).unwrap();
    // Stands in for the Fastly CLI: one line per call, the value it read on standard input.
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> '{log}'\ncase \"$2\" in\n  list) cat '{listing}' ;;\n  update) echo \"value: $(cat)\" >> '{log}' ;;\nesac\n",
        log = log.display(),
        listing = listing.display()
    );
    std::fs::write(&fake, script).unwrap();
    let mut permissions = std::fs::metadata(&fake).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&fake, permissions).unwrap();
    let rules = rules_dir(&[("10-banner.json", DRAFT_BANNER)]);
    let args = ["publish", "--rules", rules.to_str().unwrap(), "--store-id", "s", "--keep", "2"];
    let output = rewrite(&[&args[..], &["--fastly-cli", fake.to_str().unwrap()]].concat());
    assert!(output.status.success(), "{}{}", stdout(&output), stderr(&output));
    let calls = std::fs::read_to_string(&log).unwrap();
    let expected = "config-store-entry list --json --store-id s\n\
         config-store-entry update --upsert --key v5.10-banner --stdin --store-id s\nvalue: {\"pack\":[{\"file\":\"10-banner.json\",\"rules\":[{\"actions\":[{\"prepend\":{\"text\":\"DRAFT\"}}],\"id\":\"banner\",\"selector\":\"body\"}]}]}\n\
         config-store-entry update --upsert --key rules.previous --stdin --store-id s\nvalue: {\"version\":\"v4\",\"entries\":[\"v4.10-banner\"]}\n\
         config-store-entry update --upsert --key rules --stdin --store-id s\nvalue: {\"version\":\"v5\",\"entries\":[\"v5.10-banner\"]}\n\
         config-store-entry delete --key v1.10-banner --store-id s\n";
    assert_eq!(calls, expected);
}

#[test]
fn scripts_serve_help_prints_help_without_installing_or_building_anything() {
    let started = std::time::Instant::now();
    let output = Command::new(project::root().join("scripts/serve")).arg("--help").output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let help = stdout(&output);
    assert!(help.starts_with("Usage: scripts/serve [--store FILE] [--port PORT]\n"), "{help}");
    assert!(help.contains("--store FILE") && help.contains("--port PORT"), "{help}");
    assert!(!help.contains("==>"), "nothing installed or built: {help}");
    assert!(started.elapsed().as_secs() < 10);
    // Serving asks only for what serving needs: the test tools are for `scripts/test`.
    let bootstrap = std::fs::read_to_string(project::root().join("scripts/bootstrap")).unwrap();
    let serve_stops = bootstrap.find("if [ \"$purpose\" = serve ]").expect("bootstrap has a serve mode");
    for tool in ["cargo install cargo-nextest", "apt-get install"] {
        assert!(bootstrap.find(tool).unwrap() > serve_stops, "{tool} comes after the serve mode stops");
    }
}

#[test]
fn includes_take_fragments_from_files_or_a_directory_and_explain_lists_them() {
    let rules = rules_dir(&[(
        "includes.json",
        r#"[{"id":"sale","selector":"h1","actions":[{"after":{"include":{"path":"/fragments/sale.html?wait_ms=5"}}}]},
            {"id":"cms","selector":"body","actions":[{"append":{"include":{"backend":"cms","path":"/promo","fallback":{"text":"later"}}}}]}]"#,
    )]);
    let rules = rules.to_str().unwrap();
    let page = b"<body><h1>Shop</h1></body>";
    let scratch = devstack::viceroy::scratch_dir().unwrap();
    let promo = scratch.join("promo.html");
    std::fs::write(&promo, "<aside>promo</aside>").unwrap();
    let promo_arg = format!("/promo={}", promo.display());
    let applied = rewrite_with_stdin(
        &["apply", "--rules", rules, "--fragments", "fixtures/pages", "--fragment", &promo_arg],
        Some(page),
    );
    assert!(applied.status.success(), "{}", stderr(&applied));
    assert_eq!(
        stdout(&applied),
        "<body><h1>Shop</h1><div class=\"sale\">Winter sale: 20% off</div>\n<aside>promo</aside></body>"
    );
    // Without files, includes get their fallback, as at the edge when a fragment fails.
    let bare = rewrite_with_stdin(&["apply", "--rules", rules], Some(page));
    assert_eq!(stdout(&bare), "<body><h1>Shop</h1>later</body>");
    assert!(stderr(&bare).contains("no local file for /promo (backend cms)"), "{}", stderr(&bare));
    let explained = rewrite_with_stdin(&["explain", "--rules", rules, "--fragments", "fixtures/pages"], Some(page));
    let text = stdout(&explained);
    assert!(text.contains("/fragments/sale.html?wait_ms=5 (rule sale): inserted, 45 bytes"), "{text}");
    assert!(text.contains("/promo (rule cms): fallback (5 bytes): no local file"), "{text}");
    let wrong = rewrite_with_stdin(&["apply", "--rules", rules, "--fragment", "promo.html"], Some(page));
    assert_eq!(wrong.status.code(), Some(2));
    assert!(stderr(&wrong).contains("write it as PATH=FILE"), "{}", stderr(&wrong));
}

#[test]
fn apply_honours_max() {
    let rules =
        rules_dir(&[("once.json", r#"{"id":"once","selector":"li","max":1,"actions":[{"append":{"text":"!"}}]}"#)]);
    let output = rewrite_with_stdin(&["apply", "--rules", rules.to_str().unwrap()], Some(b"<li>a</li><li>b</li>"));
    assert_eq!(stdout(&output), "<li>a!</li><li>b</li>");
}

#[test]
fn validate_refuses_script_sources_wider_than_one_site_and_keeps_one_sites() {
    let csp = |id: &str, directive: &str, source: &str| {
        format!(r#"{{"id":"{id}","actions":[{{"csp_add":{{"{directive}":["{source}"]}}}}]}}"#)
    };
    let refused = [
        ("any-host", "script-src", "https://*", "allows every host"),
        ("scheme", "script-src-elem", "https:", "allows every host reached over https:"),
        ("suffix", "script-src", "*.com", "allows every site under com, a public suffix"),
        ("private-suffix", "default-src", "https://*.github.io", "every site under github.io"),
        ("port", "script-src", "https://cdn.example.com:*", "allows any port"),
        ("nonce", "script-src", "'nonce-abc123'", "a fixed nonce"),
        ("inline", "worker-src", "'unsafe-inline'", "inline or evaluated code"),
    ];
    let accepted =
        [("named", "script-src", "https://cdn.example.com"), ("subdomains", "script-src", "https://*.example.com")];
    let files: Vec<(String, String)> = refused
        .iter()
        .map(|(id, directive, source, _)| (format!("{id}.json"), csp(id, directive, source)))
        .chain(accepted.iter().map(|(id, directive, source)| (format!("{id}.json"), csp(id, directive, source))))
        .collect();
    let rules = rules_dir(&files.iter().map(|(name, text)| (name.as_str(), text.as_str())).collect::<Vec<_>>());
    let output = rewrite(&["validate", rules.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    for (id, directive, _, why) in refused {
        let line = text
            .lines()
            .find(|line| line.contains(&format!("rule \"{id}\"")))
            .unwrap_or_else(|| panic!("{id}: {text}"));
        assert!(line.contains(&format!("field `actions[0].csp_add.{directive}[0]`")) && line.contains(why), "{line}");
        let instead = if id == "nonce" { "get the page's own nonce" } else { "name the host the script comes from" };
        assert!(line.contains(instead), "says what to write instead: {line}");
    }
    for (id, ..) in accepted {
        assert!(!text.contains(&format!("rule \"{id}\"")), "{id} is accepted: {text}");
    }
    assert!(
        text.contains(&format!(
            "2 valid rules in {} files (1 store entry once packed), {} problems",
            files.len(),
            refused.len()
        )),
        "{text}"
    );
}

// ---- the editor's path without traps (issue 25) ------------------------------------------

/// Trap 10: a skipped rule is an error the exit status says, on standard error, labelled.
#[test]
fn apply_diff_and_explain_exit_1_when_a_rule_is_skipped_and_say_so_on_stderr() {
    let rules = rules_dir(&[
        ("10-ok.json", r#"{"id":"ok","selector":"p","actions":[{"append":{"text":"!"}}]}"#),
        ("20-bad.json", r#"{"id":"bad","selector":"p + p","actions":["remove"]}"#),
    ]);
    let rules = rules.to_str().unwrap();
    for command in ["apply", "diff", "explain"] {
        let output = rewrite_with_stdin(&[command, "--rules", rules], Some(b"<p>a</p>"));
        assert_eq!(output.status.code(), Some(1), "{command}: {}", stderr(&output));
        let (out, err) = (stdout(&output), stderr(&output));
        assert!(!out.contains("rule skipped"), "{command}: the output stream is the page (or report) only:\n{out}");
        assert!(
            err.lines().any(|line| line.starts_with("error: rule skipped: ") && line.contains("20-bad.json")),
            "{command}: {err}"
        );
    }
    let applied = rewrite_with_stdin(&["apply", "--rules", rules], Some(b"<p>a</p>"));
    assert_eq!(stdout(&applied), "<p>a!</p>", "the other rules still apply");
}

/// Trap 10: notes are notes; a passing check has nothing that looks like an error.
#[test]
fn a_passing_check_prints_no_error_looking_lines() {
    let output = rewrite(&["check"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let notes = stderr(&output);
    assert!(notes.contains("note: case not-found: the service would pass this response through untouched"), "{notes}");
    for line in notes.lines() {
        assert!(line.starts_with("note: "), "a passing check printed {line:?}");
        assert!(!line.contains("rewrite:") && !line.contains("error"), "{line:?}");
    }
}

/// Trap 9: an optional value never swallows the positional path; hints fit the command.
#[test]
fn validate_takes_draft_before_a_store_file_and_hints_fit_the_command() {
    let output = rewrite(&["validate", "--draft", "rules/store.json"]);
    assert!(output.status.success(), "{}{}", stdout(&output), stderr(&output));
    assert!(stdout(&output).contains("rules/store.json with its draft: "), "{}", stdout(&output));
    let typo = rewrite(&["validate", "rules/livee"]);
    assert_eq!(typo.status.code(), Some(2));
    let message = stderr(&typo);
    assert!(!message.contains("--rules"), "validate takes no --rules: {message}");
    assert!(message.contains("rules/livee: no such file or directory"), "{message}");
    assert!(message.contains("did you mean rules/live?"), "{message}");
    let apply = rewrite(&["apply", "--rules", "rules/livee", "fixtures/pages/index.html"]);
    assert!(stderr(&apply).contains("--rules") && stderr(&apply).contains("did you mean rules/live?"));
}

#[test]
fn counts_agree_with_their_nouns() {
    let rules = rules_dir(&[("10-one.json", r#"{"id":"one","selector":"p","actions":["remove"]}"#)]);
    let output = rewrite_with_stdin(&["explain", "--rules", rules.to_str().unwrap()], Some(b"<p>a</p>"));
    let text = stdout(&output);
    assert!(text.contains(" — 1 rule from 1 entry in "), "{text}");
    let validated = stdout(&rewrite(&["validate", rules.to_str().unwrap()]));
    assert!(validated.contains(": 1 valid rule in 1 file (1 store entry once packed), 0 problems"), "{validated}");
}

/// Trap 8: every mistake of a rule in one run, each with the shape to write.
#[test]
fn validate_reports_both_mistakes_of_a_rule_with_the_shape_to_write() {
    let rules = rules_dir(&[(
        "30-promo.json",
        r#"{"id": "promo", "selector": "main", "when": {"geo": {"country": "DE"}},
            "actions": [{"prepend": {"include": {"path": "/fragments/promo.html", "fallback": "Promo unavailable"}}}]}"#,
    )]);
    let output = rewrite(&["validate", rules.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let file = rules.join("30-promo.json");
    for (field, shape) in [
        ("when.geo.country", r#"write ["DE"]"#),
        ("actions[0].prepend.include.fallback", r#"write {"text": "Promo unavailable"}"#),
    ] {
        let line = text
            .lines()
            .find(|line| line.contains(&format!("field `{field}`")))
            .unwrap_or_else(|| panic!("{field}:\n{text}"));
        assert!(
            line.starts_with(&format!(
                "{}: entry \"30-promo\", file \"30-promo.json\", rule \"promo\"",
                file.display()
            )),
            "{line}"
        );
        assert!(line.contains(shape), "{line}");
    }
    assert!(text.contains("0 valid rules in 1 file (1 store entry once packed), 2 problems"), "{text}");
}

/// Trap 4: the European Union is a union, not the continent; a country brings its continent;
/// a name is not a code.
#[test]
fn the_eu_union_is_its_member_states_and_a_country_fact_brings_its_continent() {
    let rules = rules_dir(&[
        (
            "10-consent.json",
            r#"{"id": "consent", "selector": "body", "when": {"geo": {"union": ["EU"]}},
                "actions": [{"prepend": {"html": "<div id=consent></div>"}}]}"#,
        ),
        (
            "20-europe.json",
            r#"{"id": "europe", "selector": "body", "when": {"geo": {"continent": ["EU"]}},
                "actions": [{"append": {"text": "Europe"}}]}"#,
        ),
    ]);
    let rules = rules.to_str().unwrap();
    let page_for = |country: &str| {
        let output = rewrite_with_stdin(
            &["apply", "--rules", rules, "--fact", &format!("country={country}")],
            Some(b"<body></body>"),
        );
        assert!(output.status.success(), "{country}: {}", stderr(&output));
        stdout(&output)
    };
    assert_eq!(page_for("DE"), "<body><div id=consent></div>Europe</body>", "Germany: in the Union, in Europe");
    assert_eq!(page_for("CH"), "<body>Europe</body>", "Switzerland: in Europe, not in the Union");
    assert_eq!(page_for("GB"), "<body>Europe</body>", "the United Kingdom: in Europe, not in the Union");
    assert_eq!(page_for("JP"), "<body></body>");
    let named = rewrite_with_stdin(&["apply", "--rules", rules, "--fact", "country=Germany"], Some(b"<body></body>"));
    assert_eq!(named.status.code(), Some(2));
    let message = stderr(&named);
    assert!(message.contains("is not a country code") && message.contains("--fact country=DE"), "{message}");
    let unknown = rewrite_with_stdin(&["apply", "--rules", rules, "--fact", "country=UK"], Some(b"<body></body>"));
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("code is GB"), "{}", stderr(&unknown));
}

/// Trap 6: an include's timeout can be tried: a fragment later than it gets the fallback.
#[test]
fn a_delayed_fragment_gets_its_fallback_after_the_includes_timeout() {
    let rules = rules_dir(&[(
        "40-promo.json",
        r#"{"id": "promo", "selector": "main", "actions": [{"prepend": {"include": {"path": "/fragments/promo.html",
            "timeout_ms": 300, "fallback": {"text": "Promo unavailable"}}}}]}"#,
    )]);
    let promo = rules.parent().unwrap().join("promo.html");
    std::fs::write(&promo, "<aside>20% off</aside>").unwrap();
    let page = b"<main><h1>Shop</h1></main>";
    let with_delay = |delay: &str| {
        let fragment = format!("/fragments/promo.html={}{delay}", promo.display());
        let started = std::time::Instant::now();
        let output =
            rewrite_with_stdin(&["apply", "--rules", rules.to_str().unwrap(), "--fragment", &fragment], Some(page));
        assert!(output.status.success(), "{delay}: {}", stderr(&output));
        (stdout(&output), started.elapsed())
    };
    let (late, waited) = with_delay("@800ms");
    assert_eq!(late, "<main>Promo unavailable<h1>Shop</h1></main>");
    assert!(waited >= std::time::Duration::from_millis(300), "the page waited for the timeout: {waited:?}");
    assert!(waited < std::time::Duration::from_millis(790), "and no longer: {waited:?}");
    let (in_time, _) = with_delay("@50ms");
    assert_eq!(in_time, "<main><aside>20% off</aside><h1>Shop</h1></main>");
    let explained = rewrite_with_stdin(
        &[
            "explain",
            "--rules",
            rules.to_str().unwrap(),
            "--fragment",
            &format!("/fragments/promo.html={}@2s", promo.display()),
        ],
        Some(page),
    );
    assert!(
        stdout(&explained).contains(
            "/fragments/promo.html (rule promo): fallback (17 bytes): no response within its timeout (300 ms)"
        ),
        "{}",
        stdout(&explained)
    );
    let bad = rewrite_with_stdin(
        &["apply", "--rules", rules.to_str().unwrap(), "--fragment", "/p=promo.html@soonms"],
        Some(page),
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("write it like 500ms"), "{}", stderr(&bad));
}

/// Trap 5: without a cookie the request is a new visitor, as at the edge: it gets a variant,
/// and `--headers` shows what the service sends with it.
#[test]
fn a_cookieless_apply_of_an_experiment_shows_a_variant_and_the_visitor_cookie() {
    let rules = rules_dir(&[(
        "50-hero.json",
        r#"{"id": "hero", "selector": "button", "experiment": {"id": "hero-2026", "attribute": "data-hero",
            "variants": [{"name": "control", "weight": 50},
                         {"name": "big-cta", "weight": 50, "actions": [{"add_class": "cta-big"}]}]}}"#,
    )]);
    let output = rewrite_with_stdin(
        &[
            "apply",
            "--headers",
            "--rules",
            rules.to_str().unwrap(),
            "--response-header",
            "Cache-Control: public, max-age=600",
            "--response-header",
            "Content-Length: 22",
            "--response-header",
            "ETag: \"v1\"",
        ],
        Some(b"<button>Buy</button>"),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let (head, page) = text.split_once("\n\n").expect("headers, a blank line, the page");
    assert!(page.starts_with("<button data-hero=\""), "a variant: {page}");
    let lines: Vec<&str> = head.lines().collect();
    let cookie = lines.iter().find(|line| line.starts_with("set-cookie: edge_vid=")).expect(head);
    let id = &cookie["set-cookie: edge_vid=".len()..cookie.find(';').unwrap()];
    assert_eq!(id.len(), 32, "the service's kind of id: {cookie}");
    assert!(cookie.ends_with("; Path=/; Max-Age=31536000; SameSite=Lax; Secure; HttpOnly"), "{cookie}");
    assert!(lines.contains(&"cache-control: private, max-age=600"), "shared caches are told off: {head}");
    assert!(!head.contains("content-length"), "the body streams: {head}");
    assert!(lines.iter().any(|line| line.starts_with("etag: W/\"v1-er")), "the ETag names the variant: {head}");
    let note = stderr(&output);
    assert!(note.contains("note: a new visitor (no edge_vid cookie) gets "), "{note}");
    assert!(note.contains(&format!("-H 'Cookie: edge_vid={id}'")), "{note}");
    // The same visitor again, with its cookie: the same variant, and no new cookie.
    let variant = &page["<button data-hero=\"".len()..page.find("\">").unwrap()];
    let again = rewrite_with_stdin(
        &["apply", "--headers", "--rules", rules.to_str().unwrap(), "-H", &format!("Cookie: edge_vid={id}")],
        Some(b"<button>Buy</button>"),
    );
    let again = stdout(&again);
    assert!(again.contains(&format!("data-hero=\"{variant}\"")), "{again}");
    assert!(!again.contains("set-cookie"), "{again}");
}

/// `count` one-rule files, each appending its own marker to `<body>`.
fn one_rule_files(count: usize) -> PathBuf {
    let files: Vec<(String, String)> = (1..=count)
        .map(|i| {
            let rule = format!(
                r#"{{"id": "rule-{i:02}", "description": "one rule per file, as editors keep them",
                    "selector": "body", "actions": [{{"append": {{"html": "<i>{i:02}</i>"}}}}]}}"#
            );
            (format!("{:03}-rule.json", i * 5), rule)
        })
        .collect();
    let named: Vec<(&str, &str)> = files.iter().map(|(name, text)| (name.as_str(), text.as_str())).collect();
    rules_dir(&named)
}

/// Trap 1: one file per rule is fine: twenty files publish into a store a request reads
/// whole, and every rule applies.
#[test]
fn twenty_one_rule_files_publish_into_a_store_that_applies_all_twenty() {
    let rules = one_rule_files(20);
    let validated = rewrite(&["validate", rules.to_str().unwrap()]);
    assert!(validated.status.success(), "{}", stdout(&validated));
    assert!(stdout(&validated).contains("20 valid rules in 20 files (1 store entry once packed), 0 problems"));
    let store = production_store();
    let published = rewrite(&["publish", "--rules", rules.to_str().unwrap(), "--store-file", store.to_str().unwrap()]);
    assert!(published.status.success(), "{}{}", stdout(&published), stderr(&published));
    let values = store_values(&store);
    let index: serde_json::Value = serde_json::from_str(values["rules"].as_str().unwrap()).unwrap();
    assert_eq!(index["entries"], serde_json::json!(["v1.005-rule..100-rule"]), "{index}");
    let applied = rewrite_with_stdin(&["apply", "--rules", store.to_str().unwrap()], Some(b"<body></body>"));
    assert!(applied.status.success(), "{}", stderr(&applied));
    let markers: String = (1..=20).map(|i| format!("<i>{i:02}</i>")).collect();
    assert_eq!(stdout(&applied), format!("<body>{markers}</body>"), "all twenty, in file order");
    // `rewrite store` packs the same way.
    let out = rules.parent().unwrap().join("local.json");
    let stored = rewrite(&["store", "--rules", rules.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(
        stdout(&stored).contains("20 files from") && stdout(&stored).contains("packed into 1 entry"),
        "{}",
        stdout(&stored)
    );
}

/// Trap 1: a set a request cannot read whole fails validation plainly, before it is
/// published, naming what would be left out.
#[test]
fn validate_fails_plainly_when_the_rules_do_not_fit_what_a_request_reads() {
    let big = |i: usize| {
        format!(
            r#"{{"id": "big-{i}", "selector": "body", "actions": [{{"append": {{"text": "{}"}}}}]}}"#,
            "x".repeat(7_000)
        )
    };
    let files: Vec<(String, String)> = (0..15).map(|i| (format!("{i:02}-big.json"), big(i))).collect();
    let named: Vec<(&str, &str)> = files.iter().map(|(name, text)| (name.as_str(), text.as_str())).collect();
    let rules = rules_dir(&named);
    let output = rewrite(&["validate", rules.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(text.contains("the rule files fill 15 store entries once packed"), "{text}");
    assert!(
        text.contains("a request reads at most 13") && text.contains("the rules in 13-big, 14-big are left out"),
        "{text}"
    );
    let store = production_store();
    let refused = rewrite(&["publish", "--rules", rules.to_str().unwrap(), "--store-file", store.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stdout(&refused).contains("nothing published"));
}

/// Trap 2: the local store has one recipe; `rewrite store` never drops a published history.
#[test]
fn store_never_silently_drops_a_published_history() {
    let rules = one_rule_files(2);
    let store = production_store();
    let store_arg = store.to_str().unwrap();
    let published = rewrite(&["publish", "--rules", rules.to_str().unwrap(), "--store-file", store_arg]);
    assert!(published.status.success(), "{}", stderr(&published));
    let before = std::fs::read_to_string(&store).unwrap();
    let overwrite = rewrite(&["store", "--rules", rules.to_str().unwrap(), "--out", store_arg]);
    assert_eq!(overwrite.status.code(), Some(1));
    let message = stdout(&overwrite);
    assert!(message.contains("holds published rule sets (live v1, rules.previous unversioned)"), "{message}");
    assert!(message.contains("nothing written") && message.contains("rewrite publish --store-file"), "{message}");
    assert_eq!(std::fs::read_to_string(&store).unwrap(), before, "the history is all there");
    let check = rewrite(&["store", "--check", "--rules", rules.to_str().unwrap(), "--out", store_arg]);
    assert_eq!(check.status.code(), Some(1));
    assert!(stdout(&check).contains("it is not compared"), "{}", stdout(&check));
}

/// Trap 3: a publish leaves the draft over the new rules, or takes the old draft away.
#[test]
fn after_a_publish_the_draft_previews_the_new_rules() {
    let (live, draft) = live_and_draft(
        &[("10-banner.json", LIVE_BANNER), ("20-new.json", r#"{"id":"new","selector":"h1","actions":["remove"]}"#)],
        &[("10-banner.json", DRAFT_BANNER)],
    );
    let store = production_store();
    let store_arg = store.to_str().unwrap();
    let published = rewrite(&["publish", "--rules", live.to_str().unwrap(), "--store-file", store_arg]);
    assert!(published.status.success(), "{}", stderr(&published));
    assert!(stdout(&published).contains(&format!("then rules.draft (v1 with the draft in {})", draft.display())));
    let page = b"<body><h1>x</h1></body>";
    let preview = rewrite_with_stdin(&["apply", "--rules", store_arg, "--draft"], Some(page));
    assert_eq!(stdout(&preview), "<body>DRAFT</body>", "the draft over the new rules: {}", stderr(&preview));
    let validated = rewrite(&["validate", "--draft", store_arg]);
    assert!(stdout(&validated).contains("2 valid rules"), "{}", stdout(&validated));
    // Without a draft directory, the old draft index goes, and a preview shows the live rules.
    std::fs::remove_dir_all(&draft).unwrap();
    std::fs::write(live.join("10-banner.json"), DRAFT_BANNER.replace("DRAFT", "V2")).unwrap();
    let again = rewrite(&["publish", "--rules", live.to_str().unwrap(), "--store-file", store_arg]);
    assert!(stdout(&again).contains("rules.draft removed, previews show v2"), "{}", stdout(&again));
    let preview = rewrite_with_stdin(&["apply", "--rules", store_arg, "--draft"], Some(page));
    assert_eq!(stdout(&preview), "<body>V2</body>");
    assert!(stderr(&preview).contains("note: the store has no draft (rules.draft): previewing the live rules"));
}

/// Publishing onto a store whose live index is broken succeeds: the moment an operator most
/// needs to publish a fix.
#[test]
fn publishing_over_a_broken_live_index_succeeds_and_says_so() {
    let rules = one_rule_files(3);
    for broken in [r#"["10-gone"]"#, "not json"] {
        let store = production_store();
        let mut values = store_values(&store);
        values.insert("rules".into(), broken.into());
        std::fs::write(&store, serde_json::Value::Object(values).to_string()).unwrap();
        let args = ["publish", "--rules", rules.to_str().unwrap(), "--store-file", store.to_str().unwrap()];
        let dry = rewrite(&[&args[..], &["--dry-run"]].concat());
        assert!(dry.status.success(), "{broken}: {}{}", stdout(&dry), stderr(&dry));
        assert!(stdout(&dry).contains("(live now: an unreadable set ("), "{}", stdout(&dry));
        assert!(
            stdout(&dry).contains("the live rules could not be read: every rule counts as added"),
            "{}",
            stdout(&dry)
        );
        assert!(stdout(&dry).contains("rules: 3 added"), "{}", stdout(&dry));
        let done = rewrite(&args);
        assert!(done.status.success(), "{broken}: {}{}", stdout(&done), stderr(&done));
        assert_eq!(store_values(&store)["rules.previous"], broken, "the broken index is kept for the record");
        let applied = rewrite_with_stdin(&["apply", "--rules", store.to_str().unwrap()], Some(b"<body></body>"));
        assert_eq!(stdout(&applied), "<body><i>01</i><i>02</i><i>03</i></body>", "{}", stderr(&applied));
    }
}

/// A rule too long for any store value costs that rule, never its file's other rules.
#[test]
fn a_rule_too_long_for_a_store_value_costs_that_rule_only() {
    let big = format!(r#"{{"id":"big","selector":"p","actions":[{{"append":{{"text":"{}"}}}}]}}"#, "x".repeat(8_000));
    let ok = r#"{"id":"ok","selector":"p","actions":[{"append":{"text":"!"}}]}"#;
    let rules = rules_dir(&[("10-a.json", &format!("[{ok}, {big}]"))]);
    let applied = rewrite_with_stdin(&["apply", "--rules", rules.to_str().unwrap()], Some(b"<p>a</p>"));
    assert_eq!(applied.status.code(), Some(1));
    assert_eq!(stdout(&applied), "<p>a!</p>");
    assert!(stderr(&applied).contains("rule \"big\": the rule is 8"), "{}", stderr(&applied));
}

#[test]
fn validate_and_explain_print_each_rules_estimated_cpu() {
    let star: Vec<String> = (0..12)
        .map(|i| {
            format!(
                r#"{{"id":"star{i}","selector":"*","actions":[{{"set_attribute":{{"name":"d{i}","value":"1"}}}}]}}"#
            )
        })
        .collect();
    let dir = rules_dir(&[
        ("10-banner.json", r#"{"id":"banner","selector":"body","actions":[{"prepend":{"html":"<b>Sale</b>"}}]}"#),
        ("20-star.json", &format!("[{}]", star.join(","))),
    ]);
    let dir = dir.to_str().unwrap();
    let validate = rewrite(&["validate", dir]);
    let text = stdout(&validate);
    assert!(text.contains("banner [10-banner.json]: ") && text.contains("per MB of a typical page"), "{text}");
    assert!(text.contains("the set: ") && text.contains("it may cost 80 ms per MB"), "{text}");
    assert!(text.contains("page CPU budget") && text.contains("field `actions[0].set_attribute`"), "{text}");
    let json = rewrite(&["validate", "--format", "json", dir]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert!(report["cost"]["rules"][0]["ms_per_mb"].as_f64().is_some_and(|ms| ms > 0.0), "{report}");
    let page = std::env::temp_dir().join(format!("cost-page-{}.html", std::process::id()));
    std::fs::write(&page, "<html><body><p>x</p></body></html>").unwrap();
    let explain = stdout(&rewrite(&["explain", "--rules", dir, page.to_str().unwrap()]));
    assert!(explain.contains("estimated CPU") && explain.contains("star0 [20-star.json]: "), "{explain}");
}
