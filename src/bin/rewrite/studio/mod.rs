//! `rewrite studio`: a visual editor for rules, on the engine the CLI and the service use.
//!
//! A local web app on 127.0.0.1: an editor picks a page and a simulated request, sees the page
//! as the origin sends it and as the edge serves it, clicks an element to get selectors that
//! match it (counted by lol_html, as the engine matches), fills in a rule in forms generated
//! from the rules' JSON Schema, and sees every change re-rendered through the engine with the
//! diff, the rules' hits and `validate`'s problems; saving writes the rule into the draft
//! directory and shows what `publish --dry-run` would do.
//!
//! The rooms: [`server`] (the HTTP loop and its safety headers), [`token`] (who may ask),
//! [`routes`] (the API), [`workspace`] (pages and rule files, and the one place that writes),
//! [`pipeline`] (a page through the rules, for the previews), [`proposals`] (selectors for a
//! clicked element), [`rule_file`] (rule files as an editor writes them), [`publish_preview`].
//! The browser side is static HTML, CSS and JavaScript in `assets/`, embedded in the binary:
//! it lays out what the engine answers and reimplements none of it.

mod annotate;
mod pipeline;
#[cfg(test)]
mod properties;
mod proposals;
mod publish_preview;
mod routes;
mod rule_file;
mod server;
mod token;
mod workspace;

use std::path::PathBuf;

use clap::Args;

/// `rewrite studio`'s arguments.
#[derive(Debug, Clone, Args)]
pub struct StudioArgs {
    /// The rules directory: live rules in DIR/live, the draft in DIR/draft (where the studio
    /// saves; it writes nowhere else).
    #[arg(long, value_name = "DIR", default_value = "rules")]
    pub rules: PathBuf,
    /// The pages to pick from (*.html, *.htm, *.xhtml, in subdirectories too): fixture pages,
    /// or pages saved from a browser. Also stands in for the origin's fragments (includes).
    #[arg(long, value_name = "DIR", default_value = "fixtures/pages")]
    pub pages: PathBuf,
    /// A directory standing in for the origin's fragments, when not the pages directory.
    #[arg(long = "fragments", value_name = "DIR")]
    pub fragments: Option<PathBuf>,
    /// A request URL to offer (repeatable); its path picks the page it maps to under --pages,
    /// as the fixture origin serves them (`/shop/` is shop/index.html). The first is where the
    /// studio opens.
    #[arg(long = "url", value_name = "URL")]
    pub urls: Vec<String>,
    /// The store `publish --dry-run` compares against (a store file, as Viceroy reads it).
    /// Default: DIR/store.json under --rules when there is one, else an empty store.
    #[arg(long, value_name = "FILE")]
    pub store_file: Option<PathBuf>,
    /// The port to listen on, on 127.0.0.1. Default: a free one.
    #[arg(long, value_name = "PORT", default_value_t = 0)]
    pub port: u16,
}

/// Starts the studio and serves until interrupted.
pub fn run(args: &StudioArgs) -> Result<i32, String> {
    let workspace = workspace::Workspace::open(args)?;
    let studio = server::Studio::bind(args.port, workspace)?;
    // The one line a person or a test reads: where to open the studio.
    crate::out::line(format!("rewrite studio: open {}", studio.url()));
    crate::logger::note("the studio listens on 127.0.0.1 only; every request needs the token in this URL");
    studio.serve();
    Ok(0)
}
