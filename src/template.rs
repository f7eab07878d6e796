//! Templates in inserted content: `{{path}}`, `{{host}}`, `{{query.NAME}}`, `{{country}}`,
//! `{{date}}`. Values come from the request, so they are always escaped for where they land;
//! there is no raw form. `\{{` writes a literal `{{`.

use std::borrow::Cow;

use crate::clock::utc_date;
use crate::request::RequestContext;

/// The variables a template may use, as documented for editors.
pub const VARIABLES: &str = "{{path}}, {{host}}, {{query.NAME}}, {{country}}, {{date}}";

/// Where a rendered value lands, and so how it is escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escaping {
    /// Inside markup or an attribute value: `& < > " '` become character references.
    Html,
    /// Inside text that lol_html escapes itself on insertion.
    None,
}

/// A parsed template: literal text and variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variable(Variable),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Variable {
    Path,
    Host,
    Query(String),
    Country,
    Date,
}

impl Template {
    /// Parses `text`; an unknown variable or an unclosed `{{` is an error naming it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if rest[..open].ends_with('\\') {
                literal.push_str(&rest[..open - 1]);
                literal.push_str("{{");
                rest = &rest[open + 2..];
                continue;
            }
            literal.push_str(&rest[..open]);
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| {
                format!(
                    "`{{{{` without a closing `}}}}` in {:?} (write `\\{{{{` for a literal `{{{{`)",
                    excerpt(&rest[open..])
                )
            })?;
            let name = after[..close].trim();
            let variable = match name {
                "path" => Variable::Path,
                "host" => Variable::Host,
                "country" => Variable::Country,
                "date" => Variable::Date,
                _ => match name.strip_prefix("query.") {
                    Some(param) if !param.is_empty() => Variable::Query(param.to_owned()),
                    _ => {
                        return Err(format!(
                            "unknown template variable `{{{{{name}}}}}`; the variables are {VARIABLES}"
                        ));
                    }
                },
            };
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(Part::Variable(variable));
            rest = &after[close + 2..];
        }
        literal.push_str(rest);
        if !literal.is_empty() || parts.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Self { parts })
    }

    /// The text for this request. A template without variables costs no allocation.
    pub fn render<'a>(&'a self, context: &RequestContext, escaping: Escaping) -> Cow<'a, str> {
        if let [Part::Literal(text)] = self.parts.as_slice() {
            return Cow::Borrowed(text);
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Variable(variable) => {
                    let value: Cow<'_, str> = match variable {
                        Variable::Path => Cow::Borrowed(&context.path),
                        Variable::Host => Cow::Borrowed(&context.host),
                        Variable::Query(name) => Cow::Borrowed(context.query_param(name).unwrap_or("")),
                        Variable::Country => Cow::Borrowed(context.country.as_deref().unwrap_or("")),
                        Variable::Date => Cow::Owned(utc_date(context.now)),
                    };
                    match escaping {
                        Escaping::Html => escape_html_into(&value, &mut out),
                        Escaping::None => out.push_str(&value),
                    }
                }
            }
        }
        Cow::Owned(out)
    }
}

/// Appends `text` with `& < > " '` as character references: safe in markup and in quoted
/// attribute values alike.
pub fn escape_html_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn excerpt(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> RequestContext {
        let mut context =
            RequestContext::for_url("GET", "https://shop.example.com/sale?q=%3Cscript%3E&ref=news").unwrap();
        context.country = Some("DE".into());
        context.now = 1_795_489_200;
        context
    }

    #[test]
    fn variables_are_filled_and_escaped() {
        let template =
            Template::parse("<p>{{ host }}{{path}} {{query.q}} {{country}} {{date}} {{query.none}}</p>").unwrap();
        assert_eq!(
            template.render(&context(), Escaping::Html),
            "<p>shop.example.com/sale &lt;script&gt; DE 2026-11-24 </p>"
        );
        assert_eq!(template.render(&context(), Escaping::None), "<p>shop.example.com/sale <script> DE 2026-11-24 </p>");
    }

    #[test]
    fn static_templates_are_borrowed() {
        let template = Template::parse("<b>plain</b>").unwrap();
        assert!(matches!(template.render(&context(), Escaping::Html), Cow::Borrowed("<b>plain</b>")));
        assert_eq!(Template::parse("").unwrap().render(&context(), Escaping::Html), "");
    }

    #[test]
    fn unknown_and_unclosed_variables_are_errors() {
        let err = Template::parse("Hello {{user}}").unwrap_err();
        assert!(err.contains("unknown template variable `{{user}}`") && err.contains("{{query.NAME}}"), "{err}");
        assert!(Template::parse("{{query.}}").is_err());
        let err = Template::parse("a {{path").unwrap_err();
        assert!(err.contains("without a closing"), "{err}");
    }

    #[test]
    fn escaped_braces_are_literal() {
        let template = Template::parse(r"<div v-if=\{{ ok }}>{{path}}</div>").unwrap();
        assert_eq!(template.render(&context(), Escaping::Html), "<div v-if={{ ok }}>/sale</div>");
    }
}
