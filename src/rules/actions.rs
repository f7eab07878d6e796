//! Every action in one place: its name as editors write it and the part of a page it works
//! on ([`Action::name`], [`Action::scope`]), what it compiles to and what that costs
//! ([`CompiledAction`]), what it becomes for one request ([`PlannedAction`]), and how it
//! changes the page (the `apply_to_*` functions lol_html's handlers call). Adding an action
//! is a variant in [`Action`] and an arm in each of these. Header actions are compiled in
//! [`super::header_actions`] and applied by whoever holds the response ([`crate::http::header_edit`]).

use std::borrow::Cow;
use std::time::Duration;

use lol_html::html_content::{Comment, ContentType, DocumentEnd, Element};
use lol_html::{HandlerResult, Selector};

use super::budget::{Cost, RegexRoom};
use super::cost::{self, RuleCost};
use super::error::reason_error;
use super::finder::{Finder, REGEX_HOLD_LIMIT};
use super::header_actions::{self, CompiledHeader};
use super::include::{Fallback, FragmentFrom, PlannedInclude, include_path_problem};
use super::pattern::{Pattern, Use};
use super::selector::parse_selector;
use super::template::{Landing, Template};
use super::{Action, Content, FieldError, Include, InsertAs, ReplaceText, TextTarget};
use crate::http::entities::MAX_REFERENCE_LEN;
use crate::http::header_edit::HeaderEdit;
use crate::http::request::RequestContext;

/// The part of a page an action works on, which decides the lol_html handler that runs it
/// and whether the rule needs a selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Elements: needs a selector.
    Element,
    /// Comments: inside the selected elements, or everywhere without a selector.
    Comments,
    /// Text: inside the selected elements, or everywhere without a selector.
    Text,
    /// The end of the document: takes no selector.
    Document,
    /// The response's headers, sent before the page is read: takes no selector.
    Headers,
}

/// The actions on the response's headers, listed once: a pattern, so that every `match` on
/// an action still names each action somewhere (a new one is a compile error, not a surprise).
macro_rules! header_actions {
    () => {
        Action::SetHeader(_)
            | Action::AppendHeader(_)
            | Action::RemoveHeader(_)
            | Action::CspAdd(_)
            | Action::SetCookie(_)
    };
}

impl Action {
    /// The action's name as editors write it.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Before(_) => "before",
            Action::After(_) => "after",
            Action::Prepend(_) => "prepend",
            Action::Append(_) => "append",
            Action::Replace(_) => "replace",
            Action::SetInner(_) => "set_inner",
            Action::Remove => "remove",
            Action::Unwrap => "unwrap",
            Action::SetAttribute(_) => "set_attribute",
            Action::RemoveAttribute(_) => "remove_attribute",
            Action::AddClass(_) => "add_class",
            Action::RemoveClass(_) => "remove_class",
            Action::RewriteAttribute(_) => "rewrite_attribute",
            Action::RenameTag(_) => "rename_tag",
            Action::RemoveComments => "remove_comments",
            Action::ReplaceComments(_) => "replace_comments",
            Action::AppendToDocument(_) => "append_to_document",
            Action::ReplaceText(_) => "replace_text",
            Action::SetHeader(_) => "set_header",
            Action::AppendHeader(_) => "append_header",
            Action::RemoveHeader(_) => "remove_header",
            Action::CspAdd(_) => "csp_add",
            Action::SetCookie(_) => "set_cookie",
        }
    }

    /// The part of a page it works on.
    pub(crate) fn scope(&self) -> Scope {
        match self {
            Action::RemoveComments | Action::ReplaceComments(_) => Scope::Comments,
            Action::ReplaceText(_) => Scope::Text,
            Action::AppendToDocument(_) => Scope::Document,
            header_actions!() => Scope::Headers,
            _ => Scope::Element,
        }
    }
}

/// An action checked and compiled, once per rule-set version.
#[derive(Debug, Clone)]
pub(crate) enum CompiledAction {
    Insert(Slot, CompiledContent),
    Include(Slot, Box<CompiledInclude>),
    Remove,
    Unwrap,
    SetAttribute { name: String, value: Template },
    RemoveAttribute(String),
    AddClass(String),
    RemoveClass(String),
    RewriteAttribute { name: String, pattern: Pattern, replacement: String },
    RenameTag(String),
    RemoveComments,
    ReplaceComments(CompiledContent),
    AppendToDocument(CompiledContent),
    ReplaceText(Box<TextRule>),
    Header(CompiledHeader),
}

/// Inserted content: its template and whether it is markup or text.
#[derive(Debug, Clone)]
pub(crate) struct CompiledContent {
    template: Template,
    kind: Markup,
}

/// A compiled `include`.
#[derive(Debug, Clone)]
pub(crate) struct CompiledInclude {
    from: FragmentFrom,
    path: Template,
    timeout: Duration,
    as_text: bool,
    fallback: Option<CompiledContent>,
    max_bytes: u64,
}

/// How long an include may take when the rule does not say, and at most.
const INCLUDE_TIMEOUT_MS: (u64, u64) = (1_000, 10_000);
/// The largest fragment inserted when the rule does not say, and at most.
const INCLUDE_MAX_BYTES: (u64, u64) = (256 << 10, 4 << 20);

/// A compiled `replace_text`.
#[derive(Debug, Clone)]
pub(crate) struct TextRule {
    pub finder: Finder,
    pub replacement: String,
    pub max: Option<u64>,
    pub targets: Vec<TextTarget>,
    /// Elements whose text (descendants' included) the rule leaves alone, with the
    /// selector parts each costs.
    pub exclude: Vec<(Selector, usize)>,
}

/// Where element content goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Before,
    After,
    Prepend,
    Append,
    Replace,
    SetInner,
}

/// How inserted content is treated (lol_html's `ContentType`, which is not `Debug`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Markup {
    Html,
    Text,
}

impl Markup {
    fn content_type(self) -> ContentType {
        match self {
            Markup::Html => ContentType::Html,
            Markup::Text => ContentType::Text,
        }
    }
}

/// An action with its templates filled in for one request.
#[derive(Debug)]
pub(crate) enum PlannedAction<'r> {
    /// Content for a slot; `true` when it holds request values (from template variables).
    Insert(Slot, Cow<'r, str>, Markup, bool),
    /// An include for a slot, and the marker the handler inserts in its place (given by
    /// the plan, which numbers the page's includes).
    Include(Slot, Box<PlannedInclude>, String),
    Remove,
    Unwrap,
    SetAttribute(&'r str, Cow<'r, str>),
    RemoveAttribute(&'r str),
    AddClass(&'r str),
    RemoveClass(&'r str),
    RewriteAttribute(&'r str, &'r Pattern, &'r str),
    RenameTag(&'r str),
    RemoveComments,
    ReplaceComments(Cow<'r, str>, Markup),
    AppendToDocument(Cow<'r, str>, Markup),
    ReplaceText(&'r TextRule),
    /// A change to the response's headers ([`crate::Plan::header_edits`]).
    Header(HeaderEdit),
}

/// Compiles a list of actions written at `at` (`actions`, or a variant's
/// `experiment.variants[1].actions`), each with the part of the page it works on; regexes are
/// taken from `room` and what the actions cost is added to `cost`.
pub(crate) fn compile_actions(
    actions: &[Action],
    at: &str,
    has_selector: bool,
    room: &mut RegexRoom,
    cost: &mut Cost,
) -> Result<Vec<(Scope, CompiledAction)>, FieldError> {
    actions
        .iter()
        .enumerate()
        .map(|(index, action)| {
            let at = format!("{at}[{index}]");
            let compiled = compile_action(action, &at, has_selector, room)?;
            compiled.add_cost(&format!("{at}.{}", action.name()), cost);
            Ok((action.scope(), compiled))
        })
        .collect()
}

/// Compiles one action, written at `at` (e.g. `actions[0]`).
fn compile_action(
    action: &Action,
    at: &str,
    has_selector: bool,
    room: &mut RegexRoom,
) -> Result<CompiledAction, FieldError> {
    let name = action.name();
    let field = |sub: &str| if sub.is_empty() { format!("{at}.{name}") } else { format!("{at}.{name}.{sub}") };
    match (action.scope(), has_selector) {
        (Scope::Element, false) => {
            return Err(FieldError::new(
                "selector",
                format!("`{name}` acts on elements: give the rule a selector, e.g. \"selector\": \"body\""),
            ));
        }
        (Scope::Document, true) => {
            return Err(FieldError::new(
                "selector",
                format!(
                    "`{name}` acts on the whole document: drop the selector, or move the action to a rule of its own"
                ),
            ));
        }
        (Scope::Headers, true) => return Err(FieldError::new("selector", headers_take_no_selector(name, at))),
        _ => {}
    }
    if let Some(header) = header_actions::compile(action, &field) {
        return header.map(CompiledAction::Header);
    }
    let content = |content: &Content| compile_content(content, &field);
    let insert = |slot: Slot, content: &Content| match content {
        Content::Include(include) => Ok(CompiledAction::Include(
            slot,
            Box::new(compile_include(include, &|sub| field(&format!("include.{sub}")))?),
        )),
        other => Ok(CompiledAction::Insert(slot, compile_content(other, &field)?)),
    };
    Ok(match action {
        Action::Before(c) => insert(Slot::Before, c)?,
        Action::After(c) => insert(Slot::After, c)?,
        Action::Prepend(c) => insert(Slot::Prepend, c)?,
        Action::Append(c) => insert(Slot::Append, c)?,
        Action::Replace(c) => insert(Slot::Replace, c)?,
        Action::SetInner(c) => insert(Slot::SetInner, c)?,
        Action::Remove => CompiledAction::Remove,
        Action::Unwrap => CompiledAction::Unwrap,
        Action::SetAttribute(set) => {
            check_attribute_name(&set.name).map_err(|err| FieldError::new(field("name"), err))?;
            let value = Template::parse(&set.value, &Landing::Attribute(set.name.clone()))
                .map_err(|err| FieldError::new(field("value"), err))?;
            CompiledAction::SetAttribute { name: set.name.clone(), value }
        }
        Action::RemoveAttribute(name) => {
            check_attribute_name(name).map_err(|err| FieldError::new(field(""), err))?;
            CompiledAction::RemoveAttribute(name.clone())
        }
        Action::AddClass(class) | Action::RemoveClass(class) => {
            check_class_name(class).map_err(|err| FieldError::new(field(""), err))?;
            match action {
                Action::AddClass(_) => CompiledAction::AddClass(class.clone()),
                _ => CompiledAction::RemoveClass(class.clone()),
            }
        }
        Action::RewriteAttribute(rewrite) => {
            check_attribute_name(&rewrite.name).map_err(|err| FieldError::new(field("name"), err))?;
            room.may_compile(&field("pattern"))?;
            let size = room.regex_size();
            let pattern = Pattern::regex_within(&rewrite.pattern, Use::Page, size)
                .map_err(|err| room.refusal(&field("pattern"), err))?;
            room.take(&field("pattern"), pattern.memory(), pattern.compile_ns())?;
            check_replacement(&pattern, &rewrite.replacement)
                .map_err(|err| FieldError::new(field("replacement"), err))?;
            CompiledAction::RewriteAttribute {
                name: rewrite.name.clone(),
                pattern,
                replacement: rewrite.replacement.clone(),
            }
        }
        Action::RenameTag(tag) => {
            check_tag_name(tag).map_err(|err| FieldError::new(field(""), err))?;
            CompiledAction::RenameTag(tag.clone())
        }
        Action::RemoveComments => CompiledAction::RemoveComments,
        Action::ReplaceComments(c) => CompiledAction::ReplaceComments(content(c)?),
        Action::AppendToDocument(c) => CompiledAction::AppendToDocument(content(c)?),
        Action::ReplaceText(replace) => {
            // Past the set's text rules, page or compile budget, refused before it compiles.
            let regex = replace.regex.is_some() || replace.case_insensitive;
            room.may_add_text_rule(
                &field(""),
                if regex { cost::REGEX_PS_PER_BYTE } else { cost::LITERAL_PS_PER_BYTE },
            )?;
            if regex {
                room.may_compile(&field(if replace.regex.is_some() { "regex" } else { "find" }))?;
            }
            let rule = compile_text_rule(replace, &field, room)?;
            let regex = match &rule.finder {
                Finder::Exact { .. } => None,
                Finder::AnyCase { regex, .. } => Some(("find", regex)),
                Finder::Pattern { regex } => Some(("regex", regex)),
            };
            if let Some((sub, regex)) = regex {
                room.take(&field(sub), regex.memory(), regex.compile_ns())?;
            }
            CompiledAction::ReplaceText(Box::new(rule))
        }
        header_actions!() => unreachable!("compiled by header_actions::compile above"),
    })
}

/// Why a header action cannot be in a rule with a selector, and where to move it. Every
/// condition a `when` may hold is known before the body (request facts, status, content
/// type), so the same `when` works on a rule of its own; in an experiment's variant, a rule
/// that tests the variant with `when.experiment` does.
fn headers_take_no_selector(name: &str, at: &str) -> String {
    let moved = if at.starts_with("experiment.") {
        "that tests the variant with `when.experiment`, e.g. \"when\": {\"experiment\": {\"id\": \"…\", \"variant\": \"…\"}}"
    } else {
        "(same `when`: every condition a rule may hold is known before the page is)"
    };
    format!("headers are sent before the page is read; move `{name}` to a rule without a selector {moved}")
}

reason_error! {
    /// Why an action's name or replacement cannot be used.
    pub(crate) struct ActionError;
}

/// The text kinds `replace_text` changes when the rule does not say.
const DEFAULT_TEXT_TARGETS: [TextTarget; 2] = [TextTarget::Text, TextTarget::Title];

/// Compiles a `replace_text`; `field(sub)` names its field `sub` (`""` for the action).
fn compile_text_rule(
    rule: &ReplaceText,
    field: &dyn Fn(&str) -> String,
    room: &mut RegexRoom,
) -> Result<TextRule, FieldError> {
    let flags = if rule.case_insensitive { "(?i)" } else { "" };
    let finder = match (&rule.find, &rule.regex) {
        (Some(find), None) => {
            if find.is_empty() {
                return Err(FieldError::new(field("find"), "the text to find is empty"));
            }
            Finder::literal(find, rule.case_insensitive).map_err(|err| FieldError::new(field("find"), err))?
        }
        (None, Some(pattern)) => {
            // The message quotes the regex as the editor wrote it, without the flags.
            let flagged = format!("{flags}{pattern}");
            let size = room.regex_size();
            let regex = Pattern::regex_within(&flagged, Use::Page, size).map_err(|err| {
                let unflagged = err.to_string().replace(&flagged, pattern);
                match err.over_given_size() {
                    true => room.refusal(&field("regex"), err),
                    false => FieldError::new(field("regex"), unflagged),
                }
            })?;
            if regex.is_match("") {
                return Err(FieldError::new(
                    field("regex"),
                    format!(
                        "the regex {pattern:?} matches empty text, so it would insert the replacement between every character; make it match at least one character"
                    ),
                ));
            }
            check_replacement(&regex, &rule.replace).map_err(|err| FieldError::new(field("replace"), err))?;
            Finder::Pattern { regex }
        }
        (Some(_), Some(_)) => {
            return Err(FieldError::new(field(""), "give `find` (literal text) or `regex`, not both"));
        }
        (None, None) => {
            return Err(FieldError::new(field(""), "say what to look for: `find` (literal text) or `regex`"));
        }
    };
    if rule.max == Some(0) {
        return Err(FieldError::new(
            field("max"),
            "0 replacements would do nothing; leave `max` out to replace every match",
        ));
    }
    let targets = match &rule.targets {
        Some(targets) if targets.is_empty() => {
            return Err(FieldError::new(
                field("in"),
                "an empty list changes nothing; leave `in` out for text and titles",
            ));
        }
        Some(targets) => targets.clone(),
        None => DEFAULT_TEXT_TARGETS.to_vec(),
    };
    let exclude = match &rule.exclude {
        Some(selectors) if selectors.is_empty() => {
            return Err(FieldError::new(field("exclude"), "an empty list excludes nothing; leave `exclude` out"));
        }
        Some(selectors) => selectors
            .iter()
            .enumerate()
            .map(|(index, selector)| {
                parse_selector(selector)
                    .map(|(selector, shape)| (selector, shape.parts))
                    .map_err(|err| FieldError::new(field(&format!("exclude[{index}]")), err))
            })
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    Ok(TextRule { finder, replacement: rule.replace.clone(), max: rule.max, targets, exclude })
}

/// Compiles inserted content; `field(sub)` names its field `sub`.
fn compile_content(content: &Content, field: &dyn Fn(&str) -> String) -> Result<CompiledContent, FieldError> {
    let (text, kind, sub, landing) = match content {
        Content::Html(text) => (text, Markup::Html, "html", Landing::Markup),
        Content::Text(text) => (text, Markup::Text, "text", Landing::Text),
        Content::Include(_) => {
            return Err(FieldError::new(
                field("include"),
                "an include goes where an element action puts content (before, after, prepend, append, replace, \
                 set_inner), not here; use html or text",
            ));
        }
    };
    let template = Template::parse(text, &landing).map_err(|err| FieldError::new(field(sub), err))?;
    Ok(CompiledContent { template, kind })
}

/// Compiles an `include`; `field(sub)` names its field `sub`.
fn compile_include(include: &Include, field: &dyn Fn(&str) -> String) -> Result<CompiledInclude, FieldError> {
    let from = match (&include.backend, &include.site) {
        (Some(_), Some(_)) => {
            return Err(FieldError::new(field("site"), "give `backend` or `site`, not both"));
        }
        (None, None) => FragmentFrom::Origin,
        (Some(backend), None) if backend == "origin" => FragmentFrom::Origin,
        (Some(backend), None) => {
            let valid = !backend.is_empty()
                && backend.len() <= 255
                && backend.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
            if !valid {
                return Err(FieldError::new(
                    field("backend"),
                    format!(
                        "{backend:?} is not a backend name: \"origin\", or a backend of the service (letters, digits, `_`, `-`, `.`)"
                    ),
                ));
            }
            FragmentFrom::Backend(backend.clone())
        }
        (None, Some(site)) => {
            let host = site.trim().to_ascii_lowercase();
            let valid = !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b));
            if !valid {
                return Err(FieldError::new(
                    field("site"),
                    format!("{site:?} is not a host; name a host of the sites map, e.g. \"cms.example.com\""),
                ));
            }
            FragmentFrom::Site(host)
        }
    };
    if !include.path.starts_with('/') || include.path.starts_with("//") {
        return Err(FieldError::new(
            field("path"),
            format!(
                "{:?} must be a path on that origin, starting with a single `/`, e.g. \"/fragments/banner.html\"",
                include.path
            ),
        ));
    }
    if include.path.bytes().any(|b| b.is_ascii_control() || b == b' ' || b == b'\\') {
        return Err(FieldError::new(
            field("path"),
            "a path holds no spaces, backslashes or control characters; percent-encode them",
        ));
    }
    let path =
        Template::parse(&include.path, &Landing::RequestPath).map_err(|err| FieldError::new(field("path"), err))?;
    let in_range = |value: Option<u64>, (default, max): (u64, u64), name: &str, unit: &str| match value {
        None => Ok(default),
        Some(0) => Err(FieldError::new(
            field(name),
            format!("0 {unit} leaves no room for a fragment; leave `{name}` out for {default}"),
        )),
        Some(value) if value > max => {
            Err(FieldError::new(field(name), format!("{value} {unit} is over the most an include may take, {max}")))
        }
        Some(value) => Ok(value),
    };
    let timeout = Duration::from_millis(in_range(include.timeout_ms, INCLUDE_TIMEOUT_MS, "timeout_ms", "ms")?);
    let max_bytes = in_range(include.max_bytes, INCLUDE_MAX_BYTES, "max_bytes", "bytes")?;
    let fallback = match include.fallback.as_deref() {
        None => None,
        Some(Content::Include(_)) => {
            return Err(FieldError::new(field("fallback"), "a fallback is html or text, not another include"));
        }
        Some(content) => Some(compile_content(content, &|sub| field(&format!("fallback.{sub}")))?),
    };
    Ok(CompiledInclude { from, path, timeout, as_text: include.insert_as == Some(InsertAs::Text), fallback, max_bytes })
}

/// Attribute names lol_html would refuse at run time are refused here instead.
pub(crate) fn check_attribute_name(name: &str) -> Result<(), ActionError> {
    let bad = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '>' | '/' | '=' | '<');
    if name.is_empty() || name.chars().any(bad) {
        return Err(ActionError::new(format!(
            "{name:?} is not an attribute name (no spaces, quotes, `<`, `>`, `/` or `=`)"
        )));
    }
    Ok(())
}

/// A class is one name of a `class` list: not empty, no space (a list is split on spaces)
/// and nothing that could end the attribute.
fn check_class_name(name: &str) -> Result<(), ActionError> {
    if name.is_empty() {
        return Err(ActionError::new("the class name is empty; give one, e.g. \"cta-big\""));
    }
    if name.chars().any(char::is_whitespace) {
        return Err(ActionError::new(format!(
            "{name:?} is more than one class: give one class per action, e.g. [{{\"add_class\": \"a\"}}, \
             {{\"add_class\": \"b\"}}]"
        )));
    }
    if let Some(bad) = name.chars().find(|c| c.is_control() || matches!(c, '"' | '\'' | '<' | '>')) {
        return Err(ActionError::new(format!(
            "{name:?} has {bad:?}: a class name holds no quote, `<`, `>` or control character"
        )));
    }
    Ok(())
}

fn check_tag_name(name: &str) -> Result<(), ActionError> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(ActionError::new(format!(
            "{name:?} is not a tag name (a letter, then letters, digits, `-` or `_`)"
        )));
    }
    Ok(())
}

/// `$2` in a replacement for a regex with one group silently inserts nothing; say so now.
fn check_replacement(pattern: &Pattern, replacement: &str) -> Result<(), ActionError> {
    let bytes = replacement.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        let rest = &replacement[i + 1..];
        if rest.starts_with('$') {
            i += 2;
            continue;
        }
        let (reference, used) = if let Some(braced) = rest.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => return Err(ActionError::new(format!("`${{` without a closing `}}` in {replacement:?}"))),
            }
        } else {
            let len = rest.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
            (&rest[..len], len)
        };
        let known = match reference.parse::<usize>() {
            Ok(group) => group < pattern.group_count(),
            Err(_) => reference.is_empty() || pattern.group_names().any(|name| name == reference),
        };
        if !known {
            return Err(ActionError::new(format!(
                "`${reference}` refers to a capture group the pattern does not have (it has {} numbered group(s){}); write `$$` for a literal `$`",
                pattern.group_count() - 1,
                named_groups(pattern)
            )));
        }
        i += 1 + used;
    }
    Ok(())
}

fn named_groups(pattern: &Pattern) -> String {
    let names: Vec<&str> = pattern.group_names().collect();
    if names.is_empty() { String::new() } else { format!(" and named {}", names.join(", ")) }
}

impl CompiledAction {
    /// The templates the action fills in per request.
    pub(crate) fn templates(&self) -> impl Iterator<Item = &Template> {
        let (template, fallback) = match self {
            CompiledAction::Insert(_, content)
            | CompiledAction::ReplaceComments(content)
            | CompiledAction::AppendToDocument(content) => (Some(&content.template), None),
            CompiledAction::SetAttribute { value, .. } => (Some(value), None),
            CompiledAction::Include(_, include) => {
                (Some(&include.path), include.fallback.as_ref().map(|fallback| &fallback.template))
            }
            CompiledAction::Header(header) => (header.template(), None),
            _ => (None, None),
        };
        template.into_iter().chain(fallback)
    }

    /// Whether the action includes a fragment.
    pub(crate) fn is_include(&self) -> bool {
        matches!(self, CompiledAction::Include(..))
    }

    /// Adds what this action's templates depend on to `dependence`.
    pub(crate) fn depend(&self, dependence: &mut crate::rules::dependence::Dependence) {
        match self {
            CompiledAction::Insert(_, content)
            | CompiledAction::ReplaceComments(content)
            | CompiledAction::AppendToDocument(content) => content.template.depend(dependence),
            CompiledAction::SetAttribute { value, .. } => value.depend(dependence),
            CompiledAction::Include(..) => self.templates().for_each(|template| template.depend(dependence)),
            CompiledAction::Header(header) => header.template().into_iter().for_each(|value| value.depend(dependence)),
            _ => {}
        }
    }

    /// Adds what this action costs against the budgets; `field` is where it is written.
    pub(crate) fn add_cost(&self, field: &str, cost: &mut Cost) {
        self.add_cpu(field, &mut cost.cpu);
        if let CompiledAction::ReplaceText(rule) = self {
            let held = match &rule.finder {
                Finder::Exact { pattern, .. } => pattern.len() + MAX_REFERENCE_LEN,
                Finder::AnyCase { pattern, .. } => pattern.len() * 4 + MAX_REFERENCE_LEN,
                Finder::Pattern { .. } => REGEX_HOLD_LIMIT,
            };
            cost.held_text.add(field, held);
            cost.text_rules.add(field, 1);
            for (index, (_, parts)) in rule.exclude.iter().enumerate() {
                cost.selector_parts.add(&format!("{field}.exclude[{index}]"), *parts);
            }
        }
    }

    /// What the action costs the guest where it applies, by the cost model.
    fn add_cpu(&self, field: &str, cpu: &mut RuleCost) {
        let insert = |content: &CompiledContent| {
            let bytes = u32::try_from(content.template.source_len()).unwrap_or(u32::MAX);
            cost::INSERT_NS.saturating_add(bytes.saturating_mul(cost::INSERT_NS_PER_BYTE))
        };
        match self {
            CompiledAction::Insert(slot, content) => {
                let end_tag = if matches!(slot, Slot::Replace | Slot::SetInner) { cost::END_TAG_NS } else { 0 };
                cpu.add_match(field, insert(content) + end_tag);
            }
            CompiledAction::Include(slot, _) => {
                let end_tag = if matches!(slot, Slot::Replace | Slot::SetInner) { cost::END_TAG_NS } else { 0 };
                cpu.add_match(field, cost::INSERT_NS + end_tag);
            }
            CompiledAction::Remove | CompiledAction::Unwrap | CompiledAction::RenameTag(_) => {
                cpu.add_match(field, cost::END_TAG_NS);
            }
            CompiledAction::SetAttribute { .. }
            | CompiledAction::RemoveAttribute(_)
            | CompiledAction::AddClass(_)
            | CompiledAction::RemoveClass(_) => {
                cpu.add_match(field, cost::ATTRIBUTE_NS);
            }
            CompiledAction::RewriteAttribute { .. } => cpu.add_match(field, 2 * cost::ATTRIBUTE_NS),
            CompiledAction::RemoveComments | CompiledAction::ReplaceComments(_) => cpu.add_comment(field),
            CompiledAction::ReplaceText(rule) => {
                let ps = match rule.finder {
                    Finder::Exact { .. } => cost::LITERAL_PS_PER_BYTE,
                    Finder::AnyCase { .. } | Finder::Pattern { .. } => cost::REGEX_PS_PER_BYTE,
                };
                cpu.add_text(field, ps);
            }
            // Once per page or per response: nothing per element.
            CompiledAction::AppendToDocument(_) | CompiledAction::Header(_) => {}
        }
    }

    pub(crate) fn plan<'r>(&'r self, context: &RequestContext) -> PlannedAction<'r> {
        let content = |c: &'r CompiledContent| (c.template.render(context), c.kind);
        match self {
            CompiledAction::Insert(slot, c) => {
                let (text, kind) = content(c);
                PlannedAction::Insert(*slot, text, kind, c.template.has_variables())
            }
            CompiledAction::Include(slot, include) => {
                let path = include.path.render(context).into_owned();
                let planned = PlannedInclude {
                    // The plan fills in the rule.
                    rule: String::new(),
                    from: include.from.clone(),
                    unusable: include_path_problem(&path),
                    path,
                    timeout: include.timeout,
                    as_text: include.as_text,
                    fallback: include.fallback.as_ref().map(|fallback| Fallback {
                        content: fallback.template.render(context).into_owned(),
                        as_text: fallback.kind == Markup::Text,
                    }),
                    max_bytes: include.max_bytes,
                    // The plan fills in whether the rule acts more than once.
                    repeats: true,
                };
                PlannedAction::Include(*slot, Box::new(planned), String::new())
            }
            CompiledAction::Remove => PlannedAction::Remove,
            CompiledAction::Unwrap => PlannedAction::Unwrap,
            CompiledAction::SetAttribute { name, value } => PlannedAction::SetAttribute(name, value.render(context)),
            CompiledAction::RemoveAttribute(name) => PlannedAction::RemoveAttribute(name),
            CompiledAction::AddClass(class) => PlannedAction::AddClass(class),
            CompiledAction::RemoveClass(class) => PlannedAction::RemoveClass(class),
            CompiledAction::RewriteAttribute { name, pattern, replacement } => {
                PlannedAction::RewriteAttribute(name, pattern, replacement)
            }
            CompiledAction::RenameTag(tag) => PlannedAction::RenameTag(tag),
            CompiledAction::RemoveComments => PlannedAction::RemoveComments,
            CompiledAction::ReplaceComments(c) => {
                let (text, kind) = content(c);
                PlannedAction::ReplaceComments(text, kind)
            }
            CompiledAction::AppendToDocument(c) => {
                let (text, kind) = content(c);
                PlannedAction::AppendToDocument(text, kind)
            }
            CompiledAction::ReplaceText(rule) => PlannedAction::ReplaceText(rule),
            CompiledAction::Header(header) => PlannedAction::Header(header.plan(context)),
        }
    }
}

impl PlannedAction<'_> {
    /// Where the action puts content, for those that put some (content or an include).
    fn slot(&self) -> Option<Slot> {
        match self {
            PlannedAction::Insert(slot, ..) | PlannedAction::Include(slot, ..) => Some(*slot),
            _ => None,
        }
    }
}

impl PlannedAction<'_> {
    /// Whether the action changes the element's end tag or what lies before it: a stop
    /// between its start and end tags would leave it half-done.
    pub(crate) fn changes_end_tag(&self) -> bool {
        matches!(self, PlannedAction::Remove | PlannedAction::Unwrap | PlannedAction::RenameTag(_))
            || matches!(self.slot(), Some(Slot::Replace | Slot::SetInner))
    }
}

/// `after` and `prepend`: lol_html puts each one closest to the element, so repeated ones
/// come out reversed unless registered in reverse.
pub(crate) fn inserts_in_reverse(action: &PlannedAction<'_>) -> bool {
    matches!(action.slot(), Some(Slot::After | Slot::Prepend))
}

/// Puts `content` in `slot` of `el`.
fn insert_at(el: &mut Element, slot: Slot, content: &str, kind: ContentType) {
    match slot {
        Slot::Before => el.before(content, kind),
        Slot::After => el.after(content, kind),
        Slot::Prepend => el.prepend(content, kind),
        Slot::Append => el.append(content, kind),
        Slot::Replace => el.replace(content, kind),
        Slot::SetInner => el.set_inner_content(content, kind),
    }
}

pub(crate) fn apply_to_element(action: &PlannedAction<'_>, el: &mut Element) -> HandlerResult {
    // Once an element is removed or replaced, lol_html would still emit content appended
    // inside it; editors expect it gone with the element. Only before/after still apply.
    if el.removed() && !matches!(action.slot(), Some(Slot::Before | Slot::After)) {
        return Ok(());
    }
    match action {
        PlannedAction::Include(slot, include, marker) => {
            // Inside a script or style a fragment would be code: not there.
            if matches!(slot, Slot::Prepend | Slot::Append | Slot::SetInner)
                && matches!(el.tag_name().as_str(), "script" | "style" | "textarea" | "title")
            {
                log::warn!("include {} (rule {}) was not put inside a <{}>", include.path, include.rule, el.tag_name());
                return Ok(());
            }
            insert_at(el, *slot, marker, ContentType::Html);
        }
        PlannedAction::Insert(slot, text, kind, from_request) => {
            // Inside a script or style, text is code: request values escaped for markup or
            // text could still end a string there. Such content is not inserted.
            if *from_request
                && matches!(slot, Slot::Prepend | Slot::Append | Slot::SetInner)
                && matches!(el.tag_name().as_str(), "script" | "style")
            {
                log::warn!(
                    "content with template values was not inserted into a <{}>: values there would be code",
                    el.tag_name()
                );
                return Ok(());
            }
            insert_at(el, *slot, text, kind.content_type());
        }
        PlannedAction::Remove => el.remove(),
        PlannedAction::Unwrap => el.remove_and_keep_content(),
        PlannedAction::SetAttribute(name, value) => el.set_attribute(name, value)?,
        PlannedAction::RemoveAttribute(name) => el.remove_attribute(name),
        PlannedAction::AddClass(class) => {
            let list = el.get_attribute("class").unwrap_or_default();
            if !list.split_ascii_whitespace().any(|there| there == *class) {
                let kept = list.trim_end();
                let added = if kept.trim_start().is_empty() { (*class).to_owned() } else { format!("{kept} {class}") };
                el.set_attribute("class", &added)?;
            }
        }
        PlannedAction::RemoveClass(class) => {
            if let Some(list) = el.get_attribute("class")
                && list.split_ascii_whitespace().any(|there| there == *class)
            {
                let kept: Vec<&str> = list.split_ascii_whitespace().filter(|there| there != class).collect();
                el.set_attribute("class", &kept.join(" "))?;
            }
        }
        PlannedAction::RewriteAttribute(name, pattern, replacement) => {
            if let Some(value) = el.get_attribute(name)
                && let Cow::Owned(rewritten) = pattern.replace_all(&value, replacement)
            {
                el.set_attribute(name, &rewritten)?;
            }
        }
        PlannedAction::RenameTag(tag) => el.set_tag_name(tag)?,
        PlannedAction::RemoveComments
        | PlannedAction::ReplaceComments(..)
        | PlannedAction::AppendToDocument(..)
        | PlannedAction::ReplaceText(..)
        | PlannedAction::Header(_) => {}
    }
    Ok(())
}

pub(crate) fn apply_to_comment(action: &PlannedAction<'_>, comment: &mut Comment) {
    match action {
        PlannedAction::RemoveComments => comment.remove(),
        PlannedAction::ReplaceComments(text, kind) => comment.replace(text, kind.content_type()),
        _ => {}
    }
}

pub(crate) fn apply_to_document_end(action: &PlannedAction<'_>, end: &mut DocumentEnd) {
    if let PlannedAction::AppendToDocument(text, kind) = action {
        end.append(text, kind.content_type());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacement_references_are_checked() {
        let pattern = Pattern::regex("^http://(?P<host>[^/]+)(/.*)$", Use::Page).unwrap();
        assert!(check_replacement(&pattern, "https://$host$2").is_ok());
        assert!(check_replacement(&pattern, "https://${host}${2}").is_ok());
        assert!(check_replacement(&pattern, "cost: $$5").is_ok());
        let err = check_replacement(&pattern, "https://$3").unwrap_err().to_string();
        assert!(err.contains("`$3`") && err.contains("2 numbered group(s) and named host"), "{err}");
        assert!(check_replacement(&pattern, "${host").is_err());
    }
}
