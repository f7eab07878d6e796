//! The Fastly Compute service: forwards each request to the backend `origin` and streams
//! HTML answers back through the rule engine. The adapter lives in `edge/` and is compiled
//! for wasm32 only; natively this binary just says how to build and run the service.

#[cfg(target_arch = "wasm32")]
mod edge;

#[cfg(target_arch = "wasm32")]
fn main() {
    edge::serve();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "edge-rewriter's service runs on Fastly Compute (wasm32-wasip1), not natively.\n\
         Build it:  cargo build --release --target wasm32-wasip1 --bin edge-rewriter\n\
         Serve it:  ./scripts/serve   (see README.md)"
    );
    std::process::exit(2);
}
