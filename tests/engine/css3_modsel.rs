//! The W3C CSS3 selector cases from lol_html's own test data (../shared/corpus/css3-modsel):
//! each selector written as an editor's rule that sets the matched elements' inner content.
//! The 593 selectors lol_html supports must give the expected page; the 191 it does not must
//! be refused with a message that names the selector and what is unsupported.

#![cfg(not(target_arch = "wasm32"))]

use edge_rewriter::{RequestContext, RewriteOptions, RuleSet, stream};

struct Case {
    supported: bool,
    selector: String,
    expected: String,
    source: String,
}

fn cases() -> Option<(std::path::PathBuf, Vec<Case>)> {
    let dir = devstack::project::corpus()?.join("css3-modsel");
    let table = std::fs::read_to_string(dir.join("cases.tsv")).expect("cases.tsv");
    let cases = table
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 4, "{line}");
            Case {
                supported: fields[0] == "S",
                selector: fields[1].into(),
                expected: fields[2].into(),
                source: fields[3].into(),
            }
        })
        .collect();
    Some((dir, cases))
}

/// The rule an editor would write for this case, as the JSON a store entry holds.
fn rule_for(selector: &str) -> String {
    serde_json::json!({
        "id": "css3-modsel",
        "selector": selector,
        "actions": [{ "set_inner": { "html": format!("<!--Replaced ({selector}) -->") } }]
    })
    .to_string()
}

#[test]
fn every_supported_selector_gives_the_expected_page() {
    let Some((dir, cases)) = cases() else { return };
    let supported: Vec<&Case> = cases.iter().filter(|case| case.supported).collect();
    assert_eq!(supported.len(), 593);
    let seven_bytes = RewriteOptions { read_buffer: 7, ..RewriteOptions::default() };
    let mut failures = Vec::new();
    let mut over_budget = Vec::new();
    for case in &supported {
        let (rules, errors) = RuleSet::from_entries(&[("css3".into(), rule_for(&case.selector))]);
        if let Some(error) = errors.first() {
            // The suite's stress cases list a selector thousands of times: the selector
            // budgets refuse them (docs/RULES.md#budgets), and must say so.
            if error.field.as_deref() == Some("selector") && error.reason.contains("budget") {
                over_budget.push(case.selector.len());
            } else {
                failures.push(format!("{}: refused: {error}", case.selector));
            }
            continue;
        }
        let source = std::fs::read(dir.join(&case.source)).unwrap();
        let expected = std::fs::read(dir.join(&case.expected)).unwrap();
        let plan = rules.plan(&RequestContext::default());
        let out = stream(&plan, &seven_bytes, &source[..], Vec::new());
        out.result.unwrap();
        if out.sink != expected {
            failures.push(format!("{} ({}): output differs from {}", case.selector, case.source, case.expected));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), supported.len(), failures.join("\n"));
    println!(
        "{} cases applied, {} refused by a selector budget",
        supported.len() - over_budget.len(),
        over_budget.len()
    );
    assert_eq!(over_budget.len(), 5, "only the stress cases (5,000 to 12,000 characters) are over budget");
    assert!(over_budget.iter().all(|&len| len > 5_000), "{over_budget:?}");
}

#[test]
fn every_unsupported_selector_is_refused_with_a_clear_message() {
    let Some((_, cases)) = cases() else { return };
    let unsupported: Vec<&Case> = cases.iter().filter(|case| !case.supported).collect();
    assert_eq!(unsupported.len(), 191);
    let mut failures = Vec::new();
    for case in unsupported {
        let (rules, errors) = RuleSet::from_entries(&[("css3".into(), rule_for(&case.selector))]);
        let clear = match errors.as_slice() {
            [error] => {
                error.field.as_deref() == Some("selector")
                    && error.reason.contains(&format!("{:?}", case.selector))
                    && (error.reason.contains("is not supported") || error.reason.contains("are not supported"))
            }
            _ => false,
        };
        if !rules.is_empty() || !clear {
            failures.push(format!(
                "{}: {:?}",
                case.selector,
                errors.iter().map(ToString::to_string).collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{} selectors were not refused clearly:\n{}", failures.len(), failures.join("\n"));
}
