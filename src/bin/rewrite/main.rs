//! `rewrite`: edge-rewriter's rules, applied on your machine exactly as the service applies
//! them at the edge. For QA engineers (apply, diff, check fixtures) and editors (validate,
//! explain, publish, rollback). Native only; the service itself is the wasm binary.

#[cfg(not(target_arch = "wasm32"))]
mod args;
#[cfg(not(target_arch = "wasm32"))]
mod check;
#[cfg(not(target_arch = "wasm32"))]
mod config_store;
// Each rule's estimated CPU, for `validate` and `explain`.
#[cfg(not(target_arch = "wasm32"))]
mod costs;
#[cfg(not(target_arch = "wasm32"))]
mod diff;
#[cfg(not(target_arch = "wasm32"))]
mod explain;
#[cfg(not(target_arch = "wasm32"))]
mod fragments;
#[cfg(not(target_arch = "wasm32"))]
mod geo;
#[cfg(not(target_arch = "wasm32"))]
mod inputs;
#[cfg(not(target_arch = "wasm32"))]
mod junit;
#[cfg(not(target_arch = "wasm32"))]
mod logger;
#[cfg(not(target_arch = "wasm32"))]
mod out;
#[cfg(not(target_arch = "wasm32"))]
mod outcome;
#[cfg(not(target_arch = "wasm32"))]
mod publish;
#[cfg(not(target_arch = "wasm32"))]
mod report;
#[cfg(not(target_arch = "wasm32"))]
mod response;
#[cfg(not(target_arch = "wasm32"))]
mod rules_diff;
#[cfg(not(target_arch = "wasm32"))]
mod schedule;
#[cfg(not(target_arch = "wasm32"))]
mod store;
#[cfg(not(target_arch = "wasm32"))]
mod studio;
#[cfg(not(target_arch = "wasm32"))]
mod validate;
#[cfg(not(target_arch = "wasm32"))]
mod versions;
#[cfg(not(target_arch = "wasm32"))]
mod words;

#[cfg(not(target_arch = "wasm32"))]
pub use args::*;

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    use clap::Parser;
    logger::init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Apply(args) => inputs::apply(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Validate(args) => validate::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Store(args) => store::run(&args),
        Command::Publish(args) => publish::publish(&args),
        Command::Rollback(args) => publish::rollback(&args),
        Command::Studio(args) => studio::run(&args),
        Command::Completions(args) => completions(&args),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("error: {err}");
            std::process::exit(2);
        }
    }
}

/// `rewrite completions SHELL`: the completion script, from the same definitions as `--help`.
#[cfg(not(target_arch = "wasm32"))]
fn completions(args: &CompletionsArgs) -> Result<i32, String> {
    use clap::CommandFactory;
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "rewrite", &mut script);
    out::text(String::from_utf8_lossy(&script));
    Ok(0)
}
