//! Where each template value lands in the markup an editor wrote, and so how it must be
//! escaped: read once, when the rule is compiled.
//!
//! The editor's markup is read with a small HTML tokenizer (the states of the HTML
//! standard that decide where text goes: data, tags, attribute values, comments, raw text
//! of `<script>`, `<style>` and the like). A value may land:
//!
//! * in text, RCDATA (`<title>`, `<textarea>`), a comment or a quoted attribute value:
//!   HTML-escaped;
//! * in a `<script>` or an `on…` attribute: as JavaScript string content, or as a whole
//!   string literal where it would be code;
//! * in a `<style>` or a `style` attribute: CSS-escaped;
//! * in a URL attribute: percent-encoded for its part of the URL, with only allowed
//!   schemes (`http`, `https`, `mailto`, `tel`), and never choosing the site a script,
//!   style or frame is loaded from. (A link's host may come from a value: a link can
//!   already lead anywhere its text says, but it runs nothing.)
//!
//! Everywhere else (a tag or attribute name, an unquoted attribute value, `srcdoc`,
//! `srcset`, `<meta http-equiv>`) no escaping is sound, and the rule is refused with what to
//! write instead.

use super::TemplateError;
use super::escape::scheme_allowed;
use super::js::JsLexer;
use crate::http::entities::decode_references;

/// How a value is escaped where it lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// Not at all: lol_html escapes inserted text itself.
    None,
    /// `& < > " '` as references.
    Html,
    /// Inside a JavaScript string, comment or regex literal.
    JsString,
    /// Where JavaScript code goes: as a whole string literal.
    JsValue,
    /// CSS.
    Css,
    /// The start of a URL, where it could set the scheme; `may_set_scheme` when nothing
    /// comes before it, so an allowed scheme of its own is kept.
    UrlStart { may_set_scheme: bool },
    /// A URL's path; `after_root` right after a leading `/`, where another `/` would make
    /// the URL name another host.
    UrlPath { after_root: bool },
    /// A URL's query or fragment.
    UrlComponent,
    /// A response header's value: control characters dropped.
    HeaderValue,
    /// A cookie's value: percent-encoded.
    CookieValue,
}

/// A template as segments: literal text, and the variable numbered `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'t> {
    Text(&'t str),
    Variable(usize),
}

/// The escaping for each variable of markup made of `segments`, or why one cannot land
/// where it is.
pub fn in_markup(segments: &[Segment<'_>]) -> Result<Vec<Escape>, TemplateError> {
    let mut reader = MarkupReader::default();
    for segment in segments {
        match segment {
            Segment::Text(text) => text.chars().try_for_each(|c| reader.step(c))?,
            Segment::Variable(n) => reader.variable(*n)?,
        }
    }
    reader.finish()
}

/// The escaping for each variable of an attribute value set by `set_attribute`, on an
/// element the rule's selector picks (so its tag is not known here).
pub fn in_attribute(name: &str, segments: &[Segment<'_>]) -> Result<Vec<Escape>, TemplateError> {
    let value: Vec<Part> = segments
        .iter()
        .map(|segment| match segment {
            Segment::Text(text) => Part::Text((*text).to_owned()),
            Segment::Variable(n) => Part::Variable(*n),
        })
        .collect();
    let attribute = Attribute { name: name.to_ascii_lowercase(), quoted: true, value };
    let mut escapes = vec![Escape::Html; segments.iter().filter(|s| matches!(s, Segment::Variable(_))).count()];
    decide_attribute(None, &[], &attribute, &mut escapes)?;
    Ok(escapes)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Variable(usize),
}

#[derive(Debug, Clone, Default)]
struct Attribute {
    name: String,
    quoted: bool,
    value: Vec<Part>,
}

impl Attribute {
    fn literal_value(&self) -> String {
        self.value.iter().filter_map(|p| if let Part::Text(t) = p { Some(t.as_str()) } else { None }).collect()
    }
}

#[derive(Debug, Clone, Default)]
struct Tag {
    name: String,
    end: bool,
    attributes: Vec<Attribute>,
}

/// The tokenizer's state, as in the HTML standard (only the states that matter here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Data,
    TagOpen,
    EndTagOpen,
    TagName,
    BeforeAttributeName,
    AttributeName,
    AfterAttributeName,
    BeforeAttributeValue,
    AttributeValue(char),
    AfterAttributeValue,
    UnquotedAttributeValue,
    SelfClosing,
    /// After `<!`: how many `-` of `<!--` were read.
    MarkupDeclaration(u8),
    /// In a comment: how many of the `-` `-` `>` (or `-` `-` `!` `>`) that end it were read.
    Comment(u8),
    BogusComment,
    /// Inside an element whose content is raw text or RCDATA, until its end tag.
    RawText,
}

/// What a raw-text element's content is, for values inside it.
#[derive(Debug, Clone)]
enum RawKind {
    Script(JsLexer),
    Style,
    /// Other raw text and RCDATA (`<title>`, `<textarea>`, `<xmp>` …): HTML escaping keeps
    /// a value from ending the element.
    Text,
}

#[derive(Debug, Default)]
struct MarkupReader {
    state: State,
    tag: Tag,
    escapes: Vec<Option<Escape>>,
    /// For raw text: the element, what its content is, and how much of `</name` was seen.
    raw: Option<(String, RawKind)>,
    raw_end: String,
}

/// Elements whose content is not markup.
const RAW_TEXT_ELEMENTS: [&str; 10] =
    ["script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript", "plaintext"];

impl MarkupReader {
    fn set(&mut self, n: usize, escape: Escape) {
        if self.escapes.len() <= n {
            self.escapes.resize(n + 1, None);
        }
        self.escapes[n] = Some(escape);
    }

    fn variable(&mut self, n: usize) -> Result<(), TemplateError> {
        match self.state {
            State::Data | State::Comment(_) | State::BogusComment | State::MarkupDeclaration(_) => {
                self.set(n, Escape::Html);
                if let State::MarkupDeclaration(_) = self.state {
                    self.state = State::BogusComment;
                }
            }
            State::TagOpen | State::EndTagOpen => {
                return Err(TemplateError::new(
                    "a template variable right after `<` could open a tag; write `&lt;` for a literal `<`",
                ));
            }
            State::TagName
            | State::BeforeAttributeName
            | State::AttributeName
            | State::AfterAttributeName
            | State::AfterAttributeValue
            | State::SelfClosing => {
                return Err(TemplateError::new(format!(
                    "a template variable inside the tag `<{}` (as its name, or an attribute's name) could add any \
                     attribute, event handlers included; put variables in quoted attribute values or text only",
                    self.tag.name
                )));
            }
            State::BeforeAttributeValue | State::UnquotedAttributeValue => {
                let name = self.tag.attributes.last().map(|a| a.name.clone()).unwrap_or_default();
                return Err(TemplateError::new(format!(
                    "the value of `{name}` in `<{}>` is not quoted, so a template variable in it could add \
                     attributes; write {name}=\"…\"",
                    self.tag.name
                )));
            }
            State::AttributeValue(_) => {
                if let Some(attribute) = self.tag.attributes.last_mut() {
                    attribute.value.push(Part::Variable(n));
                }
                // Decided when the tag ends, when all its attributes are known.
                if self.escapes.len() <= n {
                    self.escapes.resize(n + 1, None);
                }
            }
            State::RawText => {
                if self.raw_end.len() > 1 {
                    return Err(TemplateError::new(format!(
                        "a template variable inside `{}…` could end the element early; move it",
                        self.raw_end
                    )));
                }
                if let (Some((_, RawKind::Script(lexer))), false) = (&mut self.raw, self.raw_end.is_empty()) {
                    lexer.feed(&self.raw_end);
                }
                self.raw_end.clear();
                let escape = match &mut self.raw {
                    Some((_, RawKind::Script(lexer))) => {
                        let escape = if lexer.in_code() { Escape::JsValue } else { Escape::JsString };
                        lexer.value();
                        escape
                    }
                    Some((_, RawKind::Style)) => Escape::Css,
                    _ => Escape::Html,
                };
                self.set(n, escape);
            }
        }
        Ok(())
    }

    fn step(&mut self, c: char) -> Result<(), TemplateError> {
        use State::*;
        self.state = match self.state {
            Data => match c {
                '<' => TagOpen,
                _ => Data,
            },
            TagOpen => match c {
                '/' => EndTagOpen,
                '!' => MarkupDeclaration(0),
                '?' => BogusComment,
                c if c.is_ascii_alphabetic() => {
                    self.tag = Tag { name: c.to_ascii_lowercase().to_string(), ..Tag::default() };
                    TagName
                }
                '<' => TagOpen,
                _ => Data,
            },
            EndTagOpen => match c {
                c if c.is_ascii_alphabetic() => {
                    self.tag = Tag { name: c.to_ascii_lowercase().to_string(), end: true, ..Tag::default() };
                    TagName
                }
                '>' => Data,
                _ => BogusComment,
            },
            TagName => match c {
                c if is_space(c) => BeforeAttributeName,
                '/' => SelfClosing,
                '>' => return self.end_tag(),
                c => {
                    self.tag.name.push(c.to_ascii_lowercase());
                    TagName
                }
            },
            BeforeAttributeName | AfterAttributeValue => match c {
                c if is_space(c) => BeforeAttributeName,
                '/' => SelfClosing,
                '>' => return self.end_tag(),
                c => self.new_attribute(c),
            },
            AttributeName => match c {
                c if is_space(c) => AfterAttributeName,
                '/' => SelfClosing,
                '=' => BeforeAttributeValue,
                '>' => return self.end_tag(),
                c => {
                    if let Some(attribute) = self.tag.attributes.last_mut() {
                        attribute.name.push(c.to_ascii_lowercase());
                    }
                    AttributeName
                }
            },
            AfterAttributeName => match c {
                c if is_space(c) => AfterAttributeName,
                '/' => SelfClosing,
                '=' => BeforeAttributeValue,
                '>' => return self.end_tag(),
                c => self.new_attribute(c),
            },
            BeforeAttributeValue => match c {
                c if is_space(c) => BeforeAttributeValue,
                '"' | '\'' => {
                    if let Some(attribute) = self.tag.attributes.last_mut() {
                        attribute.quoted = true;
                    }
                    AttributeValue(c)
                }
                '>' => return self.end_tag(),
                c => {
                    self.push_value(c);
                    UnquotedAttributeValue
                }
            },
            AttributeValue(quote) if c == quote => AfterAttributeValue,
            AttributeValue(quote) => {
                self.push_value(c);
                AttributeValue(quote)
            }
            UnquotedAttributeValue => match c {
                c if is_space(c) => BeforeAttributeName,
                '>' => return self.end_tag(),
                c => {
                    self.push_value(c);
                    UnquotedAttributeValue
                }
            },
            SelfClosing => match c {
                '>' => return self.end_tag(),
                c if is_space(c) => BeforeAttributeName,
                c => self.new_attribute(c),
            },
            MarkupDeclaration(dashes) => match (c, dashes) {
                ('-', 0) => MarkupDeclaration(1),
                ('-', 1) => Comment(0),
                ('>', _) => Data,
                _ => BogusComment,
            },
            Comment(seen) => match (c, seen) {
                ('-', 0) => Comment(1),
                ('-', 1 | 2) => Comment(2),
                ('!', 2) => Comment(3),
                ('>', 2 | 3) => Data,
                _ => Comment(0),
            },
            BogusComment => match c {
                '>' => Data,
                _ => BogusComment,
            },
            RawText => return self.raw_text(c),
        };
        Ok(())
    }

    fn new_attribute(&mut self, first: char) -> State {
        self.tag.attributes.push(Attribute { name: first.to_ascii_lowercase().to_string(), ..Attribute::default() });
        State::AttributeName
    }

    fn push_value(&mut self, c: char) {
        let Some(attribute) = self.tag.attributes.last_mut() else { return };
        match attribute.value.last_mut() {
            Some(Part::Text(text)) => text.push(c),
            _ => attribute.value.push(Part::Text(c.to_string())),
        }
    }

    /// A tag is complete: decide its attribute values' variables, and enter raw text after
    /// a `<script>`, `<style>` and the like.
    fn end_tag(&mut self) -> Result<(), TemplateError> {
        let tag = std::mem::take(&mut self.tag);
        let others: Vec<(String, String)> =
            tag.attributes.iter().map(|a| (a.name.clone(), a.literal_value())).collect();
        let mut decided = Vec::new();
        for attribute in &tag.attributes {
            let variables: Vec<usize> = attribute
                .value
                .iter()
                .filter_map(|p| if let Part::Variable(n) = p { Some(*n) } else { None })
                .collect();
            if variables.is_empty() {
                continue;
            }
            if !attribute.quoted {
                return Err(TemplateError::new(format!(
                    "the value of `{}` in `<{}>` is not quoted, so a template variable in it could add attributes; \
                     write {}=\"…\"",
                    attribute.name, tag.name, attribute.name
                )));
            }
            let mut escapes = vec![Escape::Html; variables.len()];
            decide_attribute(Some(&tag.name), &others, &renumbered(attribute), &mut escapes)?;
            decided.extend(variables.into_iter().zip(escapes));
        }
        for (n, escape) in decided {
            self.set(n, escape);
        }
        self.state = State::Data;
        if !tag.end && RAW_TEXT_ELEMENTS.contains(&tag.name.as_str()) {
            let kind = match tag.name.as_str() {
                "script" if script_is_code(&others) => RawKind::Script(JsLexer::default()),
                "style" => RawKind::Style,
                _ => RawKind::Text,
            };
            self.raw = Some((tag.name, kind));
            self.raw_end.clear();
            self.state = State::RawText;
        }
        Ok(())
    }

    /// Raw text runs until `</name` followed by a space, `/` or `>`.
    fn raw_text(&mut self, c: char) -> Result<(), TemplateError> {
        let Some((name, kind)) = &mut self.raw else {
            self.state = State::Data;
            return Ok(());
        };
        let name = name.clone();
        if name != "plaintext" {
            let expected = format!("</{name}");
            if self.raw_end.len() == expected.len() && (is_space(c) || c == '/' || c == '>') {
                self.raw = None;
                self.raw_end.clear();
                self.tag = Tag { name, end: true, ..Tag::default() };
                self.state = State::TagName;
                return self.step(c);
            }
            let candidate = format!("{}{}", self.raw_end, c.to_ascii_lowercase());
            if expected.starts_with(&candidate) {
                self.raw_end = candidate;
                return Ok(());
            }
            if !self.raw_end.is_empty() {
                let held = std::mem::take(&mut self.raw_end);
                if let RawKind::Script(lexer) = kind {
                    lexer.feed(&held);
                }
                return self.raw_text(c);
            }
        }
        if let RawKind::Script(lexer) = kind {
            lexer.feed(c.encode_utf8(&mut [0; 4]));
        }
        Ok(())
    }

    fn finish(self) -> Result<Vec<Escape>, TemplateError> {
        if matches!(
            self.state,
            State::TagName
                | State::BeforeAttributeName
                | State::AttributeName
                | State::AfterAttributeName
                | State::BeforeAttributeValue
                | State::AttributeValue(_)
                | State::AfterAttributeValue
                | State::UnquotedAttributeValue
                | State::SelfClosing
        ) && self.tag.attributes.iter().any(|a| a.value.iter().any(|p| matches!(p, Part::Variable(_))))
        {
            return Err(TemplateError::new(format!(
                "the tag `<{}` is not closed with `>`, so where its template variables land cannot be told",
                self.tag.name
            )));
        }
        Ok(self.escapes.into_iter().map(|escape| escape.unwrap_or(Escape::Html)).collect())
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

/// The attribute with its variables numbered from 0, for [`decide_attribute`]'s output.
fn renumbered(attribute: &Attribute) -> Attribute {
    let mut next = 0;
    let value = attribute
        .value
        .iter()
        .map(|part| match part {
            Part::Variable(_) => {
                next += 1;
                Part::Variable(next - 1)
            }
            text => text.clone(),
        })
        .collect();
    Attribute { value, ..attribute.clone() }
}

/// Whether a `<script>` with these attributes holds JavaScript (or JSON, whose strings
/// escape the same way) rather than inert data such as an HTML template.
fn script_is_code(attributes: &[(String, String)]) -> bool {
    let Some((_, kind)) = attributes.iter().find(|(name, _)| name == "type") else { return true };
    let kind = kind.trim().to_ascii_lowercase();
    let essence = kind.split(';').next().unwrap_or("").trim();
    essence.is_empty()
        || essence == "module"
        || essence == "importmap"
        || essence == "speculationrules"
        || essence.ends_with("javascript")
        || essence.ends_with("ecmascript")
        || essence.ends_with("json")
        || essence == "text/jscript"
        || essence == "text/livescript"
}

/// Attributes holding a URL.
const URL_ATTRIBUTES: [&str; 20] = [
    "href",
    "src",
    "action",
    "formaction",
    "cite",
    "data",
    "poster",
    "background",
    "codebase",
    "longdesc",
    "usemap",
    "manifest",
    "icon",
    "profile",
    "ping",
    "xlink:href",
    "xml:base",
    "classid",
    "archive",
    "lowsrc",
];

/// Whether the URL in `attribute` of `element` loads something that runs with the page's
/// rights (a script, a stylesheet, a frame, a plugin, the base of every relative URL).
/// With the element unknown (`set_attribute`), any attribute that may do so counts.
fn loads_active_content(element: Option<&str>, attribute: &str) -> bool {
    match element {
        Some("script" | "iframe" | "frame" | "embed") => attribute == "src",
        Some("object" | "applet") => matches!(attribute, "data" | "codebase" | "classid" | "archive" | "code"),
        Some("link" | "base") => attribute == "href",
        Some("use" | "image") => matches!(attribute, "href" | "xlink:href"),
        Some(_) => false,
        None => matches!(attribute, "src" | "href" | "data" | "codebase" | "classid" | "archive" | "xlink:href"),
    }
}

/// Decides the escaping of each variable in a quoted attribute value.
fn decide_attribute(
    element: Option<&str>,
    others: &[(String, String)],
    attribute: &Attribute,
    escapes: &mut [Escape],
) -> Result<(), TemplateError> {
    let name = attribute.name.as_str();
    let on = element.map(|e| format!(" on `<{e}>`")).unwrap_or_default();
    if name.starts_with("on") {
        let mut lexer = JsLexer::default();
        for part in &attribute.value {
            match part {
                Part::Text(text) => lexer.feed(&decode_references(text)),
                Part::Variable(n) => {
                    escapes[*n] = if lexer.in_code() { Escape::JsValue } else { Escape::JsString };
                    lexer.value();
                }
            }
        }
        return Ok(());
    }
    if name == "style" {
        escapes.iter_mut().for_each(|escape| *escape = Escape::Css);
        return Ok(());
    }
    if matches!(name, "srcdoc" | "srcset" | "imagesrcset") {
        return Err(TemplateError::new(format!(
            "template variables cannot be used in `{name}`{on}: its value is {}, which no escaping makes safe; \
             set a fixed value",
            if name == "srcdoc" { "a whole HTML document" } else { "a list of URLs" }
        )));
    }
    if element == Some("meta") && name == "content" && others.iter().any(|(other, _)| other == "http-equiv") {
        return Err(TemplateError::new(
            "template variables cannot be used in the `content` of `<meta http-equiv>`: it acts as a response \
             header (a redirect, a policy); set a fixed value",
        ));
    }
    if !URL_ATTRIBUTES.contains(&name) {
        return Ok(());
    }
    let active = loads_active_content(element, name);
    let mut before = String::new();
    let mut variables_before = 0;
    for (index, part) in attribute.value.iter().enumerate() {
        let n = match part {
            Part::Text(text) => {
                before.push_str(text);
                continue;
            }
            Part::Variable(n) => *n,
        };
        escapes[n] = url_escape(element, name, &before, variables_before, active, &attribute.value[index + 1..])?;
        variables_before += 1;
        // A value stands for some text in the URL's structure: not a separator.
        before.push('x');
    }
    Ok(())
}

/// The escaping of a variable in a URL attribute, from the URL text written before it.
fn url_escape(
    element: Option<&str>,
    name: &str,
    before: &str,
    variables_before: usize,
    active: bool,
    after: &[Part],
) -> Result<Escape, TemplateError> {
    let on = element.map(|e| format!(" on `<{e}>`")).unwrap_or_default();
    let url = before.trim_start_matches(is_space);
    let first_separator = url.find([':', '/', '?', '#']);
    let scheme = first_separator.filter(|&at| url[at..].starts_with(':')).map(|at| &url[..at]);
    if first_separator.is_none() {
        // Nothing fixes the scheme yet: the value could.
        if active {
            return Err(TemplateError::new(format!(
                "a template variable at the start of `{name}`{on} could load a script, style or frame from any \
                 site; write a fixed address before it, e.g. {name}=\"https://cdn.example.com/{{{{path}}}}\""
            )));
        }
        let next_literal: String =
            after.iter().map_while(|p| if let Part::Text(t) = p { Some(t.as_str()) } else { None }).collect();
        let next_separator = next_literal.find([':', '/', '?', '#']);
        if next_separator.is_some_and(|at| next_literal[at..].starts_with(':')) {
            return Err(TemplateError::new(format!(
                "the `:` written after a template variable in `{name}`{on} would let the value choose the URL's \
                 scheme (`java` + `script:`); write the scheme before the variable"
            )));
        }
        return Ok(Escape::UrlStart { may_set_scheme: variables_before == 0 });
    }
    if let Some(scheme) = scheme
        && !scheme_allowed(scheme)
    {
        return Err(TemplateError::new(format!(
            "template variables cannot be used in a `{scheme}:` URL (`{name}`{on}): such URLs run or embed what \
             they hold; use http, https, mailto or tel"
        )));
    }
    let rest = scheme.map_or(url, |scheme| &url[scheme.len() + 1..]);
    if rest.contains(['?', '#']) {
        return Ok(Escape::UrlComponent);
    }
    if let Some(authority) = rest.strip_prefix("//")
        && !authority.contains('/')
        && active
    {
        return Err(TemplateError::new(format!(
            "a template variable in the host of `{name}`{on} could load a script, style or frame from any site; \
             write the host out"
        )));
    }
    Ok(Escape::UrlPath { after_root: rest == "/" })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits `{{}}` markers into segments, numbering the variables.
    fn segments(template: &str) -> Vec<Segment<'_>> {
        let mut out = Vec::new();
        for (i, text) in template.split("{{}}").enumerate() {
            if i > 0 {
                out.push(Segment::Variable(i - 1));
            }
            if !text.is_empty() {
                out.push(Segment::Text(text));
            }
        }
        out
    }

    fn markup(template: &str) -> Vec<Escape> {
        in_markup(&segments(template)).unwrap_or_else(|err| panic!("{template}: {err}"))
    }

    fn refused(template: &str) -> String {
        in_markup(&segments(template)).expect_err(template).to_string()
    }

    #[test]
    fn text_comments_and_quoted_values_are_html() {
        assert_eq!(markup("<p class=\"a {{}}\">{{}}</p><!-- {{}} --><title>{{}}</title>"), [Escape::Html; 4]);
        assert_eq!(markup("<textarea>{{}}</textarea><p title='{{}}'>"), [Escape::Html; 2]);
    }

    #[test]
    fn scripts_are_javascript() {
        assert_eq!(
            markup("<script>var a = \"{{}}\", b = {{}}; // {{}}\n</script>{{}}"),
            [Escape::JsString, Escape::JsValue, Escape::JsString, Escape::Html]
        );
        assert_eq!(markup("<SCRIPT type=module>f({{}})</SCRIPT >"), [Escape::JsValue]);
        assert_eq!(markup("<script type=\"application/ld+json\">{\"name\": \"{{}}\"}</script>"), [Escape::JsString]);
        assert_eq!(markup("<script type=\"text/template\"><b>{{}}</b></script>"), [Escape::Html]);
        assert_eq!(markup("<script>if (a </scrip) x = '{{}}'</script>"), [Escape::JsString]);
    }

    #[test]
    fn event_handlers_are_javascript_after_decoding_references() {
        assert_eq!(markup("<button onclick=\"track(&quot;{{}}&quot;, {{}})\">"), [Escape::JsString, Escape::JsValue]);
    }

    #[test]
    fn styles_are_css() {
        assert_eq!(markup("<style>.a::after { content: \"{{}}\" }</style><p style=\"color: {{}}\">"), [Escape::Css; 2]);
    }

    #[test]
    fn urls_are_escaped_by_their_part() {
        assert_eq!(markup("<a href=\"{{}}\">"), [Escape::UrlStart { may_set_scheme: true }]);
        assert_eq!(
            markup("<a href=\" {{}}{{}}\">"),
            [Escape::UrlStart { may_set_scheme: true }, Escape::UrlStart { may_set_scheme: false }]
        );
        assert_eq!(markup("<a href=\"https://{{}}{{}}\">"), [Escape::UrlPath { after_root: false }; 2]);
        assert_eq!(markup("<a href=\"/{{}}\">"), [Escape::UrlPath { after_root: true }]);
        assert_eq!(markup("<img src=\"/img/{{}}.png\">"), [Escape::UrlPath { after_root: false }]);
        assert_eq!(markup("<a href=\"/search?q={{}}#{{}}\">"), [Escape::UrlComponent; 2]);
        assert_eq!(
            markup("<script src=\"https://cdn.example.com/{{}}\"></script>"),
            [Escape::UrlPath { after_root: false }]
        );
        assert_eq!(markup("<form action='mailto:{{}}'>"), [Escape::UrlPath { after_root: false }]);
    }

    #[test]
    fn contexts_without_a_sound_escaping_are_refused() {
        assert!(refused("<{{}}>").contains("right after `<`"));
        assert!(refused("<p {{}}>").contains("inside the tag `<p`"));
        assert!(refused("<p on{{}}=x>").contains("inside the tag"));
        assert!(refused("<p class={{}}>").contains("not quoted"));
        assert!(refused("<p class=a{{}}>").contains("not quoted"));
        assert!(refused("<iframe srcdoc=\"{{}}\">").contains("srcdoc"));
        assert!(refused("<img srcset=\"{{}} 2x\">").contains("srcset"));
        assert!(refused("<meta content=\"0;url={{}}\" http-equiv=refresh>").contains("http-equiv"));
        assert!(refused("<script src=\"{{}}\"></script>").contains("from any site"));
        assert!(refused("<link rel=stylesheet href=\"//{{}}/a.css\">").contains("host"));
        assert!(refused("<a href=\"javascript:go('{{}}')\">").contains("`javascript:` URL"));
        assert!(refused("<a href=\"{{}}script:x\">").contains("scheme"));
        assert!(refused("<p title=\"{{}}\"").contains("not closed"));
    }

    #[test]
    fn set_attribute_values_are_judged_by_the_attribute_alone() {
        assert_eq!(in_attribute("title", &segments("{{}}")).unwrap(), [Escape::Html]);
        assert_eq!(in_attribute("onclick", &segments("go('{{}}')")).unwrap(), [Escape::JsString]);
        assert_eq!(in_attribute("STYLE", &segments("color:{{}}")).unwrap(), [Escape::Css]);
        assert_eq!(in_attribute("href", &segments("/p?x={{}}")).unwrap(), [Escape::UrlComponent]);
        assert!(in_attribute("href", &segments("{{}}")).unwrap_err().to_string().contains("from any site"));
        assert!(in_attribute("srcdoc", &segments("{{}}")).is_err());
    }
}
