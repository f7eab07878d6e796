//! Serves the app locally on its embedded defaults: the fixture origin plus the service under
//! Viceroy with the rules from rules/. Run through `./scripts/serve`, which builds the wasm.
//!
//! Ports: 7676 (or `--port`) for the service and 8787 for the origin when free, else any
//! free port. `--store FILE` serves another rules store than rules/store.json.
//!
//! Viceroy is a child process: on SIGTERM, SIGHUP or SIGINT (what a process manager, a
//! container stop, `kill` or a closed terminal sends, not only Ctrl-C, which signals the
//! whole process group) this process stops it before exiting, so no Viceroy is left holding
//! the port. (SIGKILL cannot be caught: then Viceroy outlives it.)

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use devstack::origin::FixtureOrigin;
use devstack::project;
use devstack::viceroy::{ServiceConfig, Viceroy};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// What `scripts/serve` passes on: `--store FILE` and `--port PORT` (its `--help` says more).
struct Options {
    store: Option<PathBuf>,
    port: u16,
}

fn options() -> Options {
    let mut options = Options { store: None, port: 7676 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().unwrap_or_else(|| fail(&format!("{name} needs a value")));
        match arg.as_str() {
            "--store" => options.store = Some(PathBuf::from(value("--store"))),
            "--port" => {
                options.port = value("--port").parse().unwrap_or_else(|_| fail("--port needs a port number"));
            }
            other => fail(&format!("unknown option {other:?} (scripts/serve --help lists them)")),
        }
    }
    options
}

fn main() {
    let options = options();
    let origin = FixtureOrigin::start_on(&preferred_or_free(8787).to_string(), project::fixture_pages(), true)
        .unwrap_or_else(|err| fail(&format!("starting the fixture origin: {err}")));
    let mut config =
        ServiceConfig { addr: Some(preferred_or_free(options.port)), echo: true, ..ServiceConfig::new(&origin.url()) };
    if let Some(store) = options.store {
        config.rules_store = store;
    }
    let mut viceroy = Viceroy::start(&config).unwrap_or_else(|err| fail(&format!("starting viceroy: {err}")));
    println!();
    println!("edge-rewriter is serving {}", viceroy.url("/"));
    println!("  origin: {}/ (fixtures/pages)", origin.url());
    println!("  rules:  {} (regenerate after editing rules/live: see README)", config.rules_store.display());
    println!("  Ctrl-C (or SIGTERM, SIGHUP) stops both.");
    println!();
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGTERM, SIGHUP, SIGINT] {
        if let Err(err) = signal_hook::flag::register(signal, Arc::clone(&stop)) {
            fail(&format!("cannot handle signal {signal}: {err}"));
        }
    }
    if viceroy.wait_until(&stop) {
        fail("viceroy exited");
    }
    println!("devserve: stopping viceroy and the fixture origin");
    // Dropping them stops them: Viceroy is killed and waited for, the origin's port closes
    // with this process.
    drop(viceroy);
    drop(origin);
}

fn preferred_or_free(port: u16) -> SocketAddr {
    let preferred = SocketAddr::from(([127, 0, 0, 1], port));
    match TcpListener::bind(preferred) {
        Ok(_) => preferred,
        Err(_) => TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap_or(preferred),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("devserve: {message}");
    std::process::exit(1);
}
