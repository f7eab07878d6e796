//! The guest's own speed and vCPU, two builds side by side in one run: each page is asked of
//! build A and build B in turn, and every figure is read from the service's JSON log line
//! (`bytes_in`, `ms.rewrite`, `vcpu_ms`), so origin and network time never count.
//!
//!     cargo run --release -p devstack --bin guest-bench -- A.wasm [B.wasm] [--rounds N]
//!         [--budget MS] [--kinds] [--pages NAME,NAME]
//!
//! Pages: the three corpus pages and a generated 5 MB page, with the standard set
//! (benches/standard-set.json); and the largest corpus page passed through untouched
//! (`Cache-Control: no-transform`). `--budget` is the CPU budget in `limits` (default 40,
//! its maximum, so that the budget stops as little as possible; 0 turns it off): a page
//! that still reaches it is rewritten up to there, and the per-MB figures count the bytes
//! rewritten.
//!
//! `--kinds` measures the standard set by rule kind instead, one set after another (the
//! builds alternated within each): the banner set alone (banner and head script), then with
//! the link rewrite, with the text rule, with `remove_comments`, and the whole set; then a
//! table of vCPU per MB for each, and what each kind adds to the banner set. `--pages`
//! keeps the pages whose names contain one of the words (`generate` for the 5 MB page).

use std::path::PathBuf;
use std::time::Duration;

use devstack::origin::{FixtureOrigin, query};
use devstack::viceroy::{ServiceConfig, Viceroy};
use devstack::{http, project};
use edge_rewriter::store::MemoryStore;

const STANDARD_SET: &str = include_str!("../../../benches/standard-set.json");

/// The rule sets `--kinds` measures: a name and the ids of the standard set's rules in it.
const KINDS: [(&str, &[&str]); 5] = [
    ("banner", &["banner", "analytics"]),
    ("+ link rewrite", &["banner", "analytics", "https"]),
    ("+ text rule", &["banner", "analytics", "cat"]),
    ("+ remove_comments", &["banner", "analytics", "comments"]),
    ("standard set", &["banner", "analytics", "https", "cat", "comments"]),
];

/// The columns of a page's rows: guest MB/s and rewrite ms per MB are medians, vCPU means.
const HEADER: &str = "page                          build   guest MB/s    vCPU ms   vCPU ms / MB  rewrite ms / MB";

/// One rewrite as its log line tells it.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    bytes_in: f64,
    rewrite_ms: f64,
    vcpu_ms: Option<f64>,
}

struct Options {
    rounds: usize,
    budget_ms: u64,
    kinds: bool,
    pages: Vec<String>,
    builds: Vec<PathBuf>,
}

fn options() -> Options {
    let mut options = Options { rounds: 9, budget_ms: 40, kinds: false, pages: Vec::new(), builds: Vec::new() };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| fail(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--rounds" => options.rounds = value().parse().unwrap_or_else(|_| fail("--rounds takes a number")),
            "--budget" => options.budget_ms = value().parse().unwrap_or_else(|_| fail("--budget takes milliseconds")),
            "--kinds" => options.kinds = true,
            "--pages" => options.pages = value().split(',').map(str::to_owned).collect(),
            "-h" | "--help" => {
                println!("{}", include_str!("guest-bench.rs").lines().take(19).collect::<Vec<_>>().join("\n"));
                std::process::exit(0);
            }
            wasm if !wasm.starts_with("--") => options.builds.push(PathBuf::from(wasm)),
            other => fail(&format!("unknown option {other:?} (--help lists them)")),
        }
    }
    if options.builds.is_empty() || options.builds.len() > 2 {
        fail("give one or two wasm files");
    }
    options
}

/// The standard set's rules with these ids, as a rules file.
fn subset(ids: &[&str]) -> String {
    let rules: Vec<serde_json::Value> = serde_json::from_str(STANDARD_SET).expect("the standard set is JSON");
    let kept: Vec<&serde_json::Value> =
        rules.iter().filter(|rule| ids.contains(&rule["id"].as_str().unwrap_or_default())).collect();
    assert_eq!(kept.len(), ids.len(), "the standard set has rules {ids:?}");
    serde_json::to_string(&kept).expect("rules serialize")
}

/// One Viceroy per build, each with `rules` and the CPU budget.
fn start(builds: &[PathBuf], origin: &FixtureOrigin, rules: &str, budget_ms: u64) -> Vec<Viceroy> {
    let mut values = MemoryStore::from_entries(&[("bench".into(), rules.into())]).unwrap().values().clone();
    values.insert("limits".into(), format!(r#"{{"cpu_budget_ms": {budget_ms}}}"#));
    let store = MemoryStore::new(values).to_json();
    builds
        .iter()
        .map(|wasm| {
            let config = ServiceConfig { wasm: wasm.clone(), ..ServiceConfig::new(&origin.url()) };
            Viceroy::start(&config.with_store_json(&store).unwrap()).unwrap()
        })
        .collect()
}

fn main() {
    let options = options();
    let corpus = project::corpus().unwrap_or_else(|| fail("the shared corpus (../shared/corpus) is missing"));
    let pages = corpus.join("pages");
    let origin = FixtureOrigin::start(&pages).unwrap();
    let mut names: Vec<String> = project::corpus_pages().into_iter().map(|(name, _)| name).collect();
    names.push("generate".to_owned());
    if !options.pages.is_empty() {
        names.retain(|name| options.pages.iter().any(|word| name.contains(word.as_str())));
    }
    let budget = if options.budget_ms == 0 { "off".to_owned() } else { format!("{} ms", options.budget_ms) };
    println!("guest-bench: {} rounds, builds alternated; medians; CPU budget {budget}", options.rounds);
    for (index, wasm) in options.builds.iter().enumerate() {
        println!("  {}: {}", letter(index), wasm.display());
    }
    if options.kinds {
        by_kind(&options, &origin, &names);
        return;
    }
    let services = start(&options.builds, &origin, STANDARD_SET, options.budget_ms);
    println!("\n{}", HEADER);
    for name in &names {
        let per_build = measure(&services, &page_path(name), options.rounds);
        report(page_label(name), &per_build);
    }
    let big = names
        .iter()
        .filter(|n| !n.starts_with("generate"))
        .max_by_key(|n| std::fs::metadata(pages.join(n)).map(|m| m.len()).unwrap_or(0));
    if let Some(big) = big {
        let path = format!("/{big}{}", query(&[("header", "Cache-Control: no-transform")]));
        for (index, service) in services.iter().enumerate() {
            let mut vcpu = Vec::new();
            for _ in 0..options.rounds {
                let before = service.wait_for_lines("\"event\":\"pass\"", 0, Duration::ZERO).len();
                let response = http::get(&service.url(&path)).keep(0).send().unwrap();
                assert!(response.complete);
                let lines = service.wait_for_lines("\"event\":\"pass\"", before + 1, Duration::from_secs(10));
                vcpu.extend(lines.last().and_then(|line| number(line, "\"vcpu_ms\":")));
            }
            let label = format!("{big} passed through");
            let median = median(&mut vcpu);
            println!("{label:<28} {:>6} {:>12} {:>10}", letter(index), "-", fmt(median));
        }
    }
}

/// `--kinds`: each rule set in turn, then vCPU per MB by set and what each kind adds.
fn by_kind(options: &Options, origin: &FixtureOrigin, names: &[String]) {
    // per kind, per page, per build: median vCPU ms per MB
    let mut table: Vec<Vec<Vec<Option<f64>>>> = Vec::new();
    for (kind, ids) in KINDS {
        println!("\n{kind} ({})", ids.join(", "));
        println!("{}", HEADER);
        let services = start(&options.builds, origin, &subset(ids), options.budget_ms);
        let mut rows = Vec::new();
        for name in names {
            let per_build = measure(&services, &page_path(name), options.rounds);
            rows.push(report(page_label(name), &per_build));
        }
        table.push(rows);
    }
    println!("\nrewrite ms per MB by rule kind (what a kind adds: its set less the banner set)");
    print!("{:<28} {:>6}", "page", "build");
    for (kind, _) in KINDS {
        print!(" {kind:>18}");
    }
    println!();
    for (page, name) in names.iter().enumerate() {
        for build in 0..options.builds.len() {
            print!("{:<28} {:>6}", page_label(name), letter(build));
            let banner = table[0][page][build];
            for (kind, rows) in table.iter().enumerate() {
                let own = rows[page][build];
                let cell = match (kind, own, banner) {
                    (0, Some(own), _) => format!("{own:.1}"),
                    (_, Some(own), Some(banner)) => format!("{own:.1} (+{:.1})", own - banner),
                    _ => "-".to_owned(),
                };
                print!(" {cell:>18}");
            }
            println!();
        }
    }
}

fn page_path(name: &str) -> String {
    if name.starts_with("generate") { "/generate?bytes=5000000".to_owned() } else { format!("/{name}") }
}

fn page_label(name: &str) -> &str {
    if name.starts_with("generate") { "generated 5 MB" } else { name }
}

fn letter(index: usize) -> char {
    (b'A' + index as u8) as char
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

/// Prints a page's row per build (and B / A); returns each build's median rewrite ms per MB.
///
/// `vcpu_ms` has a resolution of 1 ms (a 116 KB page reads 1 or 2), so its per-MB figure is
/// the mean over the rounds; `ms.rewrite` (the rewrite's own time, 10 µs steps, the same clock
/// as vCPU under Viceroy) gives the precise one, the median.
fn report(label: &str, per_build: &[Vec<Figures>]) -> Vec<Option<f64>> {
    let mut medians = Vec::new();
    for (index, figures) in per_build.iter().enumerate() {
        let mut mb_s: Vec<f64> = figures.iter().map(|f| f.bytes_in / 1e6 / (f.rewrite_ms / 1e3)).collect();
        let vcpu: Vec<f64> = figures.iter().filter_map(|f| f.vcpu_ms).collect();
        let vcpu_per_mb: Vec<f64> =
            figures.iter().filter_map(|f| f.vcpu_ms.map(|ms| ms / (f.bytes_in / 1e6))).collect();
        let mut rewrite_per_mb: Vec<f64> = figures.iter().map(|f| f.rewrite_ms / (f.bytes_in / 1e6)).collect();
        let per_mb = median(&mut rewrite_per_mb);
        medians.push(per_mb);
        println!(
            "{label:<28} {:>6} {:>12} {:>10} {:>14} {:>16}",
            letter(index),
            fmt(median(&mut mb_s)),
            fmt(mean(&vcpu)),
            fmt(mean(&vcpu_per_mb)),
            fmt(per_mb)
        );
    }
    if let [Some(a), Some(b)] = [medians.first().copied().flatten(), medians.get(1).copied().flatten()] {
        println!(
            "{:<28} {:>6} {:>12} {:>10} {:>14} {:>16}",
            "",
            "B / A",
            format!("{:.2}x", a / b),
            "",
            "",
            format!("{:.2}x", b / a)
        );
    }
    medians
}

fn number(line: &str, key: &str) -> Option<f64> {
    let rest = &line[line.find(key)? + key.len()..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

fn median(values: &mut Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    values.sort_by(|a, b| a.total_cmp(b));
    (!values.is_empty()).then(|| values[values.len() / 2])
}

fn fmt(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
}

fn fail(message: &str) -> ! {
    eprintln!("guest-bench: {message}");
    std::process::exit(1);
}
