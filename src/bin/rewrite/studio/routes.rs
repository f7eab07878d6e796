//! The studio's API, behind the guard: the page and its assets, the state (pages, rules, the
//! rules' JSON Schema as the engine builds it), a render, a pick, a save, a publish dry run.

use serde::Deserialize;
use serde_json::{Value, json};

use super::pipeline::{self, RequestSpec, View};
use super::publish_preview;
use super::workspace::{Edit, Workspace};

const INDEX_HTML: &str = include_str!("assets/index.html");
const STUDIO_JS: &str = include_str!("assets/studio.js");
const STUDIO_CSS: &str = include_str!("assets/studio.css");

/// What a route answers.
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(status: u16, text: String) -> Answer {
        Answer { status, content_type: "text/plain; charset=utf-8", body: text.into_bytes() }
    }

    fn json(status: u16, value: &impl serde::Serialize) -> Answer {
        let body = serde_json::to_vec(value).unwrap_or_else(|err| format!("{{\"error\":\"{err}\"}}").into_bytes());
        Answer { status, content_type: "application/json; charset=utf-8", body }
    }

    fn error(status: u16, message: String) -> Answer {
        Answer::json(status, &json!({ "error": message }))
    }
}

/// What every route may use.
pub struct Context<'a> {
    pub workspace: &'a Workspace,
    pub attribute: &'a str,
    pub token: &'a str,
}

#[derive(Deserialize)]
struct PickAsked {
    page: String,
    request: RequestSpec,
    ordinal: usize,
}

#[derive(Deserialize)]
struct SaveAsked {
    edit: Edit,
}

pub fn route(context: &Context<'_>, method: &str, path: &str, body: &str) -> Answer {
    match (method, path) {
        ("GET", "/") => {
            let page = INDEX_HTML.replace("{{TOKEN}}", context.token);
            Answer { status: 200, content_type: "text/html; charset=utf-8", body: page.into_bytes() }
        }
        ("GET", "/assets/studio.js") => {
            Answer { status: 200, content_type: "text/javascript; charset=utf-8", body: STUDIO_JS.as_bytes().to_vec() }
        }
        ("GET", "/assets/studio.css") => {
            let css = format!(
                "{STUDIO_CSS}\n/* The QA report's diff table (src/bin/rewrite/report.rs). */\n{}",
                crate::report::SOURCE_TABLE_STYLE
            );
            Answer { status: 200, content_type: "text/css; charset=utf-8", body: css.into_bytes() }
        }
        ("GET", "/api/state") => state(context),
        ("POST", "/api/render") => match serde_json::from_str::<View>(body) {
            Ok(view) => match pipeline::render(context.workspace, &view, context.attribute) {
                Ok(rendered) => Answer::json(200, &rendered),
                Err(err) => Answer::error(422, err),
            },
            Err(err) => Answer::error(400, format!("the view cannot be read: {err}")),
        },
        ("POST", "/api/pick") => match serde_json::from_str::<PickAsked>(body) {
            Ok(asked) => {
                match pipeline::pick(context.workspace, &asked.page, &asked.request, asked.ordinal, context.attribute) {
                    Ok(picked) => Answer::json(200, &picked),
                    Err(err) => Answer::error(422, err),
                }
            }
            Err(err) => Answer::error(400, format!("the pick cannot be read: {err}")),
        },
        ("POST", "/api/save") => match serde_json::from_str::<SaveAsked>(body) {
            Ok(asked) => save(context, &asked.edit),
            Err(err) => Answer::error(400, format!("the rule cannot be read: {err}")),
        },
        ("GET", "/api/publish") => match publish_preview::dry_run(context.workspace) {
            Ok(text) => Answer::json(200, &json!({ "publish": text })),
            Err(err) => Answer::error(500, err),
        },
        _ => Answer::text(404, format!("the studio has no {path}")),
    }
}

/// Pages, request URLs, every rule as written, and the rules' JSON Schema.
fn state(context: &Context<'_>) -> Answer {
    let workspace = context.workspace;
    let rules = match workspace.rules() {
        Ok(rules) => rules,
        Err(err) => return Answer::error(500, err),
    };
    let urls: Vec<Value> =
        workspace.urls.iter().map(|url| json!({ "url": url, "page": workspace.page_for_url(url) })).collect();
    let schema: Value = serde_json::from_str(&edge_rewriter::language::json_schema()).unwrap_or(Value::Null);
    Answer::json(
        200,
        &json!({
            "pages": workspace.pages(),
            "urls": urls,
            "rules": rules,
            "attribute": context.attribute,
            "schema": schema,
            "rules_dir": workspace.rules_dir.display().to_string(),
            "draft_dir": workspace.draft_dir.display().to_string(),
            "store_file": workspace.store_file.as_ref().map(|file| file.display().to_string()),
        }),
    )
}

/// Saves an edit into the draft when the rules it makes have no problem in its entry; then
/// what `publish --dry-run` would say.
fn save(context: &Context<'_>, edit: &Edit) -> Answer {
    let workspace = context.workspace;
    let composed = match workspace.compose(edit, context.attribute) {
        Ok(composed) => composed,
        Err(err) => return Answer::error(422, err),
    };
    let loaded = match workspace.load(&composed.live, Some(&composed.draft)) {
        Ok(loaded) => loaded,
        Err(err) => return Answer::error(422, err),
    };
    let (errors, warnings) = crate::validate::findings(&loaded);
    // A finding is the edited rule's when it names the rule (ids are unique in a set; rule
    // files are packed into store entries, so an entry holds other files' rules too).
    let id = edit.rule.get("id").and_then(Value::as_str);
    let own = |finding: &&Value| id.is_none() || finding.get("rule").and_then(Value::as_str) == id;
    let problems: Vec<&Value> = errors.iter().filter(own).collect();
    if !problems.is_empty() {
        return Answer::json(
            422,
            &json!({ "error": "not saved: the rule has problems (below); fix them first", "errors": problems }),
        );
    }
    let file = match workspace.save(&composed.entry, &composed.text) {
        Ok(file) => file,
        Err(err) => return Answer::error(500, err),
    };
    crate::logger::note(&format!("studio: saved {}", file.display()));
    let publish = publish_preview::dry_run(workspace).unwrap_or_else(|err| format!("publish --dry-run: {err}"));
    Answer::json(
        200,
        &json!({
            "file": file.display().to_string(),
            "entry": composed.entry,
            "text": composed.text,
            "warnings": warnings.iter().filter(own).collect::<Vec<_>>(),
            "publish": publish,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studio::StudioArgs;

    /// A workspace on a scratch copy of the repository's live rules, and the fixture pages.
    fn workspace() -> (Workspace, std::path::PathBuf) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let scratch = root.join("target/devstack").join(format!("studio-routes-{}", std::process::id()));
        let rules = scratch.join(format!("rules-{}", super::super::token::Token::random().unwrap().as_str()));
        std::fs::create_dir_all(rules.join("live")).unwrap();
        for entry in std::fs::read_dir(root.join("rules/live")).unwrap().flatten() {
            std::fs::copy(entry.path(), rules.join("live").join(entry.file_name())).unwrap();
        }
        let args = StudioArgs {
            rules: rules.clone(),
            pages: root.join("fixtures/pages"),
            fragments: None,
            urls: vec![],
            store_file: None,
            port: 0,
        };
        (Workspace::open(&args).unwrap(), rules)
    }

    fn ask(workspace: &Workspace, method: &str, path: &str, body: &str) -> (u16, String) {
        let context = Context { workspace, attribute: "data-studio-test", token: "t" };
        let answer = route(&context, method, path, body);
        (answer.status, String::from_utf8(answer.body).unwrap())
    }

    #[test]
    fn bad_requests_get_clear_refusals_and_write_nothing() {
        let (workspace, rules) = workspace();
        let request = r#""request": {"url": "https://www.example.com/shop/"}"#;
        assert_eq!(ask(&workspace, "POST", "/api/render", "{not json").0, 400);
        let (status, body) =
            ask(&workspace, "POST", "/api/render", &format!(r#"{{"page": "../../Cargo.toml", {request}}}"#));
        assert_eq!(status, 422);
        assert!(body.contains("is not one of the pages"), "{body}");
        let (status, body) =
            ask(&workspace, "POST", "/api/render", r#"{"page": "shop/index.html", "request": {"url": "not a url"}}"#);
        assert_eq!(status, 422, "{body}");
        let escape = r#"{"edit": {"entry": "../live/10-sale-banner", "rule": {"id": "x", "selector": "p", "actions": ["remove"]}}}"#;
        let (status, body) = ask(&workspace, "POST", "/api/save", escape);
        assert_eq!(status, 422);
        assert!(body.contains("cannot be used"), "{body}");
        let studio_attribute =
            r#"{"edit": {"rule": {"id": "x", "selector": "[data-studio-test=\"3\"]", "actions": ["remove"]}}}"#;
        let (status, body) = ask(&workspace, "POST", "/api/save", studio_attribute);
        assert_eq!(status, 422);
        assert!(body.contains("the studio's own attribute"), "{body}");
        let invalid = r#"{"edit": {"rule": {"id": "x", "selector": "li:last-child", "actions": ["remove"]}}}"#;
        let (status, body) = ask(&workspace, "POST", "/api/save", invalid);
        assert_eq!(status, 422, "{body}");
        assert!(body.contains("not saved") && body.contains("last-child"), "{body}");
        assert!(!rules.join("draft").exists(), "nothing was written");
        let (status, body) = ask(
            &workspace,
            "POST",
            "/api/pick",
            &format!(r#"{{"page": "shop/index.html", {request}, "ordinal": 99999}}"#),
        );
        assert_eq!(status, 200);
        assert!(body.contains(r#""proposals":[]"#), "{body}");
        assert_eq!(ask(&workspace, "GET", "/etc/passwd", "").0, 404);
    }

    #[test]
    fn a_saved_rule_is_read_back_by_the_engine_and_saving_again_changes_nothing() {
        let (workspace, rules) = workspace();
        let save =
            r#"{"edit": {"rule": {"id": "promo", "selector": "h1", "actions": [{"before": {"html": "<p>Hi</p>"}}]}}}"#;
        let (status, body) = ask(&workspace, "POST", "/api/save", save);
        assert_eq!(status, 200, "{body}");
        let file = rules.join("draft/90-promo.json");
        let first = std::fs::read_to_string(&file).unwrap();
        let again = r#"{"edit": {"entry": "90-promo", "replaces": "promo", "rule": {"actions": [{"before": {"html": "<p>Hi</p>"}}], "selector": "h1", "id": "promo"}}}"#;
        assert_eq!(ask(&workspace, "POST", "/api/save", again).0, 200);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), first);
        let loaded = crate::inputs::load_rules(&rules.join("live"), Some(&rules.join("draft")), "--rules DIR").unwrap();
        assert!(loaded.errors.is_empty() && loaded.rules.rule_ids().any(|id| id == "promo"));
    }
}
