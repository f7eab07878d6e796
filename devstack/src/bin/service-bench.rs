//! The service under Viceroy, measured: heap per request by body size, time to first byte,
//! requests per second rewriting against passing through, the guest's own rewrite speed,
//! and nginx's `sub_filter` on the same page for comparison. Run by `scripts/bench`.
//!
//!     cargo run --release -p devstack --bin service-bench [-- --quick] [--cache] [--includes]

use std::process::{Child, Command};
use std::time::Duration;

use devstack::http::HttpResponse;
use devstack::load::{self, LoadReport, Target};
use devstack::origin::{FixtureOrigin, query};
use devstack::project;
use devstack::viceroy::{ServiceConfig, Viceroy, free_port, scratch_dir};

const STANDARD_SET: &str = include_str!("../../../benches/standard-set.json");
const BIG_PAGE: &str = "html-parsing-spec.html";

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let only_cache = std::env::args().any(|arg| arg == "--cache");
    let only_includes = std::env::args().any(|arg| arg == "--includes");
    let store = devstack::store_json(&[("standard", STANDARD_SET)]);
    println!(
        "service-bench{}: the release wasm under Viceroy with the standard set (benches/standard-set.json)",
        if quick { " (quick)" } else { "" }
    );
    if only_includes {
        includes(quick);
        return;
    }
    if !only_cache {
        heap_by_size(&store, quick);
        time_to_first_byte(&store);
        throughput(&store, quick);
        includes(quick);
    }
    edge_cache(&store, quick);
}

/// Includes: the article with 0, 1 and 4 fragments, each from a backend that takes 200 ms
/// to answer, appended at the end of the body. Time to first byte and to the last, median
/// of several requests; one after another, 4 fragments would add 800 ms.
fn includes(quick: bool) {
    const WAIT_MS: u64 = 200;
    let requests = if quick { 3 } else { 11 };
    println!("\n== includes: the article with N fragments, each answered after {WAIT_MS} ms (median of {requests}) ==");
    let origin = FixtureOrigin::start(project::fixture_pages()).unwrap();
    for count in [0usize, 1, 4] {
        let rules: Vec<String> = (0..count)
            .map(|i| {
                format!(
                    r#"{{"id": "include-{i}", "selector": "body", "actions": [{{"append": {{"include": {{"path": "/fragments/sale.html?wait_ms={WAIT_MS}&n={i}", "timeout_ms": 5000}}}}}}]}}"#
                )
            })
            .collect();
        let banner = r#"{"id": "banner", "selector": "body", "actions": [{"prepend": {"html": "<p>edge</p>"}}]}"#;
        let entry = format!("[{}]", rules.iter().map(String::as_str).chain([banner]).collect::<Vec<_>>().join(","));
        let service = service(&origin, &devstack::store_json(&[("includes", &entry)]));
        let mut first_bytes = Vec::new();
        let mut totals = Vec::new();
        for _ in 0..requests {
            let response = devstack::http::get(&service.url("/news/article.html")).send().unwrap();
            assert!(
                response.complete && count_str(&response.text(), "Winter sale") == count,
                "{count} fragments expected"
            );
            first_bytes.push(response.first_body_byte.unwrap_or_default().as_secs_f64() * 1e3);
            totals.push(response.elapsed.as_secs_f64() * 1e3);
        }
        let median = |mut values: Vec<f64>| {
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        println!(
            "  {count} include(s): first byte {:>6.1} ms, whole page {:>6.1} ms",
            median(first_bytes),
            median(totals)
        );
    }
    fragment_cost(quick);
}

/// What a large fragment costs the guest: the big corpus page included at the end of a 1 KB
/// page, next to the same bytes rewritten as the page itself (a banner rule), guest vCPU
/// from the log lines, no CPU budget. A fragment's markup goes through lol_html's tokenizer
/// so that a cut never breaks the page (src/rewrite/include/balance.rs).
fn fragment_cost(quick: bool) {
    let Some(corpus) = project::corpus() else { return };
    let pages = corpus.join("pages");
    let megabytes = std::fs::metadata(pages.join(BIG_PAGE)).unwrap().len() as f64 / 1e6;
    let requests = if quick { 3 } else { 11 };
    println!("\n== a {megabytes:.2} MB fragment: {BIG_PAGE} as the page and as an include (median of {requests}) ==");
    let origin = FixtureOrigin::start(&pages).unwrap();
    let entry = format!(
        r#"[{{"id": "banner", "selector": "body", "actions": [{{"prepend": {{"html": "<p>edge</p>"}}}}]}},
            {{"id": "big", "selector": "body", "when": {{"path": {{"prefix": "/generate"}}}},
              "actions": [{{"append": {{"include": {{"path": "/{BIG_PAGE}", "max_bytes": 4194304, "timeout_ms": 10000}}}}}}]}}]"#
    );
    let mut values: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&devstack::store_json(&[("includes", &entry)])).unwrap();
    values.insert("limits".into(), r#"{"cpu_budget_ms": 0}"#.into());
    let service = service(&origin, &serde_json::Value::Object(values).to_string());
    for (label, path) in
        [("as the page", format!("/{BIG_PAGE}")), ("included in a 1 KB page", "/generate?bytes=1000".into())]
    {
        for _ in 0..requests {
            let response = devstack::http::get(&service.url(&path)).keep(0).send().unwrap();
            assert!(response.complete && response.body_len as f64 > megabytes * 1e6, "{label}: not whole");
        }
        service.wait_for_lines(
            &format!("\"path\":\"{}\"", path.split('?').next().unwrap()),
            requests,
            Duration::from_secs(30),
        );
        let mut vcpu: Vec<f64> =
            log_figures(&service, &format!("\"path\":\"{}\"", path.split('?').next().unwrap()), "vcpu_ms");
        vcpu.sort_by(f64::total_cmp);
        let median = vcpu.get(vcpu.len() / 2).copied().unwrap_or(f64::NAN);
        println!("  {label:<24} {median:>5.0} ms of guest vCPU ({:.1} ms per MB)", median / megabytes);
    }
}

fn count_str(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The edge cache: the big page rewritten on a miss, then served from the cache, next to the
/// same page rewritten every time and passed through; requests per second, and the guest's
/// vCPU per request from the service's log lines (`vcpu_ms`). No CPU budget, so that the
/// rewrite is whole.
fn edge_cache(store: &str, quick: bool) {
    let Some(corpus) = project::corpus() else { return };
    let pages = corpus.join("pages");
    let page_len = std::fs::metadata(pages.join(BIG_PAGE)).unwrap().len();
    let origin = FixtureOrigin::start(&pages).unwrap();
    let mut values: serde_json::Map<String, serde_json::Value> = serde_json::from_str(store).unwrap();
    values.insert("limits".into(), r#"{"cpu_budget_ms": 0}"#.into());
    let service = service(&origin, &serde_json::Value::Object(values).to_string());
    let (concurrency, seconds) = if quick { (4, 3) } else { (4, 10) };
    println!(
        "
== the edge cache: {BIG_PAGE} through Viceroy, {concurrency} clients, {seconds} s each =="
    );
    let cached = format!("/{BIG_PAGE}{}", query(&[("header", "Cache-Control: public, max-age=600")]));
    let first = devstack::http::get(&service.url(&cached)).keep(0).send().unwrap();
    // The log line is written after the last byte is sent; wait for it.
    service.wait_for_lines("\"event\":\"rewrite\"", 1, Duration::from_secs(10));
    let miss_vcpu = log_figures(&service, "\"event\":\"rewrite\"", "vcpu_ms");
    println!(
        "  first request: {}, {} bytes, {} ms of guest vCPU",
        first.header("x-cache").unwrap_or("?"),
        first.body_len,
        miss_vcpu.first().copied().unwrap_or(f64::NAN)
    );
    let check = move |response: &HttpResponse| {
        if response.body_len > page_len { Ok(()) } else { Err("not rewritten".into()) }
    };
    let hits = run_load(&service.url(&cached), concurrency, seconds, check);
    print_load("hits", &hits);
    let rewritten_each_time = format!("/{BIG_PAGE}{}", query(&[("header", "Cache-Control: no-store")]));
    let rewritten = run_load(&service.url(&rewritten_each_time), concurrency, seconds, check);
    print_load("rewritten", &rewritten);
    let untouched = format!("/{BIG_PAGE}{}", query(&[("header", "Cache-Control: no-transform")]));
    let passed = run_load(&service.url(&untouched), concurrency, seconds, move |response| {
        if response.body_len == page_len { Ok(()) } else { Err("changed".into()) }
    });
    print_load("passed through", &passed);
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let hit_vcpu = median(log_figures(&service, "\"event\":\"hit\"", "vcpu_ms"));
    let rewrite_vcpu = median(log_figures(&service, "\"event\":\"rewrite\"", "vcpu_ms"));
    let pass_vcpu = median(log_figures(&service, "\"event\":\"pass\"", "vcpu_ms"));
    println!(
        "  hits / passed through: {:.2} of the requests per second; guest vCPU per request (median): hit {hit_vcpu} ms, \
         rewrite {rewrite_vcpu} ms, pass {pass_vcpu} ms",
        hits.rps() / passed.rps()
    );
}

/// Every value of `field` in the log lines containing `event`.
fn log_figures(service: &Viceroy, event: &str, field: &str) -> Vec<f64> {
    service
        .output()
        .iter()
        .filter(|line| line.contains(event))
        .filter_map(|line| {
            line.split(" :: ").nth(1).and_then(|json| serde_json::from_str::<serde_json::Value>(json).ok())
        })
        .filter_map(|json| json[field].as_f64())
        .collect()
}

fn service(origin: &FixtureOrigin, store: &str) -> Viceroy {
    let config = ServiceConfig::new(&origin.url()).with_store_json(store).expect("a store file");
    Viceroy::start(&config).expect("viceroy starts")
}

/// Heap per request as Viceroy reports it, each size in an instance of its own.
fn heap_by_size(store: &str, quick: bool) {
    println!("\n== wasm heap per request (Viceroy -v), generated pages ==");
    let origin = FixtureOrigin::start(project::fixture_pages()).unwrap();
    let service = service(&origin, store);
    let sizes: &[(&str, u64)] = if quick {
        &[("1 KB", 1_000), ("1 MB", 1_000_000), ("20 MB", 20_000_000)]
    } else {
        &[("1 KB", 1_000), ("1 MB", 1_000_000), ("100 MB", 100_000_000), ("1 GB", 1_000_000_000)]
    };
    for (index, (label, size)) in sizes.iter().enumerate() {
        let started = std::time::Instant::now();
        let response = devstack::http::get(&service.url(&format!("/generate?bytes={size}"))).keep(1024).send().unwrap();
        let elapsed = started.elapsed();
        let heaps = service.wait_for_heap_reports(index + 1, Duration::from_secs(30));
        println!(
            "  {label:>7}: {:>6.2} MiB   ({} bytes out, complete: {}, {:.1} s)",
            heaps.get(index).copied().unwrap_or(f64::NAN),
            response.body_len,
            response.complete,
            elapsed.as_secs_f64()
        );
    }
}

fn time_to_first_byte(store: &str) {
    println!("\n== time to first byte, the article dripped in 8 pieces 250 ms apart ==");
    let origin = FixtureOrigin::start(project::fixture_pages()).unwrap();
    let service = service(&origin, store);
    let path = format!("/news/article.html{}", query(&[("chunks", "8"), ("delay_ms", "250")]));
    let response = devstack::http::get(&service.url(&path)).send().unwrap();
    println!(
        "  first rewritten byte after {:.0} ms; last after {:.0} ms (the origin needs 1750 ms)",
        response.first_body_byte.unwrap_or_default().as_secs_f64() * 1e3,
        response.elapsed.as_secs_f64() * 1e3
    );
}

fn throughput(store: &str, quick: bool) {
    let Some(corpus) = project::corpus() else { return };
    let pages = corpus.join("pages");
    let page = std::fs::read(pages.join(BIG_PAGE)).unwrap();
    let origin = FixtureOrigin::start(&pages).unwrap();
    let service = service(&origin, store);
    let (concurrency, seconds) = if quick { (4, 3) } else { (4, 10) };
    println!("\n== {BIG_PAGE} ({} KB) through Viceroy: {concurrency} clients, {seconds} s each ==", page.len() / 1024);
    let page_len = page.len() as u64;
    let rewritten = run_load(&service.url(&format!("/{BIG_PAGE}")), concurrency, seconds, move |response| {
        if response.body_len > page_len { Ok(()) } else { Err("not rewritten".into()) }
    });
    print_load("rewritten", &rewritten);
    let untouched = page.clone();
    let passed = run_load(
        &service.url(&format!("/{BIG_PAGE}{}", query(&[("header", "Cache-Control: no-transform")]))),
        concurrency,
        seconds,
        move |response| if response.body == untouched { Ok(()) } else { Err("changed".into()) },
    );
    print_load("passed through", &passed);
    println!("  rewriting / passing through: {:.2} of the requests per second", rewritten.rps() / passed.rps());

    // The guest's own time per page, from the service's log lines.
    let lines = service.output();
    let (mut bytes, mut ms, mut rules_ms) = (0f64, 0f64, Vec::new());
    for line in lines.iter().filter(|line| line.contains("\"event\":\"rewrite\"")) {
        if let Some(json) =
            line.split(" :: ").nth(1).and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        {
            bytes += json["bytes_in"].as_f64().unwrap_or(0.0);
            ms += json["ms"]["rewrite"].as_f64().unwrap_or(0.0);
            rules_ms.push(json["ms"]["rules"].as_f64().unwrap_or(0.0));
        }
    }
    rules_ms.sort_by(f64::total_cmp);
    println!(
        "  inside the wasm: rewriting at {:.1} MB/s ({} pages); rules loaded and planned in {:.3} ms (median)",
        bytes / (ms / 1e3) / 1e6,
        rules_ms.len(),
        rules_ms.get(rules_ms.len() / 2).copied().unwrap_or(f64::NAN)
    );
    nginx_sub_filter(&pages, &page, concurrency, seconds);
}

fn run_load(
    url: &str,
    concurrency: usize,
    seconds: u64,
    check: impl Fn(&HttpResponse) -> Result<(), String> + Send + Sync + 'static,
) -> LoadReport {
    let target = Target { url: url.to_owned(), headers: Vec::new(), check: Box::new(check) };
    load::run(&[target], concurrency, Duration::from_secs(seconds))
}

fn print_load(label: &str, report: &LoadReport) {
    println!(
        "  {label:<15} {:>7.1} req/s  {:>7.1} MB/s  p50 {:>6.1} ms  p99 {:>6.1} ms  errors {}{}",
        report.rps(),
        report.bytes as f64 / report.elapsed.as_secs_f64() / 1e6,
        report.latency(0.5).as_secs_f64() * 1e3,
        report.latency(0.99).as_secs_f64() * 1e3,
        report.errors,
        report.error_samples.first().map(|e| format!(" ({e})")).unwrap_or_default()
    );
}

/// nginx with `sub_filter 'cat' 'dog'` on the same page, one worker, on loopback.
fn nginx_sub_filter(pages: &std::path::Path, page: &[u8], concurrency: usize, seconds: u64) {
    println!("\n== nginx sub_filter cat -> dog on the same page (1 worker, same load) ==");
    let Some(nginx) =
        ["/usr/sbin/nginx", "/usr/local/sbin/nginx"].into_iter().find(|path| std::path::Path::new(path).is_file())
    else {
        println!("  skipped: no nginx (apt-get install nginx-light; scripts/bench installs it)");
        return;
    };
    let dir = scratch_dir().unwrap();
    let port = free_port().unwrap().port();
    let config = format!(
        "worker_processes 1; daemon off; error_log stderr error; pid {dir}/nginx.pid;\n\
         events {{ worker_connections 1024; }}\n\
         http {{ include /etc/nginx/mime.types; access_log off;\n\
           client_body_temp_path {dir}; proxy_temp_path {dir}; fastcgi_temp_path {dir}; uwsgi_temp_path {dir}; scgi_temp_path {dir};\n\
           server {{ listen 127.0.0.1:{port}; root {root};\n\
             location / {{ sub_filter 'cat' 'dog'; sub_filter_once off; sub_filter_types text/html; }} }} }}\n",
        dir = dir.display(),
        root = pages.display()
    );
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, config).unwrap();
    // nginx's own messages go to a file: a worker that outlived its master would otherwise
    // hold this program's output open.
    let log = std::fs::File::create(dir.join("nginx.log")).unwrap();
    let mut child: Child = match Command::new(nginx).arg("-p").arg(&dir).arg("-c").arg(&conf).stderr(log).spawn() {
        Ok(child) => child,
        Err(err) => {
            println!("  skipped: nginx did not start: {err}");
            return;
        }
    };
    std::thread::sleep(Duration::from_millis(500));
    let original_cats = count(page, b"cat");
    let report = run_load(&format!("http://127.0.0.1:{port}/{BIG_PAGE}"), concurrency, seconds, move |response| {
        if count(&response.body, b"cat") < original_cats { Ok(()) } else { Err("nothing replaced".into()) }
    });
    print_load("nginx", &report);
    // A graceful stop, so the master takes its worker with it.
    let _ = Command::new("kill").arg("-QUIT").arg(child.id().to_string()).status();
    let _ = child.wait();
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack.windows(needle.len()).filter(|window| *window == needle).count()
}
