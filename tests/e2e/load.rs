//! The short form of `load-test` (scripts/bench runs it for 60 s): 32 clients for a few
//! seconds over the fixture mix. Every answer must equal the one the same request got
//! alone, and no instance's heap may grow past the heap of serving the mix alone.

#![cfg(not(target_arch = "wasm32"))]

use std::time::Duration;

use devstack::{Stack, soak};

#[test]
fn under_load_every_answer_is_right_and_the_heap_flat() {
    let stack = Stack::start().unwrap();
    let report = soak::run(&stack, 32, Duration::from_secs(8)).unwrap();
    println!(
        "{} requests at {:.0} req/s; heap alone {:.2} MiB, under load at most {:.2} MiB over {} instances",
        report.load.requests,
        report.load.rps(),
        report.heap_alone,
        report.max_heap(),
        report.heaps_under_load.len()
    );
    assert!(report.load.requests > 100, "the load ran: {} requests", report.load.requests);
    report.verdict().unwrap();
}
