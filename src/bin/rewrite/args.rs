//! The command line: every command, argument and its help, in one place (clap derive). The
//! help reads like a manual: `rewrite --help`, `rewrite COMMAND --help`.

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
/// An editor's path: write a rule in rules/live (or rules/draft), `validate`, `explain` or
/// `diff` it on a page, `check` the fixtures, `publish --dry-run`, `publish`, and `rollback`
/// if it has to go. docs/RULES.md walks through it.
///
/// Exit status: 0 when all went well, 1 when a check found a difference or a rule was
/// skipped as invalid (the other rules still apply and the page is still printed), 2 when
/// the command itself could not run. Standard output is the page or the report alone;
/// notes, warnings and errors go to standard error, each labelled `note:`, `warning:` or
/// `error:`.
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
    /// With --headers, the response's headers come first, as the service sends them for the
    /// origin's headers given with --response-header: Content-Length dropped, the ETag naming
    /// the variant, Cache-Control private where the page depends on the visitor, the rules'
    /// header edits (set_header, csp_add, set_cookie …) and an experiment's visitor cookie;
    /// then a blank line and the page.
    ///
    /// A request without the edge_vid cookie is a new visitor, as at the edge: experiments
    /// assign it a variant by a random id (a note on standard error says which, and how to
    /// see it again).
    ///
    /// Example: rewrite apply --url https://www.example.com/news/a fixtures/pages/news/article.html
    Apply(ApplyArgs),
    /// Show what the rules change on a page, as a unified diff (coloured on a terminal).
    ///
    /// Changed words are marked inside long lines, and long unchanged stretches of a line
    /// are elided: a minified page is one line.
    ///
    /// Example: rewrite diff --url https://www.example.com/shop/ fixtures/pages/shop/index.html
    Diff(DiffArgs),
    /// Compare every fixture with its expected output.
    ///
    /// Fixtures are described by DIR/cases/*.toml (see fixtures/README.md): the page, the
    /// simulated request, the rules. Differences are printed as diffs and make the exit
    /// status 1; --bless writes the current output as the expected one instead.
    ///
    /// Example: rewrite check --html target/fixtures-report.html --junit target/fixtures.xml
    Check(CheckArgs),
    /// Check rules the way the service will, before they go live.
    ///
    /// Every problem is printed with the file, the store entry, the rule id, the field
    /// and the reason; the exit status is 1 if there is any. Warnings (a JSON "\b" in a
    /// regex, inserted HTML left open) say what to write instead and do not fail the check.
    ///
    /// Example: rewrite validate --draft
    Validate(ValidateArgs),
    /// Show, for a request and a page, which rules apply and how often each fired.
    ///
    /// Rules whose conditions do not hold say which condition failed; rules that apply
    /// but never fire on the page are flagged; shadow rules are counted apart. Then the time
    /// windows, rollouts and experiments that affect the page, what this request gets, and
    /// when the page changes next; --at shows the page at another time.
    ///
    /// Example: rewrite explain --url https://www.example.com/shop/ --at 2026-12-01T00:00:00Z fixtures/pages/shop/index.html
    Explain(ExplainArgs),
    /// Lay rules out as config store content.
    ///
    /// By default writes the store file the local Viceroy store reads (rules/store.json,
    /// also compiled into the service as its fallback), after checking the live rules and
    /// the draft over them as the service reads them. Rule files are packed into as few
    /// entries as fit (8,000 characters each, in file-name order), each rule keeping the name
    /// of its file for messages. A store file holding published versions (`rewrite publish
    /// --store-file`) is never overwritten: its rollback history would be lost. --fastly-commands prints a shell
    /// script that writes the same content to a store with the Fastly CLI; --bulk-json
    /// prints the body for the Fastly API's bulk update. To publish to production, prefer
    /// `rewrite publish`: versioned, atomic, reversible.
    ///
    /// Example: rewrite store
    Store(StoreArgs),
    /// Publish rules to a config store in one safe, reversible step.
    ///
    /// Validates the rules, packs the rule files into as few entries as fit (as `rewrite
    /// store` does), writes each entry under a versioned key (v7.10-sale-banner..80-app-shell),
    /// keeps the index in use under `rules.previous`, and flips the `rules` index last: a
    /// request sees the whole old rule set or the whole new one, never a mix. The draft
    /// beside the rules (rules/draft) goes with them as `rules.draft`, so previews show the
    /// new rules; without a draft, an older `rules.draft` is removed. Versions beyond the
    /// last few are then deleted. --dry-run prints what would change, rule by rule, against
    /// what the store holds now; a store whose live index is broken is published over.
    ///
    /// The store is a Fastly config store, through the Fastly CLI (--store-id), or a store
    /// file (--store-file: a JSON object of strings, as Viceroy reads and `fastly
    /// config-store-entry list --json` exports).
    ///
    /// Example: rewrite publish --store-id STORE_ID --dry-run
    Publish(PublishArgs),
    /// Flip the `rules` index back to the one the last publish replaced.
    ///
    /// The two indexes trade places, so a second rollback undoes the first.
    ///
    /// Example: rewrite rollback --store-id STORE_ID
    Rollback(RollbackArgs),
    /// Make and edit rules in a browser: point at the page, preview, validate, save.
    ///
    /// Starts a local web app on 127.0.0.1 (a free port) and prints its URL with a one-time
    /// token; nothing else can reach it. Pick a page and a simulated request, see the page as
    /// the origin sends it and as the edge serves it, click an element for selectors, fill in
    /// the rule, and save it into the draft (DIR/draft). docs/RULES.md: "Making a rule with
    /// the studio".
    ///
    /// Example: rewrite studio --url https://www.example.com/shop/
    Studio(crate::studio::StudioArgs),
    /// Print a shell completion script.
    ///
    /// Example: rewrite completions bash > ~/.local/share/bash-completion/completions/rewrite
    Completions(CompletionsArgs),
}

/// Where rules come from.
#[derive(Debug, Clone, Args)]
pub struct RulesArg {
    /// A rules directory (one *.json file per store entry, in file-name order), a rule
    /// file, or a store file (JSON object with a `rules` index).
    #[arg(long, value_name = "PATH", default_value = "rules/live")]
    pub rules: PathBuf,
    /// Use the draft as the service reads it for a preview (`rules.draft`): over a rules
    /// directory, the draft directory's entries replace the live ones of the same name and
    /// add to them; in a store file, its `rules.draft` index. `--draft` alone reads
    /// rules/draft; another directory is given as `--draft=DIR`.
    #[arg(long, value_name = "DIR", num_args = 0..=1, require_equals = true, default_missing_value = "rules/draft")]
    pub draft: Option<PathBuf>,
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

/// `apply`: the page, and whether to show the response's headers too.
#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub page: PageArgs,
    /// Print the response's headers before the page: the origin's (--response-header) as
    /// the service would send them, its own headers and the rules' edits included.
    #[arg(long = "headers")]
    pub show_headers: bool,
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
    /// edge_vid cookie gets; random by default, as at the edge), variant
    /// (EXPERIMENT=VARIANT, forced), now (RFC 3339), status. A country is a code (DE, not
    /// Germany) and brings its continent, as geolocation does. E.g. --fact country=DE
    /// --fact device.type=mobile
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
    /// A header of the simulated origin response, `Name: value` (repeatable), e.g.
    /// --response-header "Content-Security-Policy: script-src 'self'": what header rules
    /// edit (`apply --headers` shows the result), and a policy's nonce for inserted scripts.
    #[arg(long = "response-header", value_name = "NAME:VALUE")]
    pub response_headers: Vec<String>,
    /// A simulated request file instead of --url/--header/--fact (the format fixtures
    /// use: `GET https://host/path`, then `Name: value` headers and `@fact value` lines).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["url", "headers", "facts"])]
    pub request: Option<PathBuf>,
    /// A fragment for the rules' includes, `PATH=FILE` (repeatable): the include whose path
    /// is PATH (with or without its query) gets FILE, e.g. --fragment /fragments/sale.html=sale.html.
    /// `PATH=FILE@500ms` makes it arrive 500 ms after the page was asked for, like a slow
    /// backend: later than the include's timeout_ms, it gets its fallback, as at the edge.
    #[arg(long = "fragment", value_name = "PATH=FILE[@DELAY]")]
    pub fragments: Vec<String>,
    /// A directory standing in for the origin's fragments: an include of /a/b.html gets
    /// DIR/a/b.html, e.g. --fragments fixtures/pages (or fixtures/pages@300ms: each one that
    /// late). Includes with no file get their fallback.
    #[arg(long = "fragments", value_name = "DIR[@DELAY]")]
    pub fragments_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub page: PageArgs,
    #[command(flatten)]
    pub color: ColorArg,
}

#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub page: PageArgs,
    #[command(flatten)]
    pub format: FormatArg,
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
pub struct FormatArg {
    /// `text` for people, `json` for scripts and CI.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Diffs for people.
    Text,
    /// One JSON document: every case, its verdict, hits and diff.
    Json,
    /// JUnit XML, one test case per fixture, for CI dashboards.
    Junit,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// The fixtures directory: cases/ (one *.toml per case), pages/, expected/.
    #[arg(value_name = "DIR", default_value = "fixtures")]
    pub dir: PathBuf,
    /// Write each case's output as its expected output instead of comparing.
    #[arg(long)]
    pub bless: bool,
    /// Also write an HTML report: a summary, failures first, expected beside actual with
    /// the changed words marked, each page and its rewrite rendered side by side.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Also write the results as JUnit XML, for CI.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Only the cases whose name contains this text.
    #[arg(long, value_name = "TEXT")]
    pub only: Option<String>,
    /// Print the cases as JSON (name, page, request, content type, rules, expected) and stop.
    #[arg(long)]
    pub list_json: bool,
    /// What to print: `text`, `json` or `junit`.
    #[arg(long, value_enum, default_value = "text")]
    pub format: CheckFormat,
    #[command(flatten)]
    pub color: ColorArg,
}

#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// A rules directory, rule file or store file.
    #[arg(value_name = "PATH", default_value = "rules/live")]
    pub path: PathBuf,
    /// Check the draft as the service reads it for a preview (`rules.draft`): over a rules
    /// directory, the draft directory's entries replace the live ones of the same name and
    /// add to them; in a store file, its `rules.draft` index. `--draft` alone reads
    /// rules/draft; another directory is given as `--draft=DIR`, so `validate --draft
    /// rules/store.json` checks that store file's draft.
    #[arg(long, value_name = "DIR", num_args = 0..=1, require_equals = true, default_missing_value = "rules/draft")]
    pub draft: Option<PathBuf>,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// A rules directory (or a store file to lay out again).
    #[arg(long, value_name = "PATH", default_value = "rules/live")]
    pub rules: PathBuf,
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
    /// Print a shell script that writes the rules with the Fastly CLI
    /// (`sh script.sh STORE_ID`): entries first, the index last.
    #[arg(long, conflicts_with = "bulk_json")]
    pub fastly_commands: bool,
    /// Print the JSON body for the Fastly API's bulk config store update
    /// (PATCH /resources/stores/config/STORE_ID/items).
    #[arg(long)]
    pub bulk_json: bool,
}

/// Which config store to read and write.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct StoreTarget {
    /// A Fastly config store, by id (`fastly config-store list` shows them), read and
    /// written with the Fastly CLI.
    #[arg(long, value_name = "ID")]
    pub store_id: Option<String>,
    /// A store file instead: a JSON object of string values (what Viceroy reads), or the
    /// output of `fastly config-store-entry list --json`. Written back as a JSON object.
    #[arg(long, value_name = "FILE")]
    pub store_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct FastlyArgs {
    /// The Fastly CLI to run.
    #[arg(long, value_name = "PATH", env = "FASTLY_CLI", default_value = "fastly")]
    pub fastly_cli: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// The rules directory to publish (one *.json file per rule or group of rules, applied
    /// in file-name order; packed into as few store entries as fit).
    #[arg(long, value_name = "DIR", default_value = "rules/live")]
    pub rules: PathBuf,
    /// The draft published with the rules, as `rules.draft` for previews. Default: the
    /// `draft` directory beside the rules directory (rules/draft), when there is one.
    /// Without a draft, a `rules.draft` in the store names older rules and is removed.
    #[arg(long, value_name = "DIR", conflicts_with = "no_draft")]
    pub draft: Option<PathBuf>,
    /// Publish no draft (and remove the store's `rules.draft`), even with a draft directory
    /// beside the rules.
    #[arg(long)]
    pub no_draft: bool,
    #[command(flatten)]
    pub target: StoreTarget,
    /// Print what would change, rule by rule, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How many published versions to keep in the store (the one in use and the one before
    /// it are always kept).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(2..=50))]
    pub keep: u32,
    #[command(flatten)]
    pub fastly: FastlyArgs,
}

#[derive(Debug, Clone, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub target: StoreTarget,
    /// Print what would change and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub fastly: FastlyArgs,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
