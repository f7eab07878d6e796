//! CPU is the budget, end to end through Viceroy: a page that would take more vCPU than the
//! `limits` allow is rewritten up to the budget and the rest is handed to the host unread,
//! identity or gzip; an instance stops taking requests once it has used half the budget.
//!
//! Viceroy measures guest vCPU but never enforces a limit (Fastly stops an execution at
//! 50 ms), so these tests read the service's own log line: `vcpu_ms`, `bytes_in`, `bail_out`.
//! Viceroy counts the wall-clock time the guest runs, host copies inside hostcalls included:
//! scripts/test runs these tests on their own, one at a time, after the rest, so that other
//! tests' load does not count as this guest's vCPU.

#![cfg(not(target_arch = "wasm32"))]

use std::time::Duration;

use devstack::Stack;
use devstack::origin::query;
use edge_rewriter::{MemoryStore, read_rules_dir};

const BANNER: &str = "<div class=\"edge-banner\" role=\"note\">";
const PAGE_BYTES: u64 = 5_000_000;

/// The repository's rules with a CPU budget of `ms`.
fn stack_with_budget(ms: u64) -> Stack {
    let entries = read_rules_dir(&devstack::project::root().join("rules/live")).unwrap();
    let mut values = MemoryStore::from_entries(&entries).unwrap().values().clone();
    values.insert("limits".into(), format!(r#"{{"cpu_budget_ms": {ms}}}"#));
    Stack::with_store_json(&MemoryStore::new(values).to_json()).unwrap()
}

fn rewrite_line(stack: &Stack, count: usize) -> serde_json::Value {
    let lines = stack.service.wait_for_json("\"event\":\"rewrite\"", count, Duration::from_secs(10));
    lines.get(count - 1).cloned().unwrap_or_else(|| panic!("{:?}", stack.service.output()))
}

/// A page far over the budget is rewritten up to it, and the rest comes unchanged.
fn big_page_within_budget(extra: &[(&str, &str)]) {
    let budget = 40;
    let stack = stack_with_budget(budget);
    let mut params = vec![("bytes", "5000000")];
    params.extend_from_slice(extra);
    let path = format!("/generate{}", query(&params));
    let response = stack.get(&path).keep(usize::MAX).send().unwrap();
    assert_eq!(response.status, 200);
    assert!(response.complete, "a complete page, never cut: {:?}", response.failure);
    let text = response.text();
    assert!(text.contains(BANNER), "rewritten at the start (the rules compile well within the budget)");
    let original = stack.get_from_origin(&format!("/generate{}", query(&[("bytes", "5000000")]))).keep(usize::MAX);
    let original = original.send().unwrap().text();
    assert!(text.len() > original.len(), "nothing lost: {} of {} bytes", text.len(), original.len());
    let tail = &original[original.len() - 100_000..];
    assert!(text.ends_with(tail), "the rest passes through unchanged");

    let line = rewrite_line(&stack, 1);
    println!("{line}");
    assert!(line["bail_out"].as_str().is_some_and(|why| why.contains("CPU budget")), "{line}");
    assert_eq!(line["outcome"], "complete");
    let bytes_in = line["bytes_in"].as_u64().unwrap();
    assert!(bytes_in < PAGE_BYTES / 2, "the guest read {bytes_in} bytes: the rest was spliced by the host");
    // The guest's own work stops at the budget, give or take one read's worth; the host's
    // splice of the rest comes on top under Viceroy, which counts hostcall time as the guest's.
    let rewrite = line["vcpu_ms_rewrite"].as_u64().unwrap();
    assert!(rewrite <= budget + 15, "{rewrite} ms of vCPU rewriting for a {budget} ms budget");
    assert!(line["vcpu_ms"].as_u64().unwrap() >= rewrite);
}

#[test]
fn a_page_over_the_cpu_budget_is_rewritten_up_to_it_and_the_rest_spliced() {
    big_page_within_budget(&[]);
}

#[test]
fn a_gzip_page_is_decoded_by_the_host_and_spliced_the_same_way() {
    big_page_within_budget(&[("gzip", "1")]);
}

#[test]
fn an_instance_stops_taking_requests_at_half_its_budget() {
    // A budget a 5 MB page uses up: its instance takes no further request.
    let stack = stack_with_budget(20);
    let first = stack.get("/generate?bytes=5000000").keep(0).send().unwrap();
    assert!(first.complete);
    let stopped = stack.service.wait_for_lines("takes no further request", 1, Duration::from_secs(10));
    assert!(stopped[0].contains("half or more of its 20 ms budget"), "{stopped:?}");
    // Small pages under the default-sized test budget share an instance.
    let stack = Stack::start().unwrap();
    for _ in 0..3 {
        assert!(stack.get("/news/article.html").send().unwrap().complete);
    }
    let heaps = stack.service.wait_for_heap_reports(1, Duration::from_secs(10));
    assert_eq!(heaps.len(), 1, "three requests, one instance");
    let lines: Vec<serde_json::Value> = (1..=3).map(|n| rewrite_line(&stack, n)).collect();
    assert!(lines.iter().all(|line| line["vcpu_ms"].as_u64().is_some()), "{lines:?}");
}

#[test]
fn vcpu_is_in_the_log_line_and_in_server_timing() {
    let stack = Stack::start().unwrap();
    let response = stack
        .get("/news/article.html")
        .header("x-edge-rewriter-debug", "1")
        .header("x-edge-rewriter-token", "local-preview-token")
        .send()
        .unwrap();
    let timing = response.header("server-timing").unwrap();
    assert!(timing.contains("vcpu;dur="), "{timing}");
    let line = rewrite_line(&stack, 1);
    assert!(line["vcpu_ms"].as_u64().is_some() && line["cpu_budget_ms"].as_u64() == Some(0), "{line}");
    // HTML passed through gets a line of its own, with its vCPU.
    let untouched = stack.get(&format!("/news/article.html{}", query(&[("header", "Cache-Control: no-transform")])));
    assert!(untouched.send().unwrap().complete);
    let pass = stack.service.wait_for_lines("\"event\":\"pass\"", 1, Duration::from_secs(5));
    assert!(pass[0].contains("\"vcpu_ms\":") && pass[0].contains("no-transform"), "{pass:?}");
}
