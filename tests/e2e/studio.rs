//! `rewrite studio` end to end: the real command on a free port, driven in a real headless
//! Chromium over the DevTools protocol (mouse clicks and typed keys, as an editor works), and
//! what it saved checked by the CLI itself (`validate`, `diff`).
//!
//! Each test starts its own studio on a copy of the repository's rules, so saves never touch
//! rules/. `EDGE_REWRITER_BLESS=1` also writes the screenshot of the studio at work to
//! docs/studio.png.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use devstack::project;
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};
use serde_json::Value;

const BLESS: &str = "EDGE_REWRITER_BLESS";
/// Generous: the machine running the tests may be busy with builds.
const PATIENCE: Duration = Duration::from_secs(60);

/// A studio running on a scratch copy of the rules.
struct Studio {
    child: Child,
    url: String,
    port: u16,
    token: String,
    rules: PathBuf,
}

impl Drop for Studio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Starts `rewrite studio` on a copy of rules/ and the given pages; returns once it printed
/// its URL.
fn start_studio(pages: &Path, urls: &[&str]) -> Studio {
    let scratch = devstack::viceroy::scratch_dir().unwrap();
    let rules = scratch.join("rules");
    copy_dir(&project::root().join("rules/live"), &rules.join("live"));
    copy_dir(&project::root().join("rules/draft"), &rules.join("draft"));
    std::fs::copy(project::rules_store(), rules.join("store.json")).unwrap();
    // In the scratch directory, so that the paths it shows read `rules/draft/…`.
    let mut command = Command::new(env!("CARGO_BIN_EXE_rewrite"));
    command.current_dir(&scratch).arg("studio").arg("--rules").arg("rules").arg("--pages").arg(pages);
    for url in urls {
        command.arg("--url").arg(url);
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("rewrite studio starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let url = first.trim().strip_prefix("rewrite studio: open ").unwrap_or_else(|| panic!("no URL in {first:?}"));
    let port = url.split(':').nth(2).and_then(|rest| rest.split('/').next()).unwrap().parse().unwrap();
    let token = url.split("token=").nth(1).unwrap().to_owned();
    Studio { child, url: url.to_owned(), port, token, rules }
}

fn rewrite(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rewrite")).args(args).current_dir(project::root()).output().unwrap()
}

/// Headless Chromium as the project runs it on a closed network (devstack/src/browser.rs).
fn browser() -> Browser {
    let chromium = devstack::browser::chromium()
        .expect("no Chromium: scripts/bootstrap installs Debian's chromium (or set CHROMIUM)");
    let args: Vec<&std::ffi::OsStr> = [
        "--disable-gpu",
        "--disable-quic",
        "--disable-component-update",
        "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    ]
    .iter()
    .map(std::ffi::OsStr::new)
    .collect();
    let profile = devstack::viceroy::scratch_dir().unwrap().join("chromium-profile");
    let options = LaunchOptions::default_builder()
        .path(Some(chromium))
        .headless(true)
        .sandbox(false)
        .window_size(Some((1600, 1250)))
        .user_data_dir(Some(profile))
        .idle_browser_timeout(Duration::from_secs(300))
        .args(args)
        .build()
        .unwrap();
    Browser::new(options).expect("headless Chromium starts")
}

/// Evaluates the expression `script` in the studio's page, as JSON (DevTools hands objects
/// back by reference otherwise).
fn evaluate(tab: &Tab, script: &str) -> Result<Value, String> {
    let object = tab.evaluate(&format!("JSON.stringify({script})"), true).map_err(|err| err.to_string())?;
    if object.subtype.as_ref().is_some_and(|subtype| format!("{subtype:?}") == "Error") {
        return Err(object.description.unwrap_or_default());
    }
    match object.value {
        Some(Value::String(json)) => serde_json::from_str(&json).map_err(|err| err.to_string()),
        _ => Ok(Value::Null),
    }
}

fn eval(tab: &Tab, script: &str) -> Value {
    evaluate(tab, script).unwrap_or_else(|err| panic!("{script}: {err}"))
}

/// Waits until `script` evaluates truthy, and returns what it gave.
fn wait_for(tab: &Tab, what: &str, script: &str) -> Value {
    let started = Instant::now();
    loop {
        let value = evaluate(tab, script).unwrap_or(Value::Null);
        let truthy = match &value {
            Value::Null | Value::Bool(false) => false,
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(s) => !s.is_empty(),
            _ => true,
        };
        if truthy {
            return value;
        }
        assert!(started.elapsed() < PATIENCE, "waited {PATIENCE:?} for {what} ({script})");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A real mouse click on the element `css` inside preview frame `frame`.
fn click_in_frame(tab: &Tab, frame: &str, css: &str) {
    let script = format!(
        "(() => {{ const f = document.getElementById({frame:?}); const el = f.contentDocument.querySelector({css:?});
           f.contentWindow.scrollBy(0, el.getBoundingClientRect().top - f.clientHeight / 2);
           const r = el.getBoundingClientRect(); const o = f.getBoundingClientRect();
           return [o.left + f.clientLeft + r.left + Math.min(r.width / 2, 30), o.top + f.clientTop + r.top + r.height / 2]; }})()"
    );
    let point = eval(tab, &script);
    let (x, y) = (point[0].as_f64().unwrap(), point[1].as_f64().unwrap());
    tab.click_point(headless_chrome::browser::tab::point::Point { x, y }).unwrap();
}

/// Replaces the text of the form field `css` by typing `text` into it.
fn type_into(tab: &Tab, css: &str, text: &str) {
    eval(
        tab,
        &format!("(() => {{ const f = document.querySelector({css:?}); f.value = ''; f.focus(); return true; }})()"),
    );
    tab.find_element(css).unwrap().type_into(text).unwrap();
}

fn open_studio(browser: &Browser, studio: &Studio) -> std::sync::Arc<Tab> {
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(PATIENCE);
    tab.navigate_to(&studio.url).unwrap().wait_until_navigated().unwrap();
    wait_for(&tab, "the studio to start", "document.body.dataset.ready === 'true'");
    wait_for(&tab, "the first render", "Number(document.getElementById('rewritten-frame').dataset.ready || 0) > 0");
    tab
}

#[test]
fn an_editor_clicks_an_element_inserts_html_before_it_saves_and_the_cli_agrees() {
    let studio = start_studio(&project::fixture_pages(), &["https://www.example.com/shop/"]);
    let browser = browser();
    let tab = open_studio(&browser, &studio);
    // The page as the edge serves it: the live banner is there; the shop page was picked by the URL.
    assert_eq!(eval(&tab, "document.getElementById('page').value"), "shop/index.html");
    wait_for(
        &tab,
        "the banner",
        "document.getElementById('rewritten-frame').contentDocument.querySelector('.edge-banner')",
    );
    // Pages are data: sandboxed frames without scripts.
    assert_eq!(eval(&tab, "document.getElementById('rewritten-frame').getAttribute('sandbox')"), "allow-same-origin");

    click_in_frame(&tab, "rewritten-frame", "main h1");
    let proposals = wait_for(
        &tab,
        "selector proposals",
        "[...document.querySelectorAll('#proposals .proposal')].map(b => [b.dataset.selector, b.querySelector('.count').textContent])",
    );
    let proposals = proposals.as_array().unwrap();
    assert!(!proposals.is_empty());
    assert_eq!(eval(&tab, "document.getElementById('picked-label').textContent"), "<h1>");
    for proposal in proposals {
        assert!(!proposal[0].as_str().unwrap().contains("data-studio"), "{proposal}");
    }
    assert_eq!(proposals[0][1], "this element only", "{proposals:?}");
    let selector = proposals[0][0].as_str().unwrap().to_owned();
    tab.find_element("#proposals .proposal").unwrap().click().unwrap();

    type_into(&tab, "input[data-path='id']", "free-delivery");
    eval(
        &tab,
        "(() => { const s = document.querySelector(\"select[data-path='actions.0']\"); s.value = 'before'; \
         s.dispatchEvent(new Event('change')); return true; })()",
    );
    type_into(&tab, "textarea[data-path='actions.0.before.html']", r#"<p class="promo">Free delivery</p>"#);
    // Seen in the preview, right before the heading, as the engine put it there.
    wait_for(
        &tab,
        "the inserted paragraph in the preview",
        "(() => { const p = document.getElementById('rewritten-frame').contentDocument.querySelector('p.promo');
                  return p && p.textContent === 'Free delivery' && p.nextElementSibling.tagName === 'H1'; })()",
    );
    wait_for(&tab, "no problems", "document.querySelector('#problems .fine')");
    // The engine's cost model prices the rule being edited, as `rewrite validate` does.
    wait_for(
        &tab,
        "the rule's estimated cost",
        "(() => { const cost = document.querySelector('#problems .cost');
                  return cost && /^cost: [0-9.]+ ms per MB of a typical page, [0-9.]+ ms to compile$/.test(cost.textContent); })()",
    );
    // The rule's hit is marked in the origin's page.
    wait_for(&tab, "the hit marked", "document.getElementById('origin-frame').dataset.marked === '1'");

    tab.find_element("#save").unwrap().click().unwrap();
    wait_for(&tab, "the save", "document.getElementById('save-status').dataset.kind === 'ok'");
    let publish = wait_for(&tab, "the publish dry run", "document.getElementById('publish').textContent");
    let publish = publish.as_str().unwrap();
    assert!(publish.contains("+ free-delivery (90-free-delivery.json)"), "{publish}");
    assert!(publish.contains("dry run: nothing written"), "{publish}");

    screenshot(&tab);

    // The file, as an editor would have written it.
    let saved = std::fs::read_to_string(studio.rules.join("draft/90-free-delivery.json")).unwrap();
    let expected = format!(
        "{{\n  \"id\": \"free-delivery\",\n  \"selector\": {},\n  \"actions\": [{{ \"before\": {{ \"html\": {} }} }}]\n}}\n",
        Value::String(selector.clone()),
        Value::String(r#"<p class="promo">Free delivery</p>"#.into())
    );
    assert_eq!(saved, expected);
    assert!(!saved.contains("data-studio"));

    let (live, draft) = (studio.rules.join("live"), studio.rules.join("draft"));
    let draft_option = format!("--draft={}", draft.display());
    let validate = rewrite(&["validate", live.to_str().unwrap(), &draft_option]);
    let said = String::from_utf8_lossy(&validate.stdout);
    assert!(validate.status.success() && said.contains(" 0 problems"), "{said}");

    let diff = rewrite(&[
        "diff",
        "--rules",
        live.to_str().unwrap(),
        &draft_option,
        "--url",
        "https://www.example.com/shop/",
        "--color",
        "never",
        "fixtures/pages/shop/index.html",
    ]);
    let diff = String::from_utf8_lossy(&diff.stdout).into_owned();
    let added: Vec<&str> = diff.lines().filter(|line| line.starts_with('+') && line.contains("promo")).collect();
    assert_eq!(added.len(), 1, "{diff}");
    assert!(added[0].contains(r#"<p class="promo">Free delivery</p><h1>"#), "{diff}");
    // The studio's diff shows the same line.
    let shown = eval(
        &tab,
        "[...document.querySelectorAll('#diff td.ins')].map(td => td.textContent).filter(t => t.includes('promo'))",
    );
    assert_eq!(shown, serde_json::json!([&added[0][1..]]), "{diff}");
}

/// The studio at work, as a PNG: checked to show the studio (not a blank page), with the
/// rule's hit marked in violet.
fn screenshot(tab: &Tab) {
    eval(tab, "window.scrollTo(0, 0)");
    wait_for(tab, "the render after the save", "document.getElementById('status').dataset.kind === 'ok'");
    let png = tab.capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true).unwrap();
    let file = devstack::viceroy::scratch_dir().unwrap().join("studio.png");
    std::fs::write(&file, &png).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(&png));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    let channels = frame.color_type.samples();
    let mut colours = std::collections::HashSet::new();
    let mut violet = 0;
    for pixel in pixels[..frame.buffer_size()].chunks(channels) {
        colours.insert(pixel[..3].to_vec());
        // #7c3aed: the hit's outline and the buttons.
        if (i32::from(pixel[0]) - 124).abs() < 12
            && (i32::from(pixel[1]) - 58).abs() < 12
            && (i32::from(pixel[2]) - 237).abs() < 12
        {
            violet += 1;
        }
    }
    assert!(colours.len() > 100, "only {} colours: the studio rendered blank", colours.len());
    assert!(violet > 300, "only {violet} violet pixels: the hit is not marked");
    if std::env::var_os(BLESS).is_some() {
        std::fs::write(project::root().join("docs/studio.png"), &png).unwrap();
    }
}

#[test]
fn an_existing_rule_opens_with_its_hits_marked_and_its_change_against_live() {
    let studio = start_studio(&project::fixture_pages(), &["https://www.example.com/shop/"]);
    let browser = browser();
    let tab = open_studio(&browser, &studio);
    let fired = wait_for(
        &tab,
        "the rules' hits",
        "(() => { const row = document.querySelector('#rules tr[data-rule=\"https-links\"]'); return row && Number(row.cells[3].textContent); })()",
    );
    let fired = fired.as_u64().unwrap();
    assert!(fired >= 3, "https-links fired {fired} times on the shop page");
    tab.find_element("#rules button[data-open='https-links']").unwrap().click().unwrap();
    // As many elements marked in the origin's page as `explain` counts hits.
    let marked =
        wait_for(&tab, "the hits marked", "Number(document.getElementById('origin-frame').dataset.marked || 0)");
    assert_eq!(marked.as_u64(), Some(fired));
    let outline = eval(
        &tab,
        "(() => { const d = document.getElementById('origin-frame').contentDocument;
                  const a = d.querySelector('a[href^=\"http:\"]'); return getComputedStyle(a).outlineColor; })()",
    );
    assert_eq!(outline, "rgb(124, 58, 237)");
    // Unchanged so far (the draft changes only the banner); then the selector is narrowed and
    // the change shows against live.
    let before = wait_for(&tab, "the rules diff", "document.getElementById('rules-diff').textContent");
    assert!(before.as_str().unwrap().contains("~ sale-banner"), "{before}");
    assert!(!before.as_str().unwrap().contains("https-links"), "{before}");
    type_into(&tab, "input[data-path='selector']", r#"a[href^="http://www.example.com/p/"]"#);
    let rules_diff = wait_for(
        &tab,
        "the change against live",
        "(() => { const t = document.getElementById('rules-diff').textContent; return t.includes('/p/' + String.fromCharCode(92) + '\"]') && t; })()",
    );
    assert!(
        rules_diff
            .as_str()
            .unwrap()
            .contains(r#"selector: "a[href^=\"http:\"]" → "a[href^=\"http://www.example.com/p/\"]""#),
        "{rules_diff}"
    );
    let narrowed = wait_for(
        &tab,
        "fewer hits marked",
        "(() => { const n = Number(document.getElementById('origin-frame').dataset.marked); return n === 2 && n; })()",
    );
    assert_eq!(narrowed.as_u64(), Some(2), "the two product links of {fired}");
}

#[test]
fn a_page_cannot_drive_the_studio() {
    // A hostile page: scripts, inline handlers, a form, a refresh: none may act.
    let pages = devstack::viceroy::scratch_dir().unwrap().join("pages");
    std::fs::create_dir_all(&pages).unwrap();
    std::fs::write(
        pages.join("hostile.html"),
        r#"<html><head><title>calm</title><script>document.title = 'ran'; parent.document.body.dataset.pwned = 'script';</script></head>
<body><img src="data:," onerror="parent.document.body.dataset.pwned = 'handler'">
<form action="/api/save" method="post"><button id="go">go</button></form><p id="x">x</p></body></html>"#,
    )
    .unwrap();
    let studio = start_studio(&pages, &[]);
    let browser = browser();
    let tab = open_studio(&browser, &studio);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(eval(&tab, "document.body.dataset.pwned || 'no'"), "no");
    assert_eq!(eval(&tab, "document.getElementById('origin-frame').contentDocument.title"), "calm");
    // A click on the page's button picks it instead of submitting the form.
    click_in_frame(&tab, "origin-frame", "#go");
    wait_for(&tab, "the pick", "document.getElementById('picked-label').textContent === '<button id=\"go\">'");
    assert_eq!(std::fs::read_dir(studio.rules.join("draft")).unwrap().count(), 1, "nothing was saved");
}

/// Sends a raw HTTP/1.1 request to the studio: `(status, headers and body)`.
fn raw(port: u16, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, answer)
}

#[test]
fn a_request_without_the_token_or_from_elsewhere_is_refused() {
    let studio = start_studio(&project::fixture_pages(), &[]);
    let port = studio.port;
    let host = format!("127.0.0.1:{port}");
    let token = &studio.token;
    let get = |path: &str, headers: &str| {
        raw(port, &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n"))
    };
    assert_eq!(get("/", "").0, 403);
    assert_eq!(get("/api/state", "").0, 403);
    assert_eq!(get("/?token=0000", "").0, 403);
    let (status, answer) = get("/api/state", &format!("x-studio-token: {token}\r\n"));
    assert_eq!(status, 200, "{answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(lower.contains("content-security-policy: default-src 'none'; script-src 'self'"), "{answer}");
    assert!(!lower.contains("access-control-allow"), "{answer}");
    assert_eq!(get(&format!("/?token={token}"), "").0, 200);
    // DNS rebinding: another host name, even with the token.
    let rebound = raw(
        port,
        &format!(
            "GET /api/state HTTP/1.1\r\nHost: evil.example:{port}\r\nx-studio-token: {token}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(rebound.0, 403, "{}", rebound.1);
    // A cross-site save, even with the token: refused before anything is written.
    let body = r#"{"edit":{"rule":{"id":"evil","selector":"body","actions":["remove"]}}}"#;
    let cross = raw(
        port,
        &format!(
            "POST /api/save HTTP/1.1\r\nHost: {host}\r\nOrigin: https://evil.example\r\nx-studio-token: {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert_eq!(cross.0, 403, "{}", cross.1);
    let without = raw(
        port,
        &format!(
            "POST /api/save HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert_eq!(without.0, 403, "{}", without.1);
    assert!(!studio.rules.join("draft/10-evil.json").exists() && !studio.rules.join("draft/90-evil.json").exists());
    // In a browser too: the URL without the token shows the refusal, not the studio.
    let browser = browser();
    let tab = browser.new_tab().unwrap();
    tab.navigate_to(&format!("http://127.0.0.1:{port}/")).unwrap().wait_until_navigated().unwrap();
    let text = eval(&tab, "document.body.innerText");
    assert!(text.as_str().unwrap().contains("token is missing or wrong"), "{text}");
}
