//! The guest's own speed and vCPU, two builds side by side in one run: each page is asked of
//! build A and build B in turn, and every figure is read from the service's JSON log line
//! (`bytes_in`, `ms.rewrite`, `vcpu_ms`), so origin and network time never count.
//!
//!     cargo run --release -p devstack --bin guest-bench -- A.wasm [B.wasm] [--rounds N]
//!
//! Pages: the three corpus pages and a generated 5 MB page, with the standard set
//! (benches/standard-set.json); and the largest corpus page passed through untouched
//! (`Cache-Control: no-transform`). `limits` raises the CPU budget to its maximum (40 ms) so
//! that the budget stops as little as possible; a page that still reaches it is rewritten
//! up to there, and the per-MB figures count the bytes rewritten.

use std::path::PathBuf;
use std::time::Duration;

use devstack::origin::{FixtureOrigin, query};
use devstack::viceroy::{ServiceConfig, Viceroy};
use devstack::{http, project};
use edge_rewriter::MemoryStore;

const STANDARD_SET: &str = include_str!("../../../benches/standard-set.json");

/// One rewrite as its log line tells it.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    bytes_in: f64,
    rewrite_ms: f64,
    vcpu_ms: Option<f64>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds = args
        .iter()
        .position(|arg| arg == "--rounds")
        .and_then(|at| args.get(at + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(9);
    let builds: Vec<PathBuf> = args.iter().take_while(|arg| !arg.starts_with("--")).map(PathBuf::from).collect();
    assert!(!builds.is_empty(), "give one or two wasm files");
    let corpus = project::corpus().expect("the corpus pages");
    let pages = corpus.join("pages");
    let origin = FixtureOrigin::start(&pages).unwrap();
    let mut values = MemoryStore::from_entries(&[("standard".into(), STANDARD_SET.into())]).unwrap().values().clone();
    values.insert("limits".into(), r#"{"cpu_budget_ms": 40}"#.into());
    let store = MemoryStore::new(values).to_json();
    let services: Vec<Viceroy> = builds
        .iter()
        .map(|wasm| {
            let config = ServiceConfig { wasm: wasm.clone(), ..ServiceConfig::new(&origin.url()) };
            Viceroy::start(&config.with_store_json(&store).unwrap()).unwrap()
        })
        .collect();
    let mut names: Vec<String> = project::corpus_pages().into_iter().map(|(name, _)| name).collect();
    names.push("generate".to_owned());
    println!("guest-bench: {rounds} rounds, builds alternated; medians");
    for (index, wasm) in builds.iter().enumerate() {
        println!("  {}: {}", (b'A' + index as u8) as char, wasm.display());
    }
    println!("\n{:<28} {:>10} {:>12} {:>12} {:>14}", "page", "build", "guest MB/s", "vCPU ms", "vCPU ms / MB");
    for name in &names {
        let path = if name.starts_with("generate") { "/generate?bytes=5000000".to_owned() } else { format!("/{name}") };
        let label = if name.starts_with("generate") { "generated 5 MB" } else { name.as_str() };
        let per_build = measure(&services, &path, rounds);
        report(label, &per_build);
    }
    let big = names
        .iter()
        .filter(|n| !n.starts_with("generate"))
        .max_by_key(|n| std::fs::metadata(pages.join(n)).map(|m| m.len()).unwrap_or(0));
    if let Some(big) = big {
        let path = format!("/{big}{}", query(&[("header", "Cache-Control: no-transform")]));
        for (index, service) in services.iter().enumerate() {
            let mut vcpu = Vec::new();
            for _ in 0..rounds {
                let before = service.wait_for_lines("\"event\":\"pass\"", 0, Duration::ZERO).len();
                let response = http::get(&service.url(&path)).keep(0).send().unwrap();
                assert!(response.complete);
                let lines = service.wait_for_lines("\"event\":\"pass\"", before + 1, Duration::from_secs(10));
                vcpu.extend(lines.last().and_then(|line| number(line, "\"vcpu_ms\":")));
            }
            let label = format!("{big} passed through");
            let median = median(&mut vcpu);
            println!("{label:<28} {:>10} {:>12} {:>12} {:>14}", (b'A' + index as u8) as char, "-", fmt(median), "-");
        }
    }
}

/// `rounds` requests for `path` to each service in turn.
fn measure(services: &[Viceroy], path: &str, rounds: usize) -> Vec<Vec<Figures>> {
    let mut figures = vec![Vec::new(); services.len()];
    for _ in 0..rounds {
        for (index, service) in services.iter().enumerate() {
            let before = service.wait_for_lines("\"event\":\"rewrite\"", 0, Duration::ZERO).len();
            let response = http::get(&service.url(path)).keep(0).send().unwrap();
            assert!(response.complete && response.status == 200, "{path}: {:?}", response.failure);
            let lines = service.wait_for_lines("\"event\":\"rewrite\"", before + 1, Duration::from_secs(10));
            let line = lines.last().expect("a log line");
            figures[index].push(Figures {
                bytes_in: number(line, "\"bytes_in\":").unwrap_or(0.0),
                rewrite_ms: number(line, "\"rewrite\":").unwrap_or(f64::NAN),
                vcpu_ms: number(line, "\"vcpu_ms\":"),
            });
        }
    }
    figures
}

fn report(label: &str, per_build: &[Vec<Figures>]) {
    let mut speeds = Vec::new();
    for (index, figures) in per_build.iter().enumerate() {
        let mut mb_s: Vec<f64> = figures.iter().map(|f| f.bytes_in / 1e6 / (f.rewrite_ms / 1e3)).collect();
        let mut vcpu: Vec<f64> = figures.iter().filter_map(|f| f.vcpu_ms).collect();
        let mut per_mb: Vec<f64> = figures.iter().filter_map(|f| f.vcpu_ms.map(|ms| ms / (f.bytes_in / 1e6))).collect();
        let speed = median(&mut mb_s);
        speeds.push(speed);
        println!(
            "{label:<28} {:>10} {:>12} {:>12} {:>14}",
            (b'A' + index as u8) as char,
            fmt(speed),
            fmt(median(&mut vcpu)),
            fmt(median(&mut per_mb))
        );
    }
    if let [Some(a), Some(b)] = [speeds.first().copied().flatten(), speeds.get(1).copied().flatten()] {
        println!("{:<28} {:>10} {:>12}", "", "B / A", format!("{:.2}x", b / a));
    }
}

fn number(line: &str, key: &str) -> Option<f64> {
    let rest = &line[line.find(key)? + key.len()..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

fn median(values: &mut Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    values.sort_by(|a, b| a.total_cmp(b));
    (!values.is_empty()).then(|| values[values.len() / 2])
}

fn fmt(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
}
