//! What editors do, through the service under Viceroy: try a rule in shadow mode on live
//! traffic, publish a rule set (to a store file standing in for the Fastly store) and roll it
//! back, and see the version in every log line.

#![cfg(not(target_arch = "wasm32"))]

use devstack::{Stack, project};
use edge_rewriter::store::{MemoryStore, read_rules_dir};

use crate::common::rewrite_logs;

/// The repository's rules as a store, with `extra` entries after them.
fn repo_rules_with(extra: &[(&str, &str)]) -> String {
    let mut entries = read_rules_dir(&project::root().join("rules/live")).unwrap();
    entries.extend(extra.iter().map(|(name, text)| (name.to_string(), text.to_string())));
    MemoryStore::from_entries(&entries).unwrap().to_json()
}

#[test]
fn shadow_rules_are_counted_on_live_traffic_and_change_nothing() {
    let trial = r#"[
        {"id": "trial-no-byline", "mode": "shadow", "selector": ".byline", "actions": ["remove"]},
        {"id": "trial-parliament", "mode": "shadow", "actions": [{"replace_text": {"find": "council", "replace": "parliament"}}]},
        {"id": "trial-no-comments", "mode": "shadow", "actions": ["remove_comments"]}
    ]"#;
    let with_trial = Stack::with_store_json(&repo_rules_with(&[("90-trial", trial)])).unwrap();
    let without = Stack::with_store_json(&repo_rules_with(&[])).unwrap();
    // One host for both: the share link prints the origin the client used ({{origin}}).
    let tried = with_trial.get("/news/article.html").header("Host", "www.example.com").send().unwrap();
    let plain = without.get("/news/article.html").header("Host", "www.example.com").send().unwrap();
    assert!(tried.complete && plain.complete);
    assert!(tried.text().contains("class=\"byline\"") && tried.text().contains("City council approves"));
    assert_eq!(tried.body, plain.body, "the shadow rules changed nothing on the page");

    let line = &rewrite_logs(&with_trial.service, 1)[0];
    assert_eq!(line["shadow_hits"]["trial-no-byline"], 1, "{line}");
    assert_eq!(line["shadow_hits"]["trial-parliament"], 3, "title, heading and text: {line}");
    assert_eq!(line["shadow_hits"]["trial-no-comments"], 0, "{line}");
    assert!(line["hits"].get("trial-no-byline").is_none(), "shadow hits are apart from hits: {line}");
    assert_eq!(line["hits"]["sale-banner"], 1, "{line}");
}

/// Runs the `rewrite` CLI from the repository root.
fn rewrite(args: &[&str]) -> std::process::Output {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rewrite"))
        .args(args)
        .current_dir(project::root())
        .output()
        .unwrap();
    assert!(output.status.success(), "rewrite {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

/// The article through a service whose rules store is `store`, and its log line.
fn article_through(store: &std::path::Path) -> (String, serde_json::Value) {
    let stack = Stack::with_store_json(&std::fs::read_to_string(store).unwrap()).unwrap();
    let response = stack.get("/news/article.html").send().unwrap();
    assert!(response.complete, "{:?}", response.failure);
    (response.text(), rewrite_logs(&stack.service, 1).remove(0))
}

#[test]
fn a_publish_goes_live_with_its_version_in_the_log_and_a_rollback_brings_the_old_rules_back() {
    let scratch = devstack::viceroy::scratch_dir().unwrap();
    let store = scratch.join("production.json");
    std::fs::copy(project::rules_store(), &store).unwrap();
    let rules = scratch.join("live");
    std::fs::create_dir_all(&rules).unwrap();
    for (name, text) in read_rules_dir(&project::root().join("rules/live")).unwrap() {
        std::fs::write(rules.join(format!("{name}.json")), text).unwrap();
    }
    let publish = ["publish", "--rules", rules.to_str().unwrap(), "--store-file", store.to_str().unwrap()];
    rewrite(&publish);
    let banner = rules.join("10-sale-banner.json");
    std::fs::write(&banner, std::fs::read_to_string(&banner).unwrap().replace("Winter sale", "Spring sale")).unwrap();
    rewrite(&publish);

    let (page, line) = article_through(&store);
    assert!(page.contains("Spring sale") && !page.contains("Winter sale"), "v2 is live");
    assert_eq!(line["rules_version"], "v2", "{line}");
    assert_eq!(line["rule_errors"], 0, "{line}");

    rewrite(&["rollback", "--store-file", store.to_str().unwrap()]);
    let (page, line) = article_through(&store);
    assert!(page.contains("Winter sale") && !page.contains("Spring sale"), "v1 is live again");
    assert_eq!(line["rules_version"], "v1", "{line}");
}

#[test]
fn the_local_demo_links_work_on_its_port_and_every_page_shows_the_styled_banner() {
    let stack = Stack::start().unwrap();
    // `{{origin}}` keeps the scheme and port the client used: the share link works locally.
    let article = stack.get("/news/article.html").send().unwrap().text();
    let own_url = stack.service.url("/news/article.html");
    assert!(article.contains(&format!("<a href=\"{own_url}\">")), "the share link leads back here: {article}");
    // The home page lists the demo pages; each is served, styled, and links back home.
    let home = stack.get("/").send().unwrap().text();
    let listed = home.split("<h2>Demo pages</h2>").nth(1).and_then(|rest| rest.split("</ul>").next()).unwrap();
    let pages: Vec<&str> = listed.split("<li><a href=\"").skip(1).filter_map(|item| item.split('"').next()).collect();
    assert!(pages.len() >= 9, "{pages:?}");
    for page in pages {
        let response = stack.get(page).send().unwrap();
        assert_eq!(response.status, 200, "{page}");
        let text = String::from_utf8_lossy(&response.body).into_owned();
        assert!(text.contains("<div class=\"edge-banner\" role=\"note\">"), "{page}: the banner");
        assert!(text.contains("<style>.edge-banner{"), "{page}: the banner's style comes with it");
        assert!(text.contains("<a href=\"/\">All demo pages</a>"), "{page}: a way back to the list");
    }
}

/// Twenty one-rule files in a scratch rules directory, each appending its marker to `<body>`.
fn twenty_rule_files(scratch: &std::path::Path) -> std::path::PathBuf {
    let rules = scratch.join("twenty");
    std::fs::create_dir_all(&rules).unwrap();
    for i in 1..=20 {
        let rule = format!(
            r#"{{"id": "rule-{i:02}", "selector": "body", "actions": [{{"append": {{"html": "<i class=\"m\">{i:02}</i>"}}}}]}}"#
        );
        std::fs::write(rules.join(format!("{:03}-rule.json", i * 5)), rule).unwrap();
    }
    rules
}

/// The markers of [`twenty_rule_files`] a page holds, in page order.
fn markers(page: &str) -> Vec<String> {
    page.split("<i class=\"m\">").skip(1).filter_map(|rest| rest.split("</i>").next()).map(str::to_owned).collect()
}

/// One file per rule, as editors keep them: twenty files are published (packed into one
/// entry) and the service applies all twenty, where one entry per file would have stopped
/// at thirteen.
#[test]
fn twenty_one_rule_files_published_are_all_applied_at_the_edge() {
    let scratch = devstack::viceroy::scratch_dir().unwrap();
    let store = scratch.join("production.json");
    std::fs::copy(project::rules_store(), &store).unwrap();
    let rules = twenty_rule_files(&scratch);
    rewrite(&["publish", "--rules", rules.to_str().unwrap(), "--store-file", store.to_str().unwrap()]);
    let (page, line) = article_through(&store);
    let expected: Vec<String> = (1..=20).map(|i| format!("{i:02}")).collect();
    assert_eq!(markers(&page), expected, "every rule, in file order");
    assert_eq!(line["rule_errors"], 0, "{line}");
    assert_eq!(line["rules_version"], "v1", "{line}");
}

/// A store whose live index names an entry it does not hold is published over, and then
/// serves the new rules.
#[test]
fn a_publish_over_a_broken_live_index_is_served() {
    let scratch = devstack::viceroy::scratch_dir().unwrap();
    let store = scratch.join("production.json");
    let mut values: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(project::rules_store()).unwrap()).unwrap();
    values.insert("rules".into(), r#"["10-deleted-by-hand"]"#.into());
    std::fs::write(&store, serde_json::Value::Object(values).to_string()).unwrap();
    let rules = twenty_rule_files(&scratch);
    rewrite(&["publish", "--rules", rules.to_str().unwrap(), "--store-file", store.to_str().unwrap()]);
    let (page, line) = article_through(&store);
    assert_eq!(markers(&page).len(), 20, "{page}");
    assert_eq!(line["rule_errors"], 0, "{line}");
}
