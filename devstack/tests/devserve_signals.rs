//! `devserve` (what `scripts/serve` runs) stops Viceroy when it is told to stop by a signal,
//! not only by Ctrl-C in a terminal: after SIGTERM or SIGHUP to devserve alone, the port it
//! served on is free again.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port free right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts devserve on `port` and waits until it says it is serving.
fn start(port: u16) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_devserve"))
        .args(["--port", &port.to_string()])
        .current_dir(devstack::project::root())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("devserve starts");
    // Read on in the background: devserve's later lines must not meet a closed pipe.
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (lines, serving) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if line.contains("edge-rewriter is serving") {
                let _ = lines.send(line);
            }
        }
    });
    let serving = serving.recv_timeout(Duration::from_secs(120)).ok();
    if serving.as_ref().is_none_or(|line| !line.contains(&format!(":{port}/"))) {
        let _ = child.kill();
        let _ = child.wait();
        panic!("devserve did not serve on port {port}: {serving:?}");
    }
    child
}

/// Sends `signal` (a name `kill` takes) to `child` only, not to its process group.
fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill").args(["-s", signal, &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

fn port_free(port: u16) -> bool {
    TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).is_ok()
}

fn stops_viceroy_on(name: &str) {
    let port = free_port();
    let mut devserve = start(port);
    assert!(!port_free(port), "Viceroy holds the port while serving");
    signal(&devserve, name);
    let deadline = Instant::now() + Duration::from_secs(20);
    let exited = loop {
        if let Some(status) = devserve.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "devserve did not exit on {name}");
        std::thread::sleep(Duration::from_millis(50));
    };
    // Whatever devserve's exit, Viceroy must be gone with it: the port is free.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !port_free(port) {
        assert!(
            Instant::now() < deadline,
            "after {name} ({exited}), port {port} is still held: Viceroy was left behind"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_stops_viceroy_too() {
    stops_viceroy_on("TERM");
}

#[test]
fn sighup_stops_viceroy_too() {
    stops_viceroy_on("HUP");
}
