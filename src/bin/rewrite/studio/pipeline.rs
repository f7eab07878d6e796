//! A page through the rules, for the studio: the same loading, request, rewrite, explain,
//! validate, diff and rules diff as the CLI's commands, gathered into one answer for the
//! browser to lay out.
//!
//! Each page is rewritten twice: as the edge serves it (the bytes `rewrite apply` prints,
//! from which the diff is made), and, for the rendered preview only, with every element of
//! the origin's page numbered in the studio's own attribute first, so that a click in the
//! preview names the element. Content the rules insert carries no number. The numbered
//! preview, numbers aside, parses to the same page as the bytes the edge serves (lol_html
//! respaces the tags it adds an attribute to); a property test holds it to that.

use clap::Parser;
use edge_rewriter::{RequestContext, http::PageEncoding, response::page_charset};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::annotate::{self, Walked};
use super::proposals::{Picked, propose};
use super::workspace::{Edit, Entries, Workspace};
use crate::diff::display_text;
use crate::fragments::LocalFragments;
use crate::inputs::{LoadedRules, Rewritten, request_context, rewrite_into, verdict};
use crate::{RequestArgs, explain, report, rules_diff, validate};

/// The simulated request, as the studio's form gives it: the same inputs as `rewrite apply`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RequestSpec {
    pub url: String,
    /// `Name: value` lines.
    #[serde(default)]
    pub headers: Vec<String>,
    /// `name=value` lines, as `--fact` takes them.
    #[serde(default)]
    pub facts: Vec<String>,
    /// RFC 3339; empty for now.
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
}

/// `--url`, `-H`, `--fact`, `--at` and `--content-type`, read by the CLI's own definitions.
#[derive(Parser)]
#[command(no_binary_name = true)]
struct RequestOnly {
    #[command(flatten)]
    request: RequestArgs,
}

impl RequestSpec {
    /// The request context, exactly as `rewrite apply` builds it from the same flags.
    pub fn context(&self) -> Result<RequestContext, String> {
        // `--name=value`: a value starting with `-` stays a value.
        let mut argv = vec![format!("--url={}", self.url.trim())];
        for header in self.headers.iter().filter(|line| !line.trim().is_empty()) {
            argv.push(format!("--header={}", header.trim()));
        }
        for fact in self.facts.iter().filter(|line| !line.trim().is_empty()) {
            argv.push(format!("--fact={}", fact.trim()));
        }
        if let Some(at) = self.at.as_deref().map(str::trim).filter(|at| !at.is_empty()) {
            argv.push(format!("--at={at}"));
        }
        if let Some(content_type) = self.content_type.as_deref().map(str::trim).filter(|ct| !ct.is_empty()) {
            argv.push(format!("--content-type={content_type}"));
        }
        let parsed = RequestOnly::try_parse_from(argv)
            .map_err(|err| err.to_string().lines().next().unwrap_or("the request cannot be read").to_owned())?;
        request_context(&parsed.request)
    }
}

/// What the studio asks to see.
#[derive(Debug, Clone, Deserialize)]
pub struct View {
    pub page: String,
    pub request: RequestSpec,
    /// `live`, or `draft` (the draft directory over the live rules, with the edit).
    #[serde(default)]
    pub rules: Option<String>,
    /// A rule being edited, not yet saved: it joins the draft.
    #[serde(default)]
    pub edit: Option<Edit>,
    /// A rule whose hits to show (by id); the edited rule when absent.
    #[serde(default)]
    pub focus: Option<String>,
}

/// The studio's answer for a [`View`].
#[derive(Debug, Serialize)]
pub struct Rendered {
    /// The origin's page, elements numbered, as text for the preview frame.
    pub origin_html: String,
    /// The page as the edge serves it, elements numbered, as text for the preview frame.
    pub rewritten_html: String,
    /// Why elements could not be numbered (picking is then off); the pages still show.
    pub numbering: Option<String>,
    /// Why the service would pass the response through untouched, if it would.
    pub passed_through: Option<String>,
    /// Why rewriting stopped early, if it did.
    pub bail_out: Option<String>,
    /// `explain`'s rows for the rules shown.
    pub rules: Vec<explain::Row>,
    /// `validate`'s problems and warnings for the rules shown.
    pub errors: Vec<Value>,
    pub warnings: Vec<Value>,
    /// Each rule's cost estimate, by the engine's cost model (see [`cost_estimates`]).
    pub costs: Vec<Cost>,
    /// The QA report's view: origin beside rewritten, changed words marked.
    pub diff_html: String,
    /// With the draft: the live rules' page beside this one, and what changes rule by rule.
    pub against_live: Option<AgainstLive>,
    /// The focused rule's hits: elements of the origin's page by number.
    pub hits: Option<Hits>,
    /// The edited entry, as it would be saved.
    pub entry: Option<String>,
    pub entry_text: Option<String>,
    pub bytes_in: usize,
    pub bytes_out: usize,
}

#[derive(Debug, Serialize)]
pub struct AgainstLive {
    pub diff_html: String,
    /// `publish`'s rule-by-rule view: the live rules against the draft over them.
    pub rules_diff: String,
}

#[derive(Debug, Serialize)]
pub struct Hits {
    pub rule: String,
    pub selector: Option<String>,
    /// Element numbers the rule acts on (its selector's matches, within its `max`).
    pub elements: Vec<usize>,
    /// Why none: the condition that does not hold, or no selector.
    pub note: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Cost {
    pub rule: String,
    pub estimate: String,
}

/// The rules a view shows: live, or the draft over them (with the edit).
struct RuleSets {
    shown: LoadedRules,
    live: Option<LoadedRules>,
    live_entries: Entries,
    draft_entries: Option<Entries>,
    entry: Option<(String, String)>,
}

fn rule_sets(workspace: &Workspace, view: &View, studio_attribute: &str) -> Result<RuleSets, String> {
    let draft = view.edit.is_some() || view.rules.as_deref() == Some("draft");
    let (live, draft_entries, entry) = match &view.edit {
        Some(edit) => {
            let composed = workspace.compose(edit, studio_attribute)?;
            (composed.live, Some(composed.draft), Some((composed.entry, composed.text)))
        }
        None => {
            let (live, draft_entries) = workspace.entries()?;
            (live, draft.then_some(draft_entries), None)
        }
    };
    let shown = workspace.load(&live, draft_entries.as_deref())?;
    let live_rules = if draft_entries.is_some() { Some(workspace.load(&live, None)?) } else { None };
    Ok(RuleSets { shown, live: live_rules, live_entries: live, draft_entries, entry })
}

/// The page's charset, as the rewriter and `rewrite diff` read it.
fn charset(page: &[u8], context: &RequestContext) -> &'static encoding_rs::Encoding {
    let declared = verdict(context).unwrap_or(PageEncoding::Sniffed);
    page_charset(page, declared).unwrap_or(encoding_rs::UTF_8)
}

/// A page through `rules` as the CLI rewrites it: the bytes, and the report when rewritten.
fn rewrite(
    rules: &LoadedRules,
    context: &RequestContext,
    page: &[u8],
    fragments: &LocalFragments,
) -> Result<(Vec<u8>, Option<edge_rewriter::Report>), String> {
    Ok(match rewrite_into(&rules.rules, context, page, Vec::new(), fragments)? {
        Rewritten::Done(done) => (done.sink, Some(done.report)),
        Rewritten::PassedThrough(sink) => (sink, None),
    })
}

/// Everything the studio shows for `view`.
pub fn render(workspace: &Workspace, view: &View, studio_attribute: &str) -> Result<Rendered, String> {
    let page = workspace.page(&view.page)?;
    let context = view.request.context()?;
    let sets = rule_sets(workspace, view, studio_attribute)?;
    let fragments = LocalFragments::in_dir(&workspace.fragments_dir);
    let (rewritten, report) = rewrite(&sets.shown, &context, &page, &fragments)?;
    let charset = charset(&page, &context);
    let (origin_html, rewritten_html, numbering) = match annotate::walk(&page, charset, Some(studio_attribute)) {
        Ok(Walked { annotated: Some(numbered), .. }) => {
            let (numbered_rewritten, _) = rewrite(&sets.shown, &context, &numbered, &fragments)?;
            (display_text(&numbered, &context), display_text(&numbered_rewritten, &context), None)
        }
        Ok(Walked { annotated: None, .. }) => unreachable!("walk numbers the page when given an attribute"),
        Err(err) => (display_text(&page, &context), display_text(&rewritten, &context), Some(err.to_string())),
    };
    let (before, after) = (display_text(&page, &context), display_text(&rewritten, &context));
    let mut diff_html = String::new();
    report::source_table(&before, &after, ["origin", "rewritten"], &mut diff_html);
    let against_live = match (&sets.live, &sets.draft_entries) {
        (Some(live), Some(draft)) => {
            let (live_page, _) = rewrite(live, &context, &page, &fragments)?;
            let mut diff_html = String::new();
            let live_text = display_text(&live_page, &context);
            report::source_table(&live_text, &after, ["live rules", "draft"], &mut diff_html);
            let promoted = promoted(&sets.live_entries, draft);
            Some(AgainstLive { diff_html, rules_diff: rules_diff::diff(&sets.live_entries, &promoted).render() })
        }
        _ => None,
    };
    let (errors, warnings) = validate::findings(&sets.shown);
    let focus = view
        .focus
        .clone()
        .or_else(|| view.edit.as_ref().and_then(|edit| edit.rule.get("id")).and_then(Value::as_str).map(str::to_owned));
    let hits = match focus {
        Some(id) => Some(hits(&sets, view, &id, &page, charset, &context)?),
        None => None,
    };
    let (entry, entry_text) = sets.entry.clone().unzip();
    Ok(Rendered {
        origin_html,
        rewritten_html,
        numbering,
        passed_through: verdict(&context).err().map(str::to_owned),
        bail_out: report.as_ref().and_then(|report| report.bail_out.clone()),
        rules: explain::rows(&sets.shown, &context, report.as_ref()),
        errors,
        warnings,
        costs: cost_estimates(&sets.shown),
        diff_html,
        against_live,
        hits,
        entry,
        entry_text,
        bytes_in: page.len(),
        bytes_out: rewritten.len(),
    })
}

/// The live entries with the draft's laid over them: what would be published if the draft
/// went live (same name: replaced; new name: added).
pub fn promoted(live: &[(String, String)], draft: &[(String, String)]) -> Entries {
    let mut entries: Entries = live.to_vec();
    for (name, text) in draft {
        match entries.iter_mut().find(|(live_name, _)| live_name == name) {
            Some((_, live_text)) => *live_text = text.clone(),
            None => entries.push((name.clone(), text.clone())),
        }
    }
    entries.sort();
    entries
}

/// The elements rule `id` acts on: its selector's matches on the origin's page, the first
/// `max` of them, when its conditions hold for the request.
fn hits(
    sets: &RuleSets,
    view: &View,
    id: &str,
    page: &[u8],
    charset: &'static encoding_rs::Encoding,
    context: &RequestContext,
) -> Result<Hits, String> {
    let written = match view.edit.as_ref().filter(|edit| edit.rule.get("id").and_then(Value::as_str) == Some(id)) {
        Some(edit) => Some(edit.rule.clone()),
        None => written_rule(sets, id),
    };
    let selector = written.as_ref().and_then(|rule| rule.get("selector")).and_then(Value::as_str).map(str::to_owned);
    let mut found = Hits { rule: id.to_owned(), selector: selector.clone(), elements: Vec::new(), note: None };
    if !sets.shown.rules.rule_ids().any(|known| known == id) {
        found.note = Some("the rule is not in use: see the problems".to_owned());
        return Ok(found);
    }
    if let Some(failing) = sets.shown.rules.why_not(id, context) {
        found.note = Some(format!("{failing} does not hold for this request"));
        return Ok(found);
    }
    let Some(selector) = selector else {
        found.note = Some("the rule has no selector: it acts on the whole page".to_owned());
        return Ok(found);
    };
    let matched = annotate::matches(page, charset, &[selector.as_str()]).map_err(|err| err.to_string())?;
    let mut elements = matched.into_iter().next().flatten().unwrap_or_default();
    if let Some(max) = written.as_ref().and_then(|rule| rule.get("max")).and_then(Value::as_u64) {
        elements.truncate(usize::try_from(max).unwrap_or(usize::MAX));
    }
    found.elements = elements;
    Ok(found)
}

/// Rule `id` as written in the entries shown (the draft's over the live ones).
fn written_rule(sets: &RuleSets, id: &str) -> Option<Value> {
    let entries = match &sets.draft_entries {
        Some(draft) => promoted(&sets.live_entries, draft),
        None => sets.live_entries.clone(),
    };
    entries
        .iter()
        .flat_map(|(_, text)| super::rule_file::rules_of(text).unwrap_or_default())
        .find(|rule| rule.get("id").and_then(Value::as_str) == Some(id))
}

/// Each rule's estimated CPU, by the engine's cost model, worded as `rewrite validate`
/// prints it; the studio shows the edited rule's beside its problems (assets/studio.js,
/// `showCosts`).
fn cost_estimates(rules: &LoadedRules) -> Vec<Cost> {
    rules
        .rules
        .costs()
        .map(|(id, cost)| Cost {
            rule: id.to_owned(),
            estimate: crate::costs::estimate(cost.page_ns_per_mb(), cost.compile_ns),
        })
        .collect()
}

/// Selector proposals for element `ordinal` of a page, for the request's charset.
pub fn pick(
    workspace: &Workspace,
    page: &str,
    request: &RequestSpec,
    ordinal: usize,
    studio_attribute: &str,
) -> Result<Picked, String> {
    let page = workspace.page(page)?;
    let context = request.context()?;
    let charset = charset(&page, &context);
    let walked = annotate::walk(&page, charset, None).map_err(|err| err.to_string())?;
    propose(&page, charset, &walked.elements, ordinal, studio_attribute).map_err(|err| err.to_string())
}
