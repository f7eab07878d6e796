//! The service under Viceroy under sustained load over a mix of fixture pages, every answer
//! checked; exits 1 on any wrong answer or when the heap grows. Run by `scripts/bench`.
//!
//!     cargo run --release -p devstack --bin load-test [-- SECONDS [CONCURRENCY]]   (default 60 s, 32)

use std::time::Duration;

use devstack::{Stack, soak};

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map(|s| s.parse().expect("SECONDS: a whole number")).unwrap_or(60);
    let concurrency: usize = args.next().map(|c| c.parse().expect("CONCURRENCY: a whole number")).unwrap_or(32);
    println!(
        "load-test: {concurrency} clients for {seconds} s over {} fixture URLs, each answer compared with the one it got alone",
        soak::MIX.len()
    );
    let stack = Stack::start().expect("origin and Viceroy start");
    let report = soak::run(&stack, concurrency, Duration::from_secs(seconds)).expect("the mix is served alone");
    let load = &report.load;
    println!(
        "  {} requests, {:.1} req/s, {:.1} MB/s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, wrong answers {}",
        load.requests,
        load.rps(),
        load.bytes as f64 / load.elapsed.as_secs_f64() / 1e6,
        load.latency(0.5).as_secs_f64() * 1e3,
        load.latency(0.99).as_secs_f64() * 1e3,
        load.latency(1.0).as_secs_f64() * 1e3,
        load.errors
    );
    println!(
        "  heap: {:.2} MiB for the mix served alone; under load {} instances, at most {:.2} MiB",
        report.heap_alone,
        report.heaps_under_load.len(),
        report.max_heap()
    );
    match report.verdict() {
        Ok(()) => println!("  verdict: zero wrong answers, flat heap"),
        Err(why) => {
            println!("  verdict: FAILED: {why}");
            std::process::exit(1);
        }
    }
}
