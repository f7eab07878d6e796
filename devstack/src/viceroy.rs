//! Running the service under Viceroy, the way Fastly runs it, on a free local port.

use std::io::{self, BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::project;

/// What the local service needs: the wasm, where the origin is, what the rules store holds.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The service's wasm.
    pub wasm: PathBuf,
    /// Base URL of the backend `origin`.
    pub origin_url: String,
    /// The JSON file behind the rules config store.
    pub rules_store: PathBuf,
    /// Address to listen on; `None` picks a free loopback port.
    pub addr: Option<SocketAddr>,
    /// Print Viceroy's output as it comes (for `devserve`), besides capturing it.
    pub echo: bool,
    /// The origin's between-bytes timeout, instead of fastly.toml's.
    pub between_bytes_timeout_ms: Option<u64>,
    /// Viceroy's guest profiler: the directory it writes one profile per request to, and
    /// the interval between samples (`20us`). See [`crate::profile`].
    pub guest_profile: Option<(PathBuf, String)>,
}

impl ServiceConfig {
    /// The release wasm with the repository's rules, in front of `origin_url`.
    pub fn new(origin_url: &str) -> Self {
        Self {
            wasm: project::service_wasm(),
            origin_url: origin_url.to_owned(),
            rules_store: project::rules_store(),
            addr: None,
            echo: false,
            between_bytes_timeout_ms: None,
            guest_profile: None,
        }
    }

    /// The same, with the rules store content given as JSON text (written to a temp file).
    pub fn with_store_json(mut self, json: &str) -> io::Result<Self> {
        let path = scratch_dir()?.join("store.json");
        std::fs::write(&path, json)?;
        self.rules_store = path;
        Ok(self)
    }
}

/// A running Viceroy; killed when dropped.
pub struct Viceroy {
    child: Child,
    addr: SocketAddr,
    output: Arc<Mutex<Vec<String>>>,
}

impl Viceroy {
    /// Starts Viceroy with a manifest derived from the repository's fastly.toml and waits
    /// until it accepts connections.
    pub fn start(config: &ServiceConfig) -> io::Result<Self> {
        let manifest = write_manifest(config)?;
        // A port picked free can be taken before Viceroy binds it; try a few.
        let mut last_error = None;
        for _ in 0..3 {
            let addr = match config.addr {
                Some(addr) => addr,
                None => free_port()?,
            };
            match Self::spawn(config, &manifest, addr) {
                Ok(viceroy) => return Ok(viceroy),
                Err(err) => last_error = Some(err),
            }
            if config.addr.is_some() {
                break;
            }
        }
        Err(last_error.expect("at least one attempt"))
    }

    fn spawn(config: &ServiceConfig, manifest: &Path, addr: SocketAddr) -> io::Result<Self> {
        let mut command = Command::new(viceroy_binary());
        command.arg("serve").arg("-v").arg("-C").arg(manifest).arg("--addr").arg(addr.to_string());
        if let Some((dir, interval)) = &config.guest_profile {
            command.arg(format!("--profile=guest,{},{interval}", dir.display()));
        }
        let mut child = command
            .arg(&config.wasm)
            // RUST_LOG would override -v and hide the per-request heap lines.
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| {
                io::Error::new(
                    err.kind(),
                    format!("starting viceroy: {err} (install it: cargo install viceroy --locked)"),
                )
            })?;
        let output = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            child.stdout.take().map(|p| Box::new(p) as Box<dyn io::Read + Send>),
            child.stderr.take().map(|p| Box::new(p) as Box<dyn io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = Arc::clone(&output);
            let echo = config.echo;
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if echo {
                        println!("{line}");
                    }
                    output.lock().expect("log lock").push(line);
                }
            });
        }
        let mut viceroy = Self { child, addr, output };
        let deadline = Instant::now() + Duration::from_secs(120);
        // Our Viceroy must say it listens: a connect could reach another test's process
        // that got the same "free" port first (this one would then fail to bind).
        let listening = format!("Listening on http://{addr}");
        loop {
            if viceroy.output().iter().any(|line| line.contains(&listening)) && TcpStream::connect(addr).is_ok() {
                return Ok(viceroy);
            }
            if let Some(status) = viceroy.child.try_wait()? {
                thread::sleep(Duration::from_millis(100));
                return Err(io::Error::other(format!(
                    "viceroy exited ({status}) before listening on {addr}:\n{}",
                    viceroy.output().join("\n")
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "viceroy did not start listening within 120 s"));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Blocks until Viceroy exits or `stop` is set (for `devserve`, which runs until it is
    /// signalled); returns whether Viceroy exited by itself.
    pub fn wait_until(&mut self, stop: &AtomicBool) -> bool {
        loop {
            if matches!(self.child.try_wait(), Ok(Some(_)) | Err(_)) {
                return true;
            }
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every line Viceroy printed so far (its own logs and the service's log endpoints).
    pub fn output(&self) -> Vec<String> {
        self.output.lock().expect("log lock").clone()
    }

    /// Waits up to `timeout` for `count` lines containing `needle`; returns the lines found.
    pub fn wait_for_lines(&self, needle: &str, count: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let found: Vec<String> = self.output().into_iter().filter(|line| line.contains(needle)).collect();
            if found.len() >= count || Instant::now() > deadline {
                return found;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The service's JSON log lines (what follows ` :: ` on a log line) that contain
    /// `needle`, once `count` are there or `timeout` has passed.
    pub fn wait_for_json(&self, needle: &str, count: usize, timeout: Duration) -> Vec<serde_json::Value> {
        self.wait_for_lines(needle, count, timeout)
            .iter()
            .filter_map(|line| serde_json::from_str(line.split(" :: ").nth(1)?).ok())
            .collect()
    }

    /// The WebAssembly heap each request used, in MiB, from Viceroy's `-v` lines
    /// ("request completed using 1.2 MiB of WebAssembly heap"), in completion order.
    pub fn heap_per_request(&self) -> Vec<f64> {
        self.output().iter().filter_map(|line| parse_heap_line(line)).collect()
    }

    /// Waits until `count` requests have reported their heap, then returns those figures.
    pub fn wait_for_heap_reports(&self, count: usize, timeout: Duration) -> Vec<f64> {
        self.wait_for_lines("of WebAssembly heap", count, timeout);
        self.heap_per_request()
    }
}

impl Drop for Viceroy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses "... request completed using 1.25 MiB of WebAssembly heap" into MiB.
pub fn parse_heap_line(line: &str) -> Option<f64> {
    let rest = line.split("request completed using ").nth(1)?;
    let mut words = rest.split_whitespace();
    let number: f64 = words.next()?.parse().ok()?;
    let factor = match words.next()? {
        "B" => 1.0 / (1024.0 * 1024.0),
        "KiB" => 1.0 / 1024.0,
        "MiB" => 1.0,
        "GiB" => 1024.0,
        _ => return None,
    };
    Some(number * factor)
}

/// The viceroy to run: `VICEROY` if set, else the one on PATH.
fn viceroy_binary() -> PathBuf {
    std::env::var_os("VICEROY").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("viceroy"))
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// A fresh directory under target/devstack for one run's generated files.
pub fn scratch_dir() -> io::Result<PathBuf> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = project::root().join("target").join("devstack").join(format!(
        "run-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    // Left by an earlier process whose id the system has since given to this one: its
    // files would mix with this test's (a rules directory with rules of another test).
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// fastly.toml with the local origin URL and rules store file swapped in: the committed
/// manifest stays the single source of everything else.
fn write_manifest(config: &ServiceConfig) -> io::Result<PathBuf> {
    let text = std::fs::read_to_string(project::root().join("fastly.toml"))?;
    let mut manifest: toml::Table = text.parse().map_err(|err| io::Error::other(format!("fastly.toml: {err}")))?;
    let local = table(&mut manifest, "local_server");
    let backends = table(local, "backends");
    // The second backend (fragments) is the fixture origin too.
    let fragments = table(backends, "fragments");
    fragments.insert("url".into(), toml::Value::String(config.origin_url.clone()));
    let origin = table(backends, "origin");
    origin.insert("url".into(), toml::Value::String(config.origin_url.clone()));
    if let Some(timeout) = config.between_bytes_timeout_ms {
        origin.insert("between_bytes_timeout_ms".into(), toml::Value::Integer(timeout as i64));
    }
    let rules_store = store_for_tests(&config.rules_store)?;
    let stores = table(local, "config_stores");
    for (_, store) in stores.iter_mut() {
        if let Some(store) = store.as_table_mut()
            && store.get("format").and_then(|f| f.as_str()) == Some("json")
        {
            store.insert("file".into(), toml::Value::String(rules_store.display().to_string()));
        }
    }
    let path = scratch_dir()?.join("fastly.toml");
    std::fs::write(&path, toml::to_string(&manifest).map_err(io::Error::other)?)?;
    Ok(path)
}

/// The limits tests run under unless their store sets some: no CPU budget. Viceroy counts a
/// guest's vCPU as the wall-clock time it runs, and tests run many Viceroys at once on a few
/// cores: any budget would stop, now and then, rewrites that take a fraction of it on an idle
/// machine, and a test comparing bytes would flake. Tests of the budget set their own.
pub const TEST_CPU_BUDGET: &str = r#"{"cpu_budget_ms": 0}"#;

/// `store` as a copy holding [`TEST_CPU_BUDGET`] as its `limits`, unless it has some.
fn store_for_tests(store: &Path) -> io::Result<PathBuf> {
    let text = std::fs::read_to_string(store)?;
    let mut values: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).map_err(|err| io::Error::other(format!("{}: {err}", store.display())))?;
    if values.contains_key("limits") {
        return Ok(store.to_owned());
    }
    values.insert("limits".into(), TEST_CPU_BUDGET.into());
    let path = scratch_dir()?.join("store-with-limits.json");
    std::fs::write(&path, serde_json::Value::Object(values).to_string())?;
    Ok(path)
}

fn table<'a>(parent: &'a mut toml::Table, key: &str) -> &'a mut toml::Table {
    parent
        .entry(key)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .unwrap_or_else(|| panic!("fastly.toml: `{key}` must be a table"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_lines_are_parsed() {
        let line = "2026-11-24T03:00:00Z  INFO request{id=0}: viceroy_lib::execute: request completed using 1.5 MiB of WebAssembly heap";
        assert_eq!(parse_heap_line(line), Some(1.5));
        assert_eq!(parse_heap_line("request completed using 512 KiB of WebAssembly heap"), Some(0.5));
        assert_eq!(parse_heap_line("request completed in 3ms"), None);
    }
}
