//! Where the guest spends its time: a page rewritten by the release service under Viceroy's
//! guest profiler, and the functions with the most samples, by self and by inclusive time.
//! Two builds side by side when given two wasm files. Run through `scripts/profile`.
//!
//!     guest-profile [--page PATH] [--rules FILE] [--requests N] [--top N] [--interval 20us] A.wasm [B.wasm]
//!
//! `--page`: a path on the fixture origin, which serves the corpus pages (`/ebay.html`) and
//! generated ones (`/generate?bytes=5000000`, the default); `--rules`: a rules file (a rule or
//! a list, as in rules/live; default benches/standard-set.json). The CPU budget is off, so
//! the whole page is profiled. Each request is a fresh instance's first (compiling the rules
//! counts, as on Fastly). The profiles stay in target/devstack for profiler.firefox.com.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use devstack::origin::FixtureOrigin;
use devstack::profile::{Profile, short_name};
use devstack::viceroy::{ServiceConfig, Viceroy, scratch_dir};
use devstack::{http, project};
use edge_rewriter::store::MemoryStore;

const STANDARD_SET: &str = include_str!("../../../benches/standard-set.json");

struct Options {
    page: String,
    rules: String,
    requests: usize,
    top: usize,
    interval: String,
    builds: Vec<PathBuf>,
}

fn options() -> Options {
    let mut options = Options {
        page: "/generate?bytes=5000000".into(),
        rules: STANDARD_SET.into(),
        requests: 3,
        top: 25,
        interval: "20us".into(),
        builds: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| fail(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--page" => options.page = value(),
            "--rules" => {
                let path = value();
                options.rules = std::fs::read_to_string(&path).unwrap_or_else(|err| fail(&format!("{path}: {err}")));
            }
            "--requests" => options.requests = value().parse().unwrap_or_else(|_| fail("--requests takes a number")),
            "--top" => options.top = value().parse().unwrap_or_else(|_| fail("--top takes a number")),
            "--interval" => options.interval = value(),
            "-h" | "--help" => {
                println!("{}", include_str!("guest-profile.rs").lines().take(11).collect::<Vec<_>>().join("\n"));
                std::process::exit(0);
            }
            wasm if !wasm.starts_with("--") => options.builds.push(PathBuf::from(wasm)),
            other => fail(&format!("unknown option {other:?} (--help lists them)")),
        }
    }
    if options.builds.is_empty() || options.builds.len() > 2 {
        fail("give one or two wasm files");
    }
    if !options.page.starts_with('/') {
        options.page.insert(0, '/');
    }
    options
}

fn main() {
    let options = options();
    let corpus = project::corpus().unwrap_or_else(|| fail("the shared corpus (../shared/corpus) is missing"));
    let origin = FixtureOrigin::start(corpus.join("pages")).unwrap_or_else(|err| fail(&err.to_string()));
    let mut values = MemoryStore::from_entries(&[("profiled".into(), options.rules.clone())])
        .unwrap_or_else(|err| fail(&format!("the rules: {err}")))
        .values()
        .clone();
    values.insert("limits".into(), r#"{"cpu_budget_ms": 0}"#.into());
    let store = MemoryStore::new(values).to_json();

    let mut profiles = Vec::new();
    println!(
        "guest-profile: {} ({} requests each, a sample every {})",
        options.page, options.requests, options.interval
    );
    for (index, wasm) in options.builds.iter().enumerate() {
        let label = (b'A' + index as u8) as char;
        let dir = scratch_dir().unwrap_or_else(|err| fail(&err.to_string())).join(format!("profile-{label}"));
        std::fs::create_dir_all(&dir).unwrap_or_else(|err| fail(&err.to_string()));
        let (profile, vcpu) = profile_build(&options, wasm, &origin.url(), &store, &dir);
        println!(
            "  {label}: {} -> {} samples, median guest vCPU {} ms per request; profiles in {}",
            wasm.display(),
            profile.samples,
            vcpu.map_or("-".into(), |ms| format!("{ms:.1}")),
            dir.display()
        );
        profiles.push(profile);
    }
    print_crates(&profiles);
    for by_self in [true, false] {
        print_table(&profiles, options.top, by_self);
    }
}

/// Self time per crate, every build side by side.
fn print_crates(profiles: &[Profile]) {
    let per_build: Vec<Vec<(String, f64)>> = profiles.iter().map(Profile::by_crate).collect();
    let mut crates: Vec<&str> = Vec::new();
    for (name, _) in per_build.iter().flatten() {
        if !crates.contains(&name.as_str()) {
            crates.push(name);
        }
    }
    println!(
        "
self time by crate, % of each build's samples"
    );
    println!("{}  crate", header(profiles.len()));
    for name in crates.into_iter().take(12) {
        let row: String = per_build
            .iter()
            .map(|crates| crates.iter().find(|(c, _)| c == name).map_or(0.0, |(_, share)| *share))
            .map(|share| format!("{share:>8.1}%"))
            .collect();
        println!("{row}  {name}");
    }
}

fn header(builds: usize) -> String {
    (0..builds).map(|i| format!("{:>9}", (b'A' + i as u8) as char)).collect()
}

/// Runs the requests against one build and sums its profiles; also the median vCPU.
fn profile_build(options: &Options, wasm: &Path, origin: &str, store: &str, dir: &Path) -> (Profile, Option<f64>) {
    let config = ServiceConfig {
        wasm: wasm.to_owned(),
        guest_profile: Some((dir.to_owned(), options.interval.clone())),
        ..ServiceConfig::new(origin)
    };
    let config = config.with_store_json(store).unwrap_or_else(|err| fail(&err.to_string()));
    let service = Viceroy::start(&config).unwrap_or_else(|err| fail(&err.to_string()));
    let mut vcpu = Vec::new();
    for _ in 0..options.requests {
        let before = service.wait_for_json("\"event\":\"rewrite\"", 0, Duration::ZERO).len();
        let response =
            http::get(&service.url(&options.page)).keep(0).send().unwrap_or_else(|err| fail(&err.to_string()));
        if !response.complete || response.status != 200 {
            fail(&format!("{}: status {}, {:?}", options.page, response.status, response.failure));
        }
        let lines = service.wait_for_json("\"event\":\"rewrite\"", before + 1, Duration::from_secs(30));
        vcpu.extend(lines.last().and_then(|line| line["vcpu_ms"].as_f64()));
    }
    // Viceroy writes a request's profile when its instance ends, shortly after the response.
    let deadline = Instant::now() + Duration::from_secs(30);
    let files = loop {
        let files = profile_files(dir);
        if files.len() >= options.requests || Instant::now() > deadline {
            break files;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(service);
    let mut total = Profile::default();
    for file in &files {
        match Profile::read(file) {
            Ok(profile) => total.add(&profile),
            Err(err) => eprintln!("guest-profile: skipped {err}"),
        }
    }
    vcpu.sort_by(f64::total_cmp);
    (total, vcpu.get(vcpu.len() / 2).copied())
}

fn profile_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The top functions of the first build (or of both, merged), each with its share in every
/// build, in percent of that build's samples.
fn print_table(profiles: &[Profile], top: usize, by_self: bool) {
    let what = if by_self { "self" } else { "inclusive" };
    let mut names: Vec<&str> = Vec::new();
    for profile in profiles {
        for name in profile.top(top, by_self) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    let key = |name: &str| {
        profiles.iter().map(|p| if by_self { p.share(name).0 } else { p.share(name).1 }).fold(0.0, f64::max)
    };
    names.sort_by(|a, b| key(b).total_cmp(&key(a)));
    names.truncate(top);
    println!("\ntop {top} functions by {what} time, % of each build's samples");
    println!("{}  function", header(profiles.len()));
    for name in names {
        let row: String = profiles
            .iter()
            .map(|p| {
                let (own, inclusive) = p.share(name);
                format!("{:>8.1}%", if by_self { own } else { inclusive })
            })
            .collect();
        println!("{row}  {}", short_name(name, 110));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("guest-profile: {message}");
    std::process::exit(1);
}
