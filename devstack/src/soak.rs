//! The service under sustained load over a mix of fixture pages: every answer must be the
//! one the same request got on its own, and the heap of every instance must stay flat.
//! Shared by the `load-test` program (`scripts/bench`) and its short form in the tests.

use std::io;
use std::time::Duration;

use crate::Stack;
use crate::load::{self, LoadReport, Target};

/// What the mix asks for: rewritten pages of every kind, pages passed through, a
/// compressed, a dripped and a generated page.
pub const MIX: &[&str] = &[
    "/",
    "/news/article.html",
    "/shop/index.html",
    "/app/index.html",
    "/large/archive.html",
    "/legacy/windows-1252.html",
    "/entities/typography.html",
    "/comments/conditional.html",
    "/scripts/scripts-and-styles.html",
    "/broken/malformed.html",
    "/xhtml/page.xhtml",
    "/assets/site.css",
    "/assets/logo.png",
    "/news/article.html?gzip=1",
    "/news/article.html?chunks=4&delay_ms=10",
    "/generate?bytes=300000",
];

/// An instance's heap may grow this much over the heap of the instance that served the
/// whole mix alone before it is called growth.
pub const HEAP_SLACK: f64 = 1.5;

/// What a soak saw.
#[derive(Debug, Clone)]
pub struct SoakReport {
    /// The load itself.
    pub load: LoadReport,
    /// Heap (MiB) of the instance that served the mix once, one request at a time.
    pub heap_alone: f64,
    /// Heap (MiB) of every instance that served the load.
    pub heaps_under_load: Vec<f64>,
}

impl SoakReport {
    /// The largest heap under load.
    pub fn max_heap(&self) -> f64 {
        self.heaps_under_load.iter().copied().fold(0.0, f64::max)
    }

    /// `Ok` with zero errors and a flat heap; else what went wrong.
    pub fn verdict(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.load.errors > 0 {
            problems.push(format!(
                "{} of {} answers wrong: {:?}",
                self.load.errors, self.load.requests, self.load.error_samples
            ));
        }
        if self.heaps_under_load.is_empty() {
            problems.push("Viceroy reported no heap for the instances under load".to_owned());
        }
        if self.max_heap() > self.heap_alone * HEAP_SLACK {
            problems.push(format!(
                "heap grew under load: {:.2} MiB at most, {:.2} MiB for the mix served alone",
                self.max_heap(),
                self.heap_alone
            ));
        }
        if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
    }
}

/// Serves the mix once alone (the reference answers and heap), then `concurrency` clients
/// for `duration`.
pub fn run(stack: &Stack, concurrency: usize, duration: Duration) -> io::Result<SoakReport> {
    let mut targets = Vec::new();
    for path in MIX {
        let reference = stack.get(path).send()?;
        if reference.status != 200 || !reference.complete {
            return Err(io::Error::other(format!(
                "{path} alone: status {}, complete {}",
                reference.status, reference.complete
            )));
        }
        targets.push(Target {
            url: stack.service.url(path),
            headers: Vec::new(),
            check: Box::new(move |answer| {
                if answer.body == reference.body {
                    Ok(())
                } else {
                    Err(format!("{} bytes, not the {} it got alone", answer.body.len(), reference.body.len()))
                }
            }),
        });
    }
    // With instance reuse, Viceroy reports an instance's heap when it ends, after its idle
    // timeout: wait for the one that served the mix alone.
    let alone = stack.service.wait_for_heap_reports(1, Duration::from_secs(10));
    let heap_alone = *alone.first().ok_or_else(|| io::Error::other("no heap report for the mix alone"))?;

    let load = load::run(&targets, concurrency, duration);
    // Every instance ends within its idle timeout once the load stops.
    std::thread::sleep(Duration::from_secs(3));
    let heaps_under_load = stack.service.heap_per_request().into_iter().skip(alone.len()).collect();
    Ok(SoakReport { load, heap_alone, heaps_under_load })
}
