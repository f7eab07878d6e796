//! Rewriting arbitrary bytes, split into arbitrary chunks, with an arbitrary rule set built
//! from every kind of action: nothing panics, and the output is the same as when the page
//! arrives whole.

#![no_main]

use arbitrary::Arbitrary;
use edge_rewriter::{RequestContext, RewriteOptions, Rewriter, RuleSet};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

#[derive(Debug, Arbitrary)]
struct Input {
    rules: Vec<RuleSpec>,
    /// Where to cut the page, as lengths of the pieces (0 sends an empty write).
    cuts: Vec<u8>,
    page: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
struct RuleSpec {
    selector: u8,
    action: ActionSpec,
    /// Free text used as inserted content, attribute values, search text.
    text: String,
    html: bool,
}

#[derive(Debug, Arbitrary)]
enum ActionSpec {
    Before,
    After,
    Prepend,
    Append,
    Replace,
    SetInner,
    Remove,
    Unwrap,
    SetAttribute,
    RemoveAttribute,
    AddClass,
    RemoveClass,
    RewriteAttribute { pattern: u8 },
    RenameTag,
    RemoveComments,
    ReplaceComments,
    AppendToDocument,
    ReplaceText { case_insensitive: bool, max: Option<u8>, targets: u8 },
    ReplaceRegex { pattern: u8, targets: u8 },
}

const SELECTORS: &[&str] = &[
    "*",
    "p",
    "div",
    "body",
    "head",
    "title",
    "a[href]",
    "[id]",
    ".a",
    "p > a",
    "ul li:nth-child(2n+1)",
    "script",
    "style",
    "textarea",
    "svg",
    "select option",
    "table td",
    "div:not(.a)",
    "h1, h2",
];
const ATTRIBUTE_PATTERNS: &[&str] = &["^http:", "(\\w+)", "x", "$", "^"];
const TEXT_PATTERNS: &[&str] = &["cat", "a+", "(\\w)(\\w)", "\\s+", "&", "[<>]", "é|ü", "(?i)the"];
const TARGETS: &[&str] = &["text", "title", "textarea", "script", "style"];

fn content(text: &str, html: bool) -> Value {
    if html { json!({ "html": text }) } else { json!({ "text": text }) }
}

fn targets(bits: u8) -> Value {
    let chosen: Vec<&str> = TARGETS.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, t)| *t).collect();
    if chosen.is_empty() { json!("text") } else { json!(chosen) }
}

fn rule(index: usize, spec: &RuleSpec) -> Value {
    let selector = SELECTORS[spec.selector as usize % SELECTORS.len()];
    let text = spec.text.as_str();
    let action = match &spec.action {
        ActionSpec::Before => json!({ "before": content(text, spec.html) }),
        ActionSpec::After => json!({ "after": content(text, spec.html) }),
        ActionSpec::Prepend => json!({ "prepend": content(text, spec.html) }),
        ActionSpec::Append => json!({ "append": content(text, spec.html) }),
        ActionSpec::Replace => json!({ "replace": content(text, spec.html) }),
        ActionSpec::SetInner => json!({ "set_inner": content(text, spec.html) }),
        ActionSpec::Remove => json!("remove"),
        ActionSpec::Unwrap => json!("unwrap"),
        ActionSpec::SetAttribute => json!({ "set_attribute": { "name": "data-x", "value": text } }),
        ActionSpec::RemoveAttribute => json!({ "remove_attribute": "id" }),
        ActionSpec::AddClass => json!({ "add_class": "edge" }),
        ActionSpec::RemoveClass => json!({ "remove_class": "a" }),
        ActionSpec::RewriteAttribute { pattern } => json!({ "rewrite_attribute": {
            "name": "href",
            "pattern": ATTRIBUTE_PATTERNS[*pattern as usize % ATTRIBUTE_PATTERNS.len()],
            "replacement": text,
        } }),
        ActionSpec::RenameTag => json!({ "rename_tag": "section" }),
        ActionSpec::RemoveComments => json!("remove_comments"),
        ActionSpec::ReplaceComments => json!({ "replace_comments": content(text, spec.html) }),
        ActionSpec::AppendToDocument => json!({ "append_to_document": content(text, spec.html) }),
        ActionSpec::ReplaceText { case_insensitive, max, targets: bits } => {
            let mut replace =
                json!({ "find": text, "replace": "<x&y>", "case_insensitive": case_insensitive, "in": targets(*bits) });
            if let Some(max) = max {
                replace["max"] = json!(max);
            }
            json!({ "replace_text": replace })
        }
        ActionSpec::ReplaceRegex { pattern, targets: bits } => json!({ "replace_text": {
            "regex": TEXT_PATTERNS[*pattern as usize % TEXT_PATTERNS.len()],
            "replace": format!("[{text}$1]"),
            "in": targets(*bits),
        } }),
    };
    let document_wide = matches!(
        spec.action,
        ActionSpec::RemoveComments
            | ActionSpec::ReplaceComments
            | ActionSpec::AppendToDocument
            | ActionSpec::ReplaceText { .. }
            | ActionSpec::ReplaceRegex { .. }
    );
    let mut rule = json!({ "id": format!("r{index}"), "actions": [action] });
    if !document_wide || spec.selector.is_multiple_of(2) {
        rule["selector"] = json!(selector);
    }
    rule
}

fn rewrite(rules: &RuleSet, page: &[u8], cuts: &[u8]) -> Vec<u8> {
    let plan = rules.plan(&RequestContext::default());
    let mut rewriter = Rewriter::new(&plan, &RewriteOptions::default(), Vec::new());
    let mut rest = page;
    for &cut in cuts {
        let (piece, tail) = rest.split_at((cut as usize).min(rest.len()));
        rewriter.write(piece).expect("writing to a Vec cannot fail");
        rest = tail;
    }
    rewriter.write(rest).expect("writing to a Vec cannot fail");
    rewriter.finish().expect("finishing into a Vec cannot fail");
    rewriter.into_parts().0
}

fuzz_target!(|input: Input| {
    let rules: Vec<Value> = input.rules.iter().take(12).enumerate().map(|(i, spec)| rule(i, spec)).collect();
    // Rules the engine refuses (an invalid selector or pattern, say) are left out, as in the
    // service: what remains is a valid rule set.
    let (rules, _refused) = RuleSet::from_entries(&[("fuzz".to_owned(), Value::Array(rules).to_string())]);
    let whole = rewrite(&rules, &input.page, &[]);
    let split = rewrite(&rules, &input.page, &input.cuts);
    assert!(
        whole == split,
        "chunking changed the output:\nwhole: {:?}\nsplit: {:?}",
        String::from_utf8_lossy(&whole),
        String::from_utf8_lossy(&split)
    );
});
