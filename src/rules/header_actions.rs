//! Header actions checked and compiled: `set_header`, `append_header`, `remove_header`,
//! `csp_add` and `set_cookie`. What they become for one request is a
//! [`HeaderEdit`], applied by [`crate::http::header_edit`].
//!
//! Everything that could let a rule break the service or the page's security is refused
//! here, before any request: headers the service owns (its body framing, its cache, its own
//! control headers), whole policies and raw cookies (rules add to a policy with `csp_add`
//! and give cookies with `set_cookie`, which check what they add), names that are not
//! tokens and values with control characters. Values filled in per request are made safe
//! by their template landing instead ([`Landing::HeaderValue`], [`Landing::CookieValue`]).

use super::actions::ActionError;
use super::template::{Landing, Template};
use super::{Action, FieldError, SameSite, SetCookie};
use crate::http::cookie::{self, Cookie};
use crate::http::csp_source::{check_directive, check_source};
use crate::http::header_edit::HeaderEdit;
use crate::http::request::RequestContext;
use crate::http::visitor::VISITOR_COOKIE;

/// The longest header value a rule may write: far above any real one, far below what
/// platforms accept for a whole header block.
pub const MAX_HEADER_VALUE: usize = 8 * 1024;

/// Headers no rule may set, append or remove: each with why, and what to do instead.
pub const FORBIDDEN_HEADERS: &[(&str, &str)] = &[
    ("content-length", FRAMING),
    ("content-encoding", FRAMING),
    ("transfer-encoding", FRAMING),
    ("connection", HOP_BY_HOP),
    ("keep-alive", HOP_BY_HOP),
    ("upgrade", HOP_BY_HOP),
    ("te", HOP_BY_HOP),
    ("trailer", HOP_BY_HOP),
    ("host", "it is a request header, not a response header"),
    ("cache-control", CACHE),
    ("vary", CACHE),
    ("etag", CACHE),
    ("age", CACHE),
    ("expires", CACHE),
    ("last-modified", CACHE),
    ("surrogate-control", EDGE_CACHE),
    ("surrogate-key", EDGE_CACHE),
    ("content-type", CONTENT_TYPE),
    ("x-cache", OWN),
    ("x-compress-hint", OWN),
    ("set-cookie", "use `set_cookie`: it checks the cookie and keeps the page out of the edge cache"),
    ("content-security-policy", CSP),
    ("content-security-policy-report-only", CSP),
];

const FRAMING: &str = "the service frames the body it sends (a rewritten page has another length and coding); \
                       leave it to the service";
const HOP_BY_HOP: &str = "it describes one connection, not the response, and the platform manages it";
const CACHE: &str = "the service's cache logic owns it (how long pages are kept, what they vary on, their \
                     validators); set it at the origin";
const EDGE_CACHE: &str = "the edge cache reads it from the origin's response before rules run (how long a page is \
                          kept, the keys that purge it): set it at the origin";
const CONTENT_TYPE: &str = "the service sends the media type and charset the page was rewritten in; another value \
                            would make browsers misread the bytes";
const OWN: &str = "it is the service's own: `x-cache` says how the edge cache served the page (HIT, MISS, PASS) \
                   and `x-compress-hint` asks Fastly to compress the rewritten body; a rule's value would lie or \
                   send the page uncompressed";
const CSP: &str = "replacing or removing a policy would drop the site's protections; use `csp_add` to add the \
                   sources a rule needs";
/// The service's own headers (`x-edge-rewriter-rules`, `-debug`, `-token` …).
const OWN_PREFIX: &str = "x-edge-rewriter-";

/// A header action, compiled.
#[derive(Debug, Clone)]
pub(crate) enum CompiledHeader {
    Set { name: String, value: Template },
    Append { name: String, value: Template },
    Remove(String),
    CspAdd(Vec<(String, Vec<String>)>),
    SetCookie { cookie: Cookie, value: Template },
}

/// Compiles a header action; `field(sub)` names its field `sub` (`""` for the action).
/// `None` for an action that is not about headers.
pub(crate) fn compile(action: &Action, field: &dyn Fn(&str) -> String) -> Option<Result<CompiledHeader, FieldError>> {
    let at = |sub: &'static str| move |err: ActionError| FieldError::new(field(sub), err);
    let value = |value: &str| {
        check_value(value).map_err(at("value"))?;
        Template::parse(value, &Landing::HeaderValue).map_err(|err| FieldError::new(field("value"), err))
    };
    Some(match action {
        Action::SetHeader(header) => check_name(&header.name)
            .map_err(at("name"))
            .and_then(|name| Ok(CompiledHeader::Set { name, value: value(&header.value)? })),
        Action::AppendHeader(header) => check_name(&header.name)
            .map_err(at("name"))
            .and_then(|name| Ok(CompiledHeader::Append { name, value: value(&header.value)? })),
        Action::RemoveHeader(name) => check_name(name).map(CompiledHeader::Remove).map_err(at("")),
        Action::CspAdd(additions) => compile_csp(additions, field),
        Action::SetCookie(set) => compile_cookie(set, field),
        _ => return None,
    })
}

/// A header name a rule may write: a token (RFC 9110), not one the service owns. Returns it
/// in lower case.
pub(crate) fn check_name(name: &str) -> Result<String, ActionError> {
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(ActionError::new(format!(
            "{name:?} is not a header name (letters, digits and !#$%&'*+-.^_`|~, no spaces or colons)"
        )));
    }
    let lower = name.to_ascii_lowercase();
    if let Some((_, why)) = FORBIDDEN_HEADERS.iter().find(|(forbidden, _)| *forbidden == lower) {
        return Err(ActionError::new(format!("rules cannot change `{lower}`: {why}")));
    }
    if lower.starts_with(OWN_PREFIX) {
        return Err(ActionError::new(format!(
            "rules cannot change `{lower}`: `{OWN_PREFIX}*` headers are the service's own (debug, preview, rules); \
             pick another name"
        )));
    }
    Ok(lower)
}

/// A literal header value: ASCII without control characters (a CR or LF would end the
/// header), not over [`MAX_HEADER_VALUE`].
fn check_value(value: &str) -> Result<(), ActionError> {
    if let Some(bad) = value.chars().find(|c| c.is_control()) {
        return Err(ActionError::new(format!(
            "the value holds the control character {bad:?}; a header value is one line of text"
        )));
    }
    if let Some(bad) = value.chars().find(|c| !c.is_ascii()) {
        return Err(ActionError::new(format!(
            "the value holds {bad:?}; header values are ASCII: percent-encode it (e.g. `%C3%B6` for `ö`)"
        )));
    }
    if value.len() > MAX_HEADER_VALUE {
        return Err(ActionError::new(format!(
            "the value is {} bytes; a header value may have {MAX_HEADER_VALUE}",
            value.len()
        )));
    }
    Ok(())
}

/// RFC 9110 `tchar`: what a header or cookie name is made of.
fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

fn compile_csp(
    additions: &std::collections::BTreeMap<String, Vec<String>>,
    field: &dyn Fn(&str) -> String,
) -> Result<CompiledHeader, FieldError> {
    if additions.is_empty() {
        return Err(FieldError::new(
            field(""),
            "no directive to add to; write e.g. {\"script-src\": [\"https://analytics.example\"]}",
        ));
    }
    let mut compiled = Vec::new();
    for (directive, sources) in additions {
        let at = field(directive);
        let lower = check_directive(directive).map_err(|err| FieldError::new(&at, err))?;
        if sources.is_empty() {
            return Err(FieldError::new(at, "no sources to add; list at least one, e.g. \"https://cdn.example\""));
        }
        for (i, source) in sources.iter().enumerate() {
            check_source(&lower, source).map_err(|err| FieldError::new(format!("{at}[{i}]"), err))?;
        }
        compiled.push((lower, sources.clone()));
    }
    Ok(CompiledHeader::CspAdd(compiled))
}

fn compile_cookie(set: &SetCookie, field: &dyn Fn(&str) -> String) -> Result<CompiledHeader, FieldError> {
    let name = &set.name;
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(FieldError::new(
            field("name"),
            format!("{name:?} is not a cookie name (letters, digits and !#$%&'*+-.^_`|~, no spaces or `=`)"),
        ));
    }
    if name == VISITOR_COOKIE {
        return Err(FieldError::new(
            field("name"),
            format!("`{VISITOR_COOKIE}` is the service's visitor cookie (experiments); pick another name"),
        ));
    }
    if let Some(bad) = outside_variables(&set.value).find(|c| !is_cookie_octet(*c)) {
        return Err(FieldError::new(
            field("value"),
            format!(
                "the value holds {bad:?}; a cookie value holds no spaces, quotes, commas, semicolons, backslashes \
                 or control characters (template values are encoded for you)"
            ),
        ));
    }
    let value =
        Template::parse(&set.value, &Landing::CookieValue).map_err(|err| FieldError::new(field("value"), err))?;
    let path = set.path.clone().unwrap_or_else(|| "/".to_owned());
    if !path.starts_with('/') || path.chars().any(|c| c == ';' || c.is_control()) {
        return Err(FieldError::new(
            field("path"),
            format!("{path:?} is not a cookie path: it starts with `/` and holds no `;` or control characters"),
        ));
    }
    let secure = set.secure.unwrap_or(true);
    let same_site = match set.same_site.unwrap_or(SameSite::Lax) {
        SameSite::Strict => cookie::SameSite::Strict,
        SameSite::Lax => cookie::SameSite::Lax,
        SameSite::None if !secure => {
            return Err(FieldError::new(
                field("same_site"),
                "browsers refuse `SameSite=None` without `Secure`: drop `\"secure\": false`, or use \"lax\"",
            ));
        }
        SameSite::None => cookie::SameSite::None,
    };
    let prefixed = ["__Secure-", "__Host-"].into_iter().find(|prefix| name.starts_with(prefix));
    if let Some(prefix) = prefixed
        && (!secure || (prefix == "__Host-" && path != "/"))
    {
        return Err(FieldError::new(
            field("name"),
            format!("browsers refuse a `{prefix}` cookie unless it is secure{}", host_path(prefix)),
        ));
    }
    let cookie = Cookie {
        name: name.clone(),
        path,
        max_age: set.max_age,
        same_site,
        secure,
        http_only: set.http_only.unwrap_or(true),
    };
    Ok(CompiledHeader::SetCookie { cookie, value })
}

fn host_path(prefix: &str) -> &'static str {
    if prefix == "__Host-" { " with the path `/`" } else { "" }
}

/// The characters of a template outside its `{{variables}}` (which may be written with
/// spaces: `{{ query.ref }}`).
fn outside_variables(template: &str) -> impl Iterator<Item = char> + '_ {
    let mut rest = template;
    std::iter::from_fn(move || {
        loop {
            if rest.starts_with("{{") {
                rest = rest.find("}}").map_or("", |close| &rest[close + 2..]);
                continue;
            }
            let c = rest.chars().next()?;
            rest = &rest[c.len_utf8()..];
            return Some(c);
        }
    })
}

/// RFC 6265 `cookie-octet`.
fn is_cookie_octet(c: char) -> bool {
    matches!(c, '\x21' | '\x23'..='\x2b' | '\x2d'..='\x3a' | '\x3c'..='\x5b' | '\x5d'..='\x7e')
}

impl CompiledHeader {
    /// The template the action fills in per request, if any.
    pub(crate) fn template(&self) -> Option<&Template> {
        match self {
            CompiledHeader::Set { value, .. }
            | CompiledHeader::Append { value, .. }
            | CompiledHeader::SetCookie { value, .. } => Some(value),
            CompiledHeader::Remove(_) | CompiledHeader::CspAdd(_) => None,
        }
    }

    /// The edit for this request, values filled in.
    pub(crate) fn plan(&self, context: &RequestContext) -> HeaderEdit {
        match self {
            CompiledHeader::Set { name, value } => {
                HeaderEdit::Set { name: name.clone(), value: value.render(context).into_owned() }
            }
            CompiledHeader::Append { name, value } => {
                HeaderEdit::Append { name: name.clone(), value: value.render(context).into_owned() }
            }
            CompiledHeader::Remove(name) => HeaderEdit::Remove { name: name.clone() },
            CompiledHeader::CspAdd(additions) => HeaderEdit::CspAdd { additions: additions.clone() },
            CompiledHeader::SetCookie { cookie, value } => {
                HeaderEdit::SetCookie { name: cookie.name.clone(), line: cookie.header(&value.render(context)) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::compile::RuleSet;

    /// The error a rule with this one action gets, as `field: reason`.
    fn refused(action: &str) -> String {
        let rule = format!(r#"{{"id": "h", "actions": [{action}]}}"#);
        let (_, errors) = RuleSet::from_entries(&[("e".into(), rule)]);
        assert_eq!(errors.len(), 1, "{action}: {errors:?}");
        format!("{}: {}", errors[0].field.as_deref().unwrap_or(""), errors[0].reason)
    }

    fn edits(rule: &str, url: &str) -> Vec<HeaderEdit> {
        let (rules, errors) = RuleSet::from_entries(&[("e".into(), rule.into())]);
        assert!(errors.is_empty(), "{errors:?}");
        rules.plan(&RequestContext::for_url("GET", url).unwrap()).header_edits()
    }

    #[test]
    fn every_forbidden_name_is_refused_with_why() {
        for (name, why) in FORBIDDEN_HEADERS {
            for action in ["set_header", "append_header"] {
                let upper = name.to_ascii_uppercase();
                let error = refused(&format!(r#"{{"{action}": {{"name": "{upper}", "value": "x"}}}}"#));
                assert_eq!(error, format!("actions[0].{action}.name: rules cannot change `{name}`: {why}"));
            }
            let error = refused(&format!(r#"{{"remove_header": "{name}"}}"#));
            assert!(error.starts_with("actions[0].remove_header: rules cannot change"), "{error}");
        }
        let own = refused(r#"{"set_header": {"name": "X-Edge-Rewriter-Rules", "value": "x"}}"#);
        assert!(own.contains("the service's own"), "{own}");
        assert!(refused(r#"{"set_header": {"name": "set-cookie", "value": "a=1"}}"#).contains("use `set_cookie`"));
        assert!(refused(r#"{"remove_header": "Content-Security-Policy"}"#).contains("use `csp_add`"));
    }

    #[test]
    fn names_must_be_tokens_and_literal_values_one_line() {
        assert!(refused(r#"{"set_header": {"name": "X Frame", "value": "x"}}"#).contains("is not a header name"));
        assert!(refused(r#"{"set_header": {"name": "X-A:", "value": "x"}}"#).contains("is not a header name"));
        let ctl = refused(r#"{"set_header": {"name": "X-A", "value": "a\r\nSet-Cookie: x=1"}}"#);
        assert!(ctl.starts_with("actions[0].set_header.value: ") && ctl.contains("control character"), "{ctl}");
        let long = format!(r#"{{"append_header": {{"name": "X-A", "value": "{}"}}}}"#, "a".repeat(8193));
        assert!(refused(&long).contains("8193 bytes"));
        assert!(
            refused(r#"{"set_header": {"name": "X-A", "value": "K\u00f6ln"}}"#).contains("header values are ASCII")
        );
    }

    #[test]
    fn header_actions_refuse_a_selector() {
        let (_, errors) = RuleSet::from_entries(&[(
            "e".into(),
            r#"{"id": "h", "selector": "body", "actions": [{"set_header": {"name": "X-A", "value": "1"}}]}"#.into(),
        )]);
        assert_eq!(errors[0].field.as_deref(), Some("selector"));
        assert!(errors[0].reason.contains("headers are sent before the page is read"), "{}", errors[0]);
        assert!(errors[0].reason.contains("move `set_header` to a rule without a selector"), "{}", errors[0]);
    }

    #[test]
    fn cookies_are_checked() {
        let none = refused(r#"{"set_cookie": {"name": "a", "value": "1", "same_site": "none", "secure": false}}"#);
        assert!(none.starts_with("actions[0].set_cookie.same_site: ") && none.contains("Secure"), "{none}");
        assert!(refused(r#"{"set_cookie": {"name": "a b", "value": "1"}}"#).contains("not a cookie name"));
        assert!(refused(r#"{"set_cookie": {"name": "a", "value": "1;Domain=evil"}}"#).contains("holds ';'"));
        assert!(refused(r#"{"set_cookie": {"name": "edge_vid", "value": "1"}}"#).contains("visitor cookie"));
        assert!(refused(r#"{"set_cookie": {"name": "a", "value": "1", "path": "x"}}"#).contains("cookie path"));
        assert!(refused(r#"{"set_cookie": {"name": "__Host-a", "value": "1", "path": "/x"}}"#).contains("__Host-"));
    }

    #[test]
    fn csp_sources_are_checked() {
        let star = refused(r#"{"csp_add": {"script-src": ["*"]}}"#);
        assert!(star.starts_with("actions[0].csp_add.script-src[0]: ") && star.contains("allows every host"), "{star}");
        assert!(refused(r#"{"csp_add": {"sandbox": ["x"]}}"#).contains("not a CSP directive"));
        assert!(refused(r#"{"csp_add": {"img-src": []}}"#).contains("no sources"));
        assert!(refused(r#"{"csp_add": {}}"#).contains("no directive"));
    }

    #[test]
    fn a_header_injection_stays_on_one_line() {
        let rule = r#"{"id": "h", "actions": [{"set_header": {"name": "X-Ref", "value": "from {{query.x}}"}},
            {"set_cookie": {"name": "ref", "value": "{{query.x}}", "max_age": 60}}]}"#;
        let planned = edits(rule, "https://www.example.com/?x=a%0d%0aSet-Cookie:%20admin=1;%20Path=/");
        assert_eq!(
            planned,
            [
                HeaderEdit::Set { name: "x-ref".into(), value: "from aSet-Cookie: admin=1; Path=/".into() },
                HeaderEdit::SetCookie {
                    name: "ref".into(),
                    line: "ref=a%0D%0ASet-Cookie:%20admin=1%3B%20Path=/; Path=/; Max-Age=60; SameSite=Lax; Secure; HttpOnly"
                        .into()
                },
            ]
        );
    }

    #[test]
    fn values_beyond_ascii_are_percent_encoded() {
        let rule = r#"{"id": "h", "actions": [{"append_header": {"name": "X-City", "value": "{{query.c}}"}}]}"#;
        let planned = edits(rule, "https://www.example.com/?c=K%C3%B6ln%09");
        assert_eq!(planned, [HeaderEdit::Append { name: "x-city".into(), value: "K%C3%B6ln".into() }]);
    }

    #[test]
    fn experiments_may_change_headers_without_a_selector() {
        let variants = |actions: &str| {
            format!(
                r#"{{"id": "e", {{SELECTOR}} "experiment": {{"id": "x", "variants": [{{"name": "a", "weight": 1}},
                {{"name": "b", "weight": 1, "actions": [{actions}]}}]}}}}"#
            )
        };
        let header = variants(r#"{"set_header": {"name": "X-Variant", "value": "b"}}"#);
        let (_, errors) = RuleSet::from_entries(&[("e".into(), header.replace("{SELECTOR}", ""))]);
        assert!(errors.is_empty(), "{errors:?}");
        let (_, errors) =
            RuleSet::from_entries(&[("e".into(), header.replace("{SELECTOR}", r#""selector": "body","#))]);
        assert_eq!(errors[0].field.as_deref(), Some("selector"));
        assert!(errors[0].reason.contains("`when.experiment`"), "{}", errors[0]);
    }

    #[test]
    fn shadow_rules_plan_no_edits() {
        let rule = r#"{"id": "h", "mode": "shadow", "actions": [{"remove_header": "x-powered-by"}]}"#;
        assert!(edits(rule, "https://www.example.com/").is_empty());
    }
}
