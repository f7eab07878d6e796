//! `rewrite`: edge-rewriter's rules, applied on your machine exactly as the service applies
//! them at the edge. For QA engineers (apply, diff, check fixtures) and editors (validate,
//! explain, store). Native only; the service itself is the wasm binary.

#[cfg(not(target_arch = "wasm32"))]
mod check;
#[cfg(not(target_arch = "wasm32"))]
mod diff;
#[cfg(not(target_arch = "wasm32"))]
mod explain;
#[cfg(not(target_arch = "wasm32"))]
mod inputs;
#[cfg(not(target_arch = "wasm32"))]
mod outcome;
#[cfg(not(target_arch = "wasm32"))]
mod report;
#[cfg(not(target_arch = "wasm32"))]
mod schedule;
#[cfg(not(target_arch = "wasm32"))]
mod store;
#[cfg(not(target_arch = "wasm32"))]
mod validate;

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
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("rewrite: {err}");
            std::process::exit(2);
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use cli_args::*;

#[cfg(not(target_arch = "wasm32"))]
mod cli_args {
    use std::path::PathBuf;

    use clap::{Args, Parser, Subcommand, ValueEnum};

    /// Apply edge-rewriter's rules to pages on your machine, exactly as the service does at
    /// the edge: the same engine, the same rule checks, the same store layout.
    ///
    /// Rules come from a rules directory (one file per config store entry, like rules/live),
    /// a single rule file, or a store file (like rules/store.json). The request a page is
    /// rewritten for is simulated with --url, --header and --fact, so rule conditions and
    /// templates see what they would see in production.
    ///
    /// Exit status: 0 when all went well, 1 when a check found a difference or an invalid
    /// rule, 2 when the command itself could not run.
    #[derive(Debug, Parser)]
    #[command(name = "rewrite", version, max_term_width = 100)]
    pub struct Cli {
        #[command(subcommand)]
        pub command: Command,
    }

    #[derive(Debug, Subcommand)]
    pub enum Command {
        /// Rewrite a page and print the result.
        ///
        /// Streams: the page is read and written in pieces, as at the edge.
        ///
        /// Example: rewrite apply --url https://www.example.com/news/a fixtures/pages/news/article.html
        Apply(PageArgs),
        /// Show what the rules change on a page, as a unified diff (coloured on a terminal).
        ///
        /// Example: rewrite diff --url https://www.example.com/shop/ fixtures/pages/shop/index.html
        Diff(DiffArgs),
        /// Compare every fixture with its expected output.
        ///
        /// Fixtures are described by DIR/cases/*.toml (see fixtures/README.md): the page, the
        /// simulated request, the rules. Differences are printed as diffs and make the exit
        /// status 1; --bless writes the current output as the expected one instead.
        ///
        /// Example: rewrite check --html target/fixtures-report.html
        Check(CheckArgs),
        /// Check rules the way the service will, before they go live.
        ///
        /// Every problem is printed with the file, the store entry, the rule id, the field
        /// and the reason; the exit status is 1 if there is any.
        ///
        /// Example: rewrite validate rules/live
        Validate(ValidateArgs),
        /// Show, for a request and a page, which rules apply and how often each fired.
        ///
        /// Rules whose conditions do not hold say which condition failed; rules that apply
        /// but never fire on the page are flagged. Then the time windows, rollouts and
        /// experiments that affect the page, what this request gets, and when the page
        /// changes next; --at shows the page at another time.
        ///
        /// Example: rewrite explain --url https://www.example.com/shop/ --at 2026-12-01T00:00:00Z fixtures/pages/shop/index.html
        Explain(PageArgs),
        /// Lay rules out as config store content.
        ///
        /// By default writes the store file the local Viceroy store reads (rules/store.json,
        /// also compiled into the service as its fallback). --fastly-commands prints a shell
        /// script that publishes the same content to a production store with the Fastly CLI;
        /// --bulk-json prints the body for the Fastly API's bulk update.
        ///
        /// Example: rewrite store --fastly-commands > publish-rules.sh && sh publish-rules.sh STORE_ID
        Store(StoreArgs),
    }

    /// Where rules come from.
    #[derive(Debug, Clone, Args)]
    pub struct RulesArg {
        /// A rules directory (one *.json file per store entry, in file-name order), a rule
        /// file, or a store file (JSON object with a `rules` index).
        #[arg(long, value_name = "PATH", default_value = "rules/live")]
        pub rules: PathBuf,
    }

    /// The simulated request, and the page.
    #[derive(Debug, Clone, Args)]
    pub struct PageArgs {
        #[command(flatten)]
        pub rules: RulesArg,
        #[command(flatten)]
        pub request: RequestArgs,
        /// The page to rewrite; `-` reads standard input.
        #[arg(value_name = "FILE", default_value = "-")]
        pub page: PathBuf,
    }

    /// The request the page is rewritten for.
    #[derive(Debug, Clone, Args)]
    pub struct RequestArgs {
        /// The request URL; conditions and templates see its host, path and query.
        #[arg(long, value_name = "URL", default_value = "https://localhost/")]
        pub url: String,
        /// The request method.
        #[arg(long, value_name = "METHOD", default_value = "GET")]
        pub method: String,
        /// A request header, `Name: value` (repeatable), e.g. -H 'Cookie: consent=yes'.
        #[arg(short = 'H', long = "header", value_name = "NAME:VALUE")]
        pub headers: Vec<String>,
        /// A fact the platform would supply, `name=value` (repeatable): client-ip, country
        /// (or geo.country), geo.continent, geo.region, geo.city, geo.asn, device.type
        /// (mobile, tablet, desktop, bot), new-visitor-id (the id a visitor without the
        /// edge_vid cookie would get), variant (EXPERIMENT=VARIANT, forced), now (RFC 3339),
        /// status. E.g. --fact geo.country=DE --fact device.type=mobile
        #[arg(long = "fact", value_name = "NAME=VALUE")]
        pub facts: Vec<String>,
        /// The instant the request is made at (RFC 3339), e.g. 2026-12-01T00:00:00Z: what the
        /// page looks like then, with time windows opened or closed. Default: now.
        #[arg(long, value_name = "TIME")]
        pub at: Option<String>,
        /// The response's Content-Type: decides the page's charset and what `content_type`
        /// conditions see.
        #[arg(long, value_name = "TYPE", default_value = "text/html")]
        pub content_type: String,
        /// A simulated request file instead of --url/--header/--fact (the format fixtures
        /// use: `GET https://host/path`, then `Name: value` headers and `@fact value` lines).
        #[arg(long, value_name = "FILE", conflicts_with_all = ["url", "headers", "facts"])]
        pub request: Option<PathBuf>,
    }

    #[derive(Debug, Clone, Args)]
    pub struct DiffArgs {
        #[command(flatten)]
        pub page: PageArgs,
        #[command(flatten)]
        pub color: ColorArg,
    }

    #[derive(Debug, Clone, Args)]
    pub struct ColorArg {
        /// Colour the diff: `auto` when printing to a terminal (and NO_COLOR is unset).
        #[arg(long, value_enum, default_value = "auto")]
        pub color: ColorChoice,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
    pub enum ColorChoice {
        Auto,
        Always,
        Never,
    }

    #[derive(Debug, Clone, Args)]
    pub struct CheckArgs {
        /// The fixtures directory: cases/ (one *.toml per case), pages/, expected/.
        #[arg(value_name = "DIR", default_value = "fixtures")]
        pub dir: PathBuf,
        /// Write each case's output as its expected output instead of comparing.
        #[arg(long)]
        pub bless: bool,
        /// Also write an HTML report: each page and its rewrite side by side, changes marked.
        #[arg(long, value_name = "FILE")]
        pub html: Option<PathBuf>,
        /// Only the cases whose name contains this text.
        #[arg(long, value_name = "TEXT")]
        pub only: Option<String>,
        /// Print the cases as JSON (name, page, request, content type, rules, expected) and stop.
        #[arg(long)]
        pub list_json: bool,
        #[command(flatten)]
        pub color: ColorArg,
    }

    #[derive(Debug, Clone, Args)]
    pub struct ValidateArgs {
        /// A rules directory, rule file or store file.
        #[arg(value_name = "PATH", default_value = "rules/live")]
        pub path: PathBuf,
    }

    #[derive(Debug, Clone, Args)]
    pub struct StoreArgs {
        #[command(flatten)]
        pub rules: RulesArg,
        /// The draft rules for previews, when the directory exists: entries that replace
        /// the live ones of the same name, or add to them (index `rules.draft`).
        #[arg(long, value_name = "DIR", default_value = "rules/draft")]
        pub draft: PathBuf,
        /// Where to write the store file.
        #[arg(long, value_name = "FILE", default_value = "rules/store.json")]
        pub out: PathBuf,
        /// Compare with the store file instead of writing it; exit 1 if they differ.
        #[arg(long, conflicts_with_all = ["fastly_commands", "bulk_json"])]
        pub check: bool,
        /// Print a shell script that publishes the rules with the Fastly CLI
        /// (`sh script.sh STORE_ID`): entries first, the index last.
        #[arg(long, conflicts_with = "bulk_json")]
        pub fastly_commands: bool,
        /// Print the JSON body for the Fastly API's bulk config store update
        /// (PATCH /resources/stores/config/STORE_ID/items).
        #[arg(long)]
        pub bulk_json: bool,
    }
}

/// Warnings from the engine (a bail-out, a text node over the regex limit) on stderr.
#[cfg(not(target_arch = "wasm32"))]
mod logger {
    struct StderrLogger;

    impl log::Log for StderrLogger {
        fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
            metadata.level() <= log::Level::Warn
        }

        fn log(&self, record: &log::Record<'_>) {
            if self.enabled(record.metadata()) {
                eprintln!("rewrite: {}: {}", record.level().as_str().to_lowercase(), record.args());
            }
        }

        fn flush(&self) {}
    }

    pub fn init() {
        static LOGGER: StderrLogger = StderrLogger;
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(log::LevelFilter::Warn);
        }
    }
}
