//! Serves the app locally on its embedded defaults: the fixture origin plus the service under
//! Viceroy with the rules from rules/. Run through `./scripts/serve`, which builds the wasm.
//!
//! Ports: 7676 for the service and 8787 for the origin when free, else any free port.

use std::net::{SocketAddr, TcpListener};

use devstack::origin::FixtureOrigin;
use devstack::project;
use devstack::viceroy::{ServiceConfig, Viceroy};

fn main() {
    let origin = FixtureOrigin::start_on(&preferred_or_free(8787).to_string(), project::fixture_pages(), true)
        .unwrap_or_else(|err| fail(&format!("starting the fixture origin: {err}")));
    let config = ServiceConfig { addr: Some(preferred_or_free(7676)), echo: true, ..ServiceConfig::new(&origin.url()) };
    let mut viceroy = Viceroy::start(&config).unwrap_or_else(|err| fail(&format!("starting viceroy: {err}")));
    println!();
    println!("edge-rewriter is serving {}", viceroy.url("/"));
    println!("  origin: {}/ (fixtures/pages)", origin.url());
    println!("  rules:  {} (regenerate after editing rules/live: see README)", config.rules_store.display());
    println!("  Ctrl-C stops both.");
    println!();
    viceroy.wait();
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
