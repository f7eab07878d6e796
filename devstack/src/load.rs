//! A load generator that checks every answer: concurrent clients sending requests for a
//! while, each response read to its end and verified. Used by the service benchmark and by
//! the load test.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::http::{self, HttpResponse};

/// Says whether an answer is right (`Ok`) or why not.
pub type Check<'a> = Box<dyn Fn(&HttpResponse) -> Result<(), String> + Send + Sync + 'a>;

/// One kind of request in the mix, and what its answer must look like.
pub struct Target<'a> {
    /// The URL to GET.
    pub url: String,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// `Ok` when the answer is right; else why not.
    pub check: Check<'a>,
}

/// What a load run saw.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Requests answered (right or wrong).
    pub requests: usize,
    /// Answers that were incomplete, not 200, or failed their check; and connection errors.
    pub errors: usize,
    /// The first few error descriptions.
    pub error_samples: Vec<String>,
    /// Body bytes received.
    pub bytes: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Every request's latency, sorted.
    pub latencies: Vec<Duration>,
}

impl LoadReport {
    /// Requests per second.
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// The latency below which `quantile` (0..=1) of requests finished.
    pub fn latency(&self, quantile: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let index = ((self.latencies.len() - 1) as f64 * quantile).round() as usize;
        self.latencies[index]
    }
}

/// Runs `concurrency` clients for `duration`, each going round the targets.
pub fn run(targets: &[Target<'_>], concurrency: usize, duration: Duration) -> LoadReport {
    let started = Instant::now();
    let deadline = started + duration;
    let report = Mutex::new(LoadReport::default());
    let next = AtomicUsize::new(0);
    thread::scope(|scope| {
        for _ in 0..concurrency {
            scope.spawn(|| {
                let mut local = LoadReport::default();
                while Instant::now() < deadline {
                    let target = &targets[next.fetch_add(1, Ordering::Relaxed) % targets.len()];
                    let mut request = http::get(&target.url).timeout(Duration::from_secs(60));
                    for (name, value) in &target.headers {
                        request = request.header(name, value);
                    }
                    let sent = Instant::now();
                    let outcome = request.send().map_err(|err| err.to_string()).and_then(|response| {
                        local.bytes += response.body_len;
                        if !response.complete {
                            return Err(format!("incomplete body: {:?}", response.failure));
                        }
                        if response.status != 200 {
                            return Err(format!("status {}", response.status));
                        }
                        (target.check)(&response)
                    });
                    local.latencies.push(sent.elapsed());
                    local.requests += 1;
                    if let Err(why) = outcome {
                        local.errors += 1;
                        if local.error_samples.len() < 5 {
                            local.error_samples.push(format!("{}: {why}", target.url));
                        }
                    }
                }
                let mut total = report.lock().expect("load report lock");
                total.requests += local.requests;
                total.errors += local.errors;
                total.bytes += local.bytes;
                total.latencies.extend(local.latencies);
                let room = 5usize.saturating_sub(total.error_samples.len());
                total.error_samples.extend(local.error_samples.into_iter().take(room));
            });
        }
    });
    let mut report = report.into_inner().expect("load report lock");
    report.elapsed = started.elapsed();
    report.latencies.sort();
    report
}
