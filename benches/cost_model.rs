//! The CPU cost model against what the engine measures, side by side in one run: each row
//! rewrites a generated MB of typical page (or compiles a set) and prints the measured time,
//! the model's estimate and their ratio; then the model's constants as measured (from the
//! differences between rows) beside the ones in src/rules/cost.rs. Prints; asserts nothing.
//!
//!     cargo bench --bench cost_model --target wasm32-wasip1     # in the guest, under Viceroy
//!     cargo bench --bench cost_model                            # natively, for comparison
//!
//! Under Viceroy wall time is the guest's vCPU (it counts no other way): each figure is the
//! fastest of many short runs, in rounds over all rows, which a loaded machine disturbs
//! least; still, compare rows of one run only.

use std::hint::black_box;
use std::time::Instant;

use edge_rewriter::{RequestContext, RewriteOptions, RuleSet, cost::format_ms, stream};

/// A page with the typical profile the model assumes (src/rules/cost.rs, `TYPICAL_PAGE`):
/// about 17,000 elements, 370 KB of text and 100 comments per MB.
fn typical_page(bytes: usize) -> Vec<u8> {
    let mut page = String::from("<!doctype html><html><head><meta charset=utf-8><title>t</title></head><body>\n");
    let mut n = 0usize;
    while page.len() < bytes {
        n += 1;
        page.push_str(&format!(
            "<div class=\"card c{}\" data-id=\"{n}\"><p class=\"lead\">Some words about cats and the web, item {n}, \
             and a little more to read here. <a href=\"/p/{n}\" title=\"read more about item {n}\">a link</a> more \
             words.</p><span class=\"meta\">tail</span><b>bold</b></div>\n",
            n % 7
        ));
        if n.is_multiple_of(45) {
            page.push_str("<!-- a comment between blocks -->\n");
        }
    }
    page.push_str("</body></html>\n");
    page.into_bytes()
}

/// What a page holds, counted the way the model counts (elements, text bytes, comments).
fn profile(page: &[u8]) -> (usize, usize, usize) {
    let text = String::from_utf8_lossy(page);
    let elements = text.matches('<').count() - text.matches("</").count() - text.matches("<!").count();
    let comments = text.matches("<!--").count();
    let mut text_bytes = 0;
    let mut inside = false;
    for c in text.bytes() {
        match c {
            b'<' => inside = true,
            b'>' => inside = false,
            _ if !inside => text_bytes += 1,
            _ => {}
        }
    }
    (elements, text_bytes, comments)
}

/// The fastest of `runs` runs: on a shared machine, the run least disturbed by others.
fn fastest_ns(runs: usize, mut work: impl FnMut()) -> f64 {
    work();
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed().as_nanos() as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// The set, with what the budgets admit of it (the rows say how many rules ran).
fn compile(json: &str) -> RuleSet {
    RuleSet::from_entries(&[("bench".into(), json.into())]).0
}

/// Rewrites `page` with `set`, the fastest run's guest ns.
fn rewrite_ns(set: &RuleSet, page: &[u8], runs: usize) -> f64 {
    let plan = set.plan(&RequestContext::default());
    fastest_ns(runs, || {
        let done = stream(&plan, &RewriteOptions::default(), page, std::io::sink());
        done.result.unwrap();
        black_box(done.report);
    })
}

/// The model's estimate for `set` on a MB of typical page, ns (lol_html's parsing included).
fn model_ns_per_mb(set: &RuleSet) -> f64 {
    let rules: u64 = set.costs().map(|(_, cost)| cost.page_ns_per_mb()).sum();
    (rules + u64::from(edge_rewriter::cost::PARSE_NS_PER_BYTE) * 1_000_000) as f64
}

fn star_rules(count: usize, action: &str) -> String {
    let rules: Vec<String> =
        (0..count).map(|i| format!(r#"{{"id":"s{i}","selector":"*","actions":[{action}]}}"#)).collect();
    format!("[{}]", rules.join(","))
}

/// The page rows: a name and a rule set each.
fn page_rows() -> [(&'static str, String); 12] {
    [
        ("one rule matching nothing (#none)", r##"{"id":"n","selector":"#none","actions":["remove"]}"##.into()),
        ("100 rules, distinct selectors matching nothing", {
            let rules: Vec<String> =
                (0..100).map(|i| format!(r##"{{"id":"n{i}","selector":"#none{i}","actions":["remove"]}}"##)).collect();
            format!("[{}]", rules.join(","))
        }),
        (
            "`*` shadow (a handler call per element)",
            r#"{"id":"s","mode":"shadow","selector":"*","actions":["remove"]}"#.into(),
        ),
        ("`*` set_attribute", star_rules(1, r#"{"set_attribute":{"name":"data-x","value":"1"}}"#)),
        ("10 x `*` set_attribute", star_rules(10, r#"{"set_attribute":{"name":"data-x","value":"1"}}"#)),
        ("`*` append text", star_rules(1, r#"{"append":{"text":"x"}}"#)),
        ("`span` rename_tag", r#"{"id":"r","selector":"span","actions":[{"rename_tag":"em"}]}"#.into()),
        (
            "literal text rule (first)",
            r#"{"id":"t","actions":[{"replace_text":{"find":"zebra","replace":"x"}}]}"#.into(),
        ),
        (
            "two literal text rules",
            r#"[{"id":"t","actions":[{"replace_text":{"find":"zebra","replace":"x"}}]},
                {"id":"u","actions":[{"replace_text":{"find":"quagga","replace":"x"}}]}]"#
                .into(),
        ),
        ("regex text rule", r#"{"id":"t","actions":[{"replace_text":{"regex":"z[a-e]+bra","replace":"x"}}]}"#.into()),
        ("remove_comments", r#"{"id":"c","actions":["remove_comments"]}"#.into()),
        ("the standard set", include_str!("standard-set.json").into()),
    ]
}

/// The compile rows: a name and a rule set each.
fn compile_rows() -> [(&'static str, String); 5] {
    let simple: Vec<String> = (0..200)
        .map(|i| format!(r#"{{"id":"r{i}","selector":"div.c{i}","actions":[{{"append":{{"html":"<i>{i}</i>"}}}}]}}"#))
        .collect();
    let regexes = |pattern: &str, count: usize| {
        let rules: Vec<String> = (0..count)
            .map(|i| {
                format!(
                    r#"{{"id":"r{i}","selector":"body","when":{{"path":{{"regex":{}}}}},"actions":["remove"]}}"#,
                    serde_json::to_string(&format!("{pattern}{i}")).unwrap()
                )
            })
            .collect();
        format!("[{}]", rules.join(","))
    };
    [
        ("200 rules without regexes", format!("[{}]", simple.join(","))),
        ("10 path regexes ^/news/[0-9]+", regexes("^/news/[0-9]+", 10)),
        ("1 path regex \\w{20}", regexes(r"\w{20}", 1)),
        ("1 path regex \\p{L}{12}", regexes(r"\p{L}{12}", 1)),
        (
            "10 regex text rules",
            format!(
                "[{}]",
                (0..10)
                    .map(|i| format!(
                        r#"{{"id":"t{i}","actions":[{{"replace_text":{{"regex":"w[a-z]+{i}","replace":"x"}}}}]}}"#
                    ))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        ),
    ]
}

fn main() {
    // Short runs, the fastest of many: on a loaded machine a run of a few milliseconds often
    // gets a core to itself, where one of 50 ms seldom does (Viceroy counts wall time).
    let page = typical_page(100_000);
    let mb = page.len() as f64 / 1e6;
    let (elements, text_bytes, comments) = profile(&page);
    let runs = 10;
    let rounds = 4;
    println!(
        "cost_model ({}): a generated page of {} bytes; the fastest of {runs} runs in each of {rounds} rounds over the rows",
        std::env::consts::ARCH,
        page.len()
    );
    println!(
        "  per MB: {:.0} elements, {:.0} text bytes, {:.0} comments (the model assumes {:?})\n",
        elements as f64 / mb,
        text_bytes as f64 / mb,
        comments as f64 / mb,
        edge_rewriter::cost::TYPICAL_PAGE
    );
    let rows = page_rows();
    println!("{:<48} {:>6} {:>12} {:>12} {:>7}", "page rows (ms per MB)", "rules", "measured", "model", "ratio");
    let sets: Vec<RuleSet> = rows.iter().map(|(_, json)| compile(json)).collect();
    // Rounds over all rows, so a burst of load elsewhere hits one round, not one row.
    let mut measured = vec![f64::INFINITY; rows.len()];
    for _ in 0..rounds {
        for (set, best) in sets.iter().zip(measured.iter_mut()) {
            *best = best.min(rewrite_ns(set, &page, runs) / mb);
        }
    }
    for (((name, _), set), ns) in rows.iter().zip(&sets).zip(&measured) {
        let model = model_ns_per_mb(set);
        println!(
            "{name:<48} {:>6} {:>12} {:>12} {:>6.2}x",
            set.len(),
            format_ms(*ns as u64),
            format_ms(model as u64),
            model / ns
        );
    }
    let per_element = |row: usize| (measured[row] - measured[0]) / (elements as f64 / mb);
    println!("\nconstants as measured (the model's in brackets, ns):");
    println!(
        "  lol_html per byte, one selector    {:>8.1} [{}]",
        measured[0] / 1e6,
        edge_rewriter::cost::PARSE_NS_PER_BYTE
    );
    println!(
        "  per element per selector part      {:>8.1} [{}]",
        per_element(1) / 99.0,
        edge_rewriter::cost::SELECTOR_PART_NS
    );
    println!("  handler call per element           {:>8.1} [{}]", per_element(2), edge_rewriter::cost::HANDLER_NS);
    println!(
        "  set_attribute (less the call)      {:>8.1} [{}]",
        per_element(3) - per_element(2),
        edge_rewriter::cost::ATTRIBUTE_NS
    );
    println!(
        "  each admitted `*` set_attribute rule {:>6.1} [{}]",
        per_element(4) / sets[4].len() as f64,
        edge_rewriter::cost::HANDLER_NS + edge_rewriter::cost::ATTRIBUTE_NS
    );
    println!(
        "  append (less the call)             {:>8.1} [{}]",
        per_element(5) - per_element(2),
        edge_rewriter::cost::INSERT_NS
    );
    let text_mb = text_bytes as f64 / mb;
    println!(
        "  first literal text rule, per text byte (ps) {:>8.0} [{}]",
        (measured[7] - measured[0]) / text_mb * 1e3,
        edge_rewriter::cost::TEXT_FIRST_PS_PER_BYTE + edge_rewriter::cost::LITERAL_PS_PER_BYTE
    );
    println!(
        "  another literal text rule, per text byte (ps) {:>6.0} [{}]",
        (measured[8] - measured[7]) / text_mb * 1e3,
        edge_rewriter::cost::LITERAL_PS_PER_BYTE
    );
    println!(
        "  regex text rule, per text byte (ps) {:>8.0} [{}]",
        (measured[9] - measured[0]) / text_mb * 1e3,
        edge_rewriter::cost::TEXT_FIRST_PS_PER_BYTE + edge_rewriter::cost::REGEX_PS_PER_BYTE
    );
    println!(
        "  remove a comment                   {:>8.0} [{}]",
        (measured[10] - measured[0]) / (comments as f64 / mb),
        edge_rewriter::cost::HANDLER_NS + edge_rewriter::cost::COMMENT_NS
    );

    // The issue's set: a few hundred `*` rules setting attributes, on a 20 KB page.
    let small = typical_page(20_000);
    let json = star_rules(300, r#"{"set_attribute":{"name":"data-x","value":"1"}}"#);
    let (all, _) = RuleSet::from_entries(&[("bench".into(), json.clone())]);
    let set = all;
    let ns = rewrite_ns(&set, &small, 3);
    println!(
        "\n300 x `*` set_attribute on a 20 KB page: {} of them admitted, {} measured, {} by the model",
        set.len(),
        format_ms(ns as u64),
        format_ms((model_ns_per_mb(&set) * small.len() as f64 / 1e6) as u64),
    );

    println!("\n{:<48} {:>12} {:>12} {:>7}", "compile rows", "measured", "model", "ratio");
    let compile_rows = compile_rows();
    for (name, json) in &compile_rows {
        let entries = [("bench".to_owned(), json.clone())];
        let ns = fastest_ns(runs, || {
            black_box(RuleSet::from_entries(black_box(&entries)));
        });
        let (set, _) = RuleSet::from_entries(&entries);
        let model: u64 = set.costs().map(|(_, cost)| cost.compile_ns).sum();
        println!("{name:<48} {:>12} {:>12} {:>6.2}x", format_ms(ns as u64), format_ms(model), model as f64 / ns);
    }
}
