//! Selectors for a clicked element: shortest and most stable first (its id, then its
//! classes, then attributes that name it, then its place in the page), each checked by
//! lol_html to match the clicked element and counted over the page, and each accepted by the
//! engine's own rule checks (its selector budgets, the pseudo-classes it supports). A
//! proposal never mentions the studio's own numbering attribute.

use edge_rewriter::RuleSet;
use serde::Serialize;

use super::annotate::{ElementInfo, WalkError, matches};

/// Proposals shown at most (plus the full path, when it is the only one matching the
/// element alone).
const SHOWN: usize = 8;
/// Attribute values longer than this make poor selectors.
const LONGEST_VALUE: usize = 60;
/// Attributes that name an element rather than style or wire it.
const NAMING_ATTRIBUTES: [&str; 9] = ["name", "role", "type", "aria-label", "itemprop", "for", "rel", "href", "src"];

/// How a proposal picks the element, most stable first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Id,
    Class,
    Attribute,
    Structure,
}

/// One proposed selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proposal {
    pub selector: String,
    pub kind: Kind,
    /// Elements it matches on this page (the clicked one among them).
    pub count: usize,
}

/// The element a click named, as the editor sees it described.
#[derive(Debug, Clone, Serialize)]
pub struct Picked {
    pub ordinal: usize,
    /// `<li class="product">`, as a reminder of what was clicked.
    pub label: String,
    /// From the top of the page to the element, by ordinal.
    pub path: Vec<usize>,
    pub proposals: Vec<Proposal>,
}

/// Proposals for the element `ordinal` of `page` (whose elements are `elements`, from the
/// same walk). `studio_attribute` is the studio's numbering attribute, never proposed.
pub fn propose(
    page: &[u8],
    charset: &'static encoding_rs::Encoding,
    elements: &[ElementInfo],
    ordinal: usize,
    studio_attribute: &str,
) -> Result<Picked, WalkError> {
    let Some(element) = ordinal.checked_sub(1).and_then(|index| elements.get(index)) else {
        return Ok(Picked { ordinal, label: String::new(), path: Vec::new(), proposals: Vec::new() });
    };
    let mut candidates = candidates(elements, element, studio_attribute);
    candidates.retain(|(selector, _)| !selector.contains(studio_attribute));
    let accepted = accepted_by_engine(&candidates);
    let texts: Vec<&str> = candidates.iter().map(|(selector, _)| selector.as_str()).collect();
    let found = matches(page, charset, &texts)?;
    let mut checked: Vec<(Proposal, Vec<usize>)> = Vec::new();
    for (((selector, kind), hits), accepted) in candidates.iter().zip(found).zip(accepted) {
        let Some(hits) = hits else { continue };
        if accepted && hits.contains(&ordinal) {
            checked.push((Proposal { selector: selector.clone(), kind: *kind, count: hits.len() }, hits));
        }
    }
    checked.sort_by_key(|(proposal, _)| (proposal.kind, proposal.selector.len()));
    // A longer selector of the same kind picking the same elements offers nothing new.
    let mut proposals: Vec<Proposal> = Vec::new();
    let mut offered: Vec<(Kind, Vec<usize>)> = Vec::new();
    for (proposal, hits) in checked {
        if !offered.iter().any(|(kind, seen)| *kind == proposal.kind && *seen == hits) {
            offered.push((proposal.kind, hits));
            proposals.push(proposal);
        }
    }
    // Keep the first few, and always one that matches the element alone, if any does.
    let unique = proposals.iter().position(|p| p.count == 1);
    let mut shown: Vec<Proposal> = proposals.iter().take(SHOWN).cloned().collect();
    if let Some(unique) = unique.filter(|&at| at >= SHOWN) {
        shown.push(proposals[unique].clone());
    }
    Ok(Picked { ordinal, label: label(element), path: path(elements, element), proposals: shown })
}

/// `<tag id="…" class="…">`, for the editor to recognise the element.
fn label(element: &ElementInfo) -> String {
    let mut label = format!("<{}", element.tag);
    for (name, value) in &element.attributes {
        if name == "id" || name == "class" {
            label.push_str(&format!(" {name}=\"{value}\""));
        }
    }
    label.push('>');
    label
}

fn path(elements: &[ElementInfo], element: &ElementInfo) -> Vec<usize> {
    let mut path = vec![element.ordinal];
    let mut at = element.parent;
    while let Some(ordinal) = at {
        path.push(ordinal);
        at = elements.get(ordinal - 1).and_then(|parent| parent.parent);
    }
    path.reverse();
    path
}

/// Whether `text` can be written in a selector as it is (a CSS identifier without escapes).
fn is_identifier(text: &str) -> bool {
    let body = text.strip_prefix('-').unwrap_or(text);
    let mut chars = body.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `"value"`, quoted for an attribute selector.
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The element alone, in the fewest words: `#id`, `tag.class`, or its tag.
fn compound(element: &ElementInfo) -> Option<String> {
    if !is_identifier(&element.tag) {
        return None;
    }
    if let Some(id) = element.id.as_deref().filter(|id| is_identifier(id)) {
        return Some(format!("#{id}"));
    }
    match element.classes.iter().find(|class| is_identifier(class)) {
        Some(class) => Some(format!("{}.{class}", element.tag)),
        None => Some(element.tag.clone()),
    }
}

/// Every selector worth trying for `element`, with its kind; unchecked.
fn candidates(elements: &[ElementInfo], element: &ElementInfo, studio_attribute: &str) -> Vec<(String, Kind)> {
    let mut out = Vec::new();
    let tag_ok = is_identifier(&element.tag);
    let tag = &element.tag;
    if let Some(id) = &element.id {
        if is_identifier(id) {
            out.push((format!("#{id}"), Kind::Id));
        } else if !id.is_empty() {
            out.push((format!("[id={}]", quoted(id)), Kind::Id));
        }
    }
    let classes: Vec<&String> = element.classes.iter().filter(|class| is_identifier(class)).collect();
    for class in &classes {
        out.push((format!(".{class}"), Kind::Class));
        if tag_ok {
            out.push((format!("{tag}.{class}"), Kind::Class));
        }
    }
    if classes.len() > 1 {
        let all: String = classes.iter().map(|class| format!(".{class}")).collect();
        out.push((all.clone(), Kind::Class));
        if tag_ok {
            out.push((format!("{tag}{all}"), Kind::Class));
        }
    }
    for (name, value) in &element.attributes {
        let naming = NAMING_ATTRIBUTES.contains(&name.as_str()) || name.starts_with("data-");
        if !naming || name == studio_attribute || !is_identifier(name) || value.chars().count() > LONGEST_VALUE {
            continue;
        }
        let prefix = if tag_ok { tag.as_str() } else { "" };
        out.push((format!("{prefix}[{name}={}]", quoted(value)), Kind::Attribute));
    }
    if !tag_ok {
        return out;
    }
    out.push((tag.clone(), Kind::Structure));
    let parent = element.parent.and_then(|ordinal| elements.get(ordinal - 1));
    if let Some(parent) = parent
        && let Some(parent_compound) = compound(parent)
    {
        out.push((format!("{parent_compound} > {tag}"), Kind::Structure));
        out.push((format!("{parent_compound} > {tag}:nth-of-type({})", element.nth_of_type), Kind::Structure));
        if let Some(class) = classes.first() {
            out.push((format!("{parent_compound} > {tag}.{class}"), Kind::Structure));
        }
    }
    // The nearest ancestor with an id, and the element somewhere inside it.
    let mut at = element.parent;
    while let Some(ordinal) = at {
        let Some(ancestor) = elements.get(ordinal - 1) else { break };
        if let Some(id) = ancestor.id.as_deref().filter(|id| is_identifier(id)) {
            out.push((format!("#{id} {tag}"), Kind::Structure));
            if let Some(class) = classes.first() {
                out.push((format!("#{id} {tag}.{class}"), Kind::Structure));
            }
            break;
        }
        at = ancestor.parent;
    }
    if let Some(full) = full_path(elements, element) {
        out.push((full, Kind::Structure));
    }
    out
}

/// The element's place step by step from its nearest ancestor with an id (or the top):
/// `#main > ul > li:nth-of-type(2)`.
fn full_path(elements: &[ElementInfo], element: &ElementInfo) -> Option<String> {
    let mut steps = Vec::new();
    let mut at = Some(element);
    while let Some(current) = at {
        if !is_identifier(&current.tag) {
            return None;
        }
        if let Some(id) = current.id.as_deref().filter(|id| is_identifier(id)) {
            steps.push(format!("#{id}"));
            break;
        }
        steps.push(format!("{}:nth-of-type({})", current.tag, current.nth_of_type));
        at = current.parent.and_then(|ordinal| elements.get(ordinal - 1));
        if at.is_none() {
            // The top: `html:nth-of-type(1)` says nothing a bare `html` does not.
            if let Some(last) = steps.last_mut() {
                *last = current.tag.clone();
            }
        }
    }
    // A path deeper than the selector depth budget is refused by the engine's check below.
    steps.reverse();
    Some(steps.join(" > "))
}

/// Whether the engine's own rule checks accept each selector: a probe rule per candidate,
/// compiled as the service compiles rules.
fn accepted_by_engine(candidates: &[(String, Kind)]) -> Vec<bool> {
    let probes: Vec<serde_json::Value> = candidates
        .iter()
        .enumerate()
        .map(|(index, (selector, _))| {
            serde_json::json!({"id": format!("probe-{index}"), "mode": "shadow", "selector": selector, "actions": ["remove"]})
        })
        .collect();
    let (_, errors) =
        RuleSet::from_entries(&[("studio-probe".to_owned(), serde_json::Value::Array(probes).to_string())]);
    (0..candidates.len())
        .map(|index| {
            let id = format!("probe-{index}");
            !errors.iter().any(|error| error.rule.as_deref() == Some(id.as_str()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studio::annotate::walk;

    const UTF8: &encoding_rs::Encoding = encoding_rs::UTF_8;

    fn pick(page: &str, ordinal: usize) -> Picked {
        let walked = walk(page.as_bytes(), UTF8, None).unwrap();
        propose(page.as_bytes(), UTF8, &walked.elements, ordinal, "data-studio-x").unwrap()
    }

    #[test]
    fn ids_come_first_then_classes_then_structure() {
        let page = r##"<html><body><main id="main"><ul><li class="product sale">a</li><li class="product">b</li></ul></main></body></html>"##;
        let picked = pick(page, 5);
        let selectors: Vec<(&str, usize)> = picked.proposals.iter().map(|p| (p.selector.as_str(), p.count)).collect();
        assert_eq!(picked.label, r#"<li class="product sale">"#);
        assert_eq!(selectors[0], (".sale", 1), "{selectors:?}");
        assert!(selectors.contains(&(".product", 2)), "{selectors:?}");
        // `li.sale` picks what `.sale` picks: not offered again.
        assert!(!selectors.iter().any(|(s, _)| *s == "li.sale"), "{selectors:?}");
        assert!(selectors.contains(&("ul > li:nth-of-type(1)", 1)), "{selectors:?}");
        let kinds: Vec<Kind> = picked.proposals.iter().map(|p| p.kind).collect();
        assert!(kinds.windows(2).all(|w| w[0] <= w[1]), "{kinds:?}");
        let main = pick(page, 3);
        assert_eq!(main.proposals[0].selector, "#main");
        assert_eq!(main.path, vec![1, 2, 3]);
    }

    #[test]
    fn only_selectors_the_engine_accepts_and_that_match_the_element() {
        // A class lol_html cannot take as written, and an id with a space.
        let page = r#"<div id="a b" class="x:y ok"><p data-studio-x="9" data-role="lead">t</p></div>"#;
        let picked = pick(page, 1);
        let selectors: Vec<&str> = picked.proposals.iter().map(|p| p.selector.as_str()).collect();
        assert_eq!(selectors[0], r#"[id="a b"]"#, "{selectors:?}");
        assert!(!selectors.iter().any(|s| s.contains("x:y")), "{selectors:?}");
        let p = pick(page, 2);
        assert!(p.proposals.iter().all(|p| !p.selector.contains("data-studio")), "{:?}", p.proposals);
        assert!(p.proposals.iter().any(|p| p.selector == r#"p[data-role="lead"]"#), "{:?}", p.proposals);
    }

    #[test]
    fn structure_is_read_as_lol_html_reads_it() {
        // No implicit </li> for lol_html: the second item is inside the first, so `ul > li`
        // would not reach it and is not proposed for it.
        let page = "<ul><li>one<li>two</ul>";
        let walked = walk(page.as_bytes(), UTF8, None).unwrap();
        let picked = propose(page.as_bytes(), UTF8, &walked.elements, 3, "data-studio-x").unwrap();
        let selectors: Vec<(&str, usize)> = picked.proposals.iter().map(|p| (p.selector.as_str(), p.count)).collect();
        assert!(!selectors.iter().any(|(s, _)| s.starts_with("ul >")), "{selectors:?}");
        assert!(selectors.contains(&("li > li", 1)), "{selectors:?}");
    }
}
