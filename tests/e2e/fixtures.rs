//! Laptop equals production: every fixture case, rewritten by the `rewrite` CLI and by the
//! service under Viceroy (the fixture origin serving the page), gives the same bytes.

#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use devstack::{Stack, project};
use edge_rewriter::store::{MemoryStore, read_rules_dir};
use serde_json::Value;

/// The cases as the CLI itself lists them.
fn cases() -> Vec<Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_rewrite"))
        .args(["check", "--list-json"])
        .current_dir(project::root())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice::<Vec<Value>>(&output.stdout).unwrap()
}

/// A case's request, split for HTTP: the URL, the headers, and its `@status` if any.
struct Simulated {
    url: String,
    headers: Vec<(String, String)>,
    status: Option<String>,
}

fn split_request(request: &str) -> Simulated {
    let mut lines = request.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#'));
    let first = lines.next().expect("a request line");
    let url = first.split_whitespace().nth(1).expect("METHOD URL").to_owned();
    let mut simulated = Simulated { url, headers: Vec::new(), status: None };
    for line in lines {
        if let Some(status) = line.strip_prefix("@status") {
            simulated.status = Some(status.trim().to_owned());
        } else if let Some((name, value)) = line.split_once(':').filter(|_| !line.starts_with('@')) {
            simulated.headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    simulated
}

#[test]
fn every_fixture_gives_the_same_bytes_through_the_cli_and_through_the_service() {
    let cases = cases();
    let total = cases.len();
    assert!(total >= 10);
    let mut by_rules: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for case in &cases {
        by_rules.entry(case["rules"].as_str().unwrap().to_owned()).or_default().push(case);
    }
    let scratch = devstack::viceroy::scratch_dir().unwrap();
    let mut compared = 0;
    for (rules, cases) in by_rules {
        let entries = read_rules_dir(&PathBuf::from(&rules)).unwrap();
        let stack = Stack::with_store_json(&MemoryStore::from_entries(&entries).unwrap().to_json()).unwrap();
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let simulated = split_request(case["request"].as_str().unwrap());
            let content_type = case["content_type"].as_str().unwrap();

            // Production: the service in front of the fixture origin, which serves the page.
            let rest = simulated.url.split_once("://").map_or(simulated.url.as_str(), |(_, rest)| rest);
            let (authority, path) = rest.find('/').map_or((rest, "/"), |slash| rest.split_at(slash));
            let mut request = stack
                .get(path)
                .header("Host", authority)
                .header("X-Fixture-File", case["page"].as_str().unwrap())
                .header("X-Fixture-Type", content_type);
            if let Some(status) = &simulated.status {
                request = request.header("X-Fixture-Status", status);
            }
            for (header, value) in &simulated.headers {
                request = request.header(header, value);
            }
            let response = request.send().unwrap();
            assert!(response.complete, "{name}: {:?}", response.failure);

            // Laptop: the CLI, told what Viceroy tells the service about the client: its address,
            // its country, and that it came over plain HTTP (what `{{origin}}` shows).
            let request_file = scratch.join(format!("{name}.request"));
            let mut spec = format!("GET {}\n", simulated.url.replacen("https://", "http://", 1));
            for (header, value) in &simulated.headers {
                spec.push_str(&format!("{header}: {value}\n"));
            }
            spec.push_str("@client-ip 127.0.0.1\n@country US\n");
            if let Some(status) = &simulated.status {
                spec.push_str(&format!("@status {status}\n"));
            }
            std::fs::write(&request_file, spec).unwrap();
            let cli = Command::new(env!("CARGO_BIN_EXE_rewrite"))
                .args(["apply", "--rules", &rules, "--content-type", content_type, "--request"])
                .arg(&request_file)
                .arg(case["page_file"].as_str().unwrap())
                .current_dir(project::root())
                .output()
                .unwrap();
            assert!(cli.status.success(), "{name}: {}", String::from_utf8_lossy(&cli.stderr));

            assert!(
                response.body == cli.stdout,
                "{name}: the service and the CLI differ\n service: {} bytes, CLI: {} bytes\n first difference at byte {:?}",
                response.body.len(),
                cli.stdout.len(),
                response.body.iter().zip(&cli.stdout).position(|(a, b)| a != b)
            );
            compared += 1;
        }
    }
    assert_eq!(compared, total, "every case compared");
}
