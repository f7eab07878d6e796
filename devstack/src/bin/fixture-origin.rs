//! The fixture origin on its own, for `fastly compute serve` (whose fastly.toml expects it
//! at http://127.0.0.1:8787):
//!
//!     cargo run -p devstack --bin fixture-origin -- [--addr 127.0.0.1:8787] [--dir fixtures/pages]

use devstack::origin::FixtureOrigin;
use devstack::project;

fn main() {
    let mut addr = "127.0.0.1:8787".to_owned();
    let mut dir = project::fixture_pages();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(value)) => addr = value,
            ("--dir", Some(value)) => dir = value.into(),
            _ => {
                eprintln!("usage: fixture-origin [--addr 127.0.0.1:8787] [--dir fixtures/pages]");
                std::process::exit(2);
            }
        }
    }
    match FixtureOrigin::start_on(&addr, &dir, true) {
        Ok(origin) => {
            println!("fixture origin serving {} at {}/", dir.display(), origin.url());
            loop {
                std::thread::park();
            }
        }
        Err(err) => {
            eprintln!("fixture origin: cannot listen on {addr}: {err}");
            std::process::exit(1);
        }
    }
}
