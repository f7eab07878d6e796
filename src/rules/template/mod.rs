//! Templates in inserted content: `{{path}}`, `{{host}}`, `{{origin}}`, `{{query.NAME}}`, `{{country}}`,
//! `{{geo.*}}`, `{{device.type}}`, `{{experiment.ID}}`, `{{date}}`. Values come from the request, so each is escaped for the exact place it
//! lands (text, attribute, script, style, URL part), decided once when the rule is
//! compiled ([`landing`]); where no escaping is sound the rule is refused. There is no raw
//! form. `\{{` writes a literal `{{`.

pub(crate) mod escape;
mod js;
mod landing;
mod nonce;

use std::borrow::Cow;

use landing::{Escape, Segment};

use crate::http::request::RequestContext;
use crate::http::time::utc_date;
use crate::rules::error::reason_error;

reason_error! {
    /// Why a template cannot be used: an unknown variable, an unclosed `{{`, or a variable where
    /// no escaping is sound.
    pub struct TemplateError;
}

/// The variables a template may use, as documented for editors.
pub const VARIABLES: &str = "{{path}}, {{host}}, {{origin}}, {{query.NAME}}, {{country}}, {{geo.country}}, {{geo.continent}}, \
                             {{geo.region}}, {{geo.city}}, {{geo.asn}}, {{device.type}}, {{experiment.ID}}, {{date}}";

/// Where a template's output goes, which decides how its values are escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Landing {
    /// Markup inserted into the page (`"html"` content): each value is escaped for where
    /// it lands in that markup.
    Markup,
    /// Text inserted into the page (`"text"` content): lol_html escapes it on insertion.
    Text,
    /// The value of the attribute `name`, set on elements a selector picks.
    Attribute(String),
    /// The path (and query) of a request the service makes, an include's: each value is
    /// percent-encoded as one segment or query value, so it cannot add segments or a query.
    RequestPath,
    /// A response header's value (`set_header`, `append_header`): control characters are
    /// dropped from values, so none can start another header line.
    HeaderValue,
    /// A cookie's value (`set_cookie`): values are percent-encoded, so none can end the
    /// cookie or add an attribute to it.
    CookieValue,
}

/// A parsed template: literal text and variables, each with its escaping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
    /// Markup gets the page's CSP nonce on its scripts and styles.
    markup: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variable(Variable, Escape),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Variable {
    Path,
    Host,
    /// `scheme://host[:port]` as the client used it: links that work on any port.
    Origin,
    Query(String),
    Country,
    Continent,
    Region,
    City,
    Asn,
    Device,
    /// The variant of the experiment with this id.
    Experiment(String),
    Date,
}

impl Template {
    /// Parses `text`, whose output goes to `landing`. An unknown variable, an unclosed
    /// `{{`, or a variable where no escaping is sound is an error saying what to write.
    pub fn parse(text: &str, landing: &Landing) -> Result<Self, TemplateError> {
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
                TemplateError::new(format!(
                    "`{{{{` without a closing `}}}}` in {:?} (write `\\{{{{` for a literal `{{{{`)",
                    excerpt(&rest[open..])
                ))
            })?;
            let name = after[..close].trim();
            let variable = match name {
                "path" => Variable::Path,
                "host" => Variable::Host,
                "origin" => Variable::Origin,
                "country" | "geo.country" => Variable::Country,
                "geo.continent" => Variable::Continent,
                "geo.region" => Variable::Region,
                "geo.city" => Variable::City,
                "geo.asn" => Variable::Asn,
                "device.type" => Variable::Device,
                "date" => Variable::Date,
                _ => match (name.strip_prefix("query."), name.strip_prefix("experiment.")) {
                    (Some(param), _) if !param.is_empty() => Variable::Query(param.to_owned()),
                    (_, Some(id)) if !id.is_empty() => Variable::Experiment(id.to_owned()),
                    _ => {
                        return Err(TemplateError::new(format!(
                            "unknown template variable `{{{{{name}}}}}`; the variables are {VARIABLES}"
                        )));
                    }
                },
            };
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(Part::Variable(variable, Escape::Html));
            rest = &after[close + 2..];
        }
        literal.push_str(rest);
        if !literal.is_empty() || parts.is_empty() {
            parts.push(Part::Literal(literal));
        }
        let mut template = Self { parts, markup: *landing == Landing::Markup };
        template.decide_escaping(landing)?;
        Ok(template)
    }

    /// Gives each variable the escaping for where it lands.
    fn decide_escaping(&mut self, landing: &Landing) -> Result<(), TemplateError> {
        if !self.has_variables() {
            return Ok(());
        }
        let mut n = 0;
        let segments: Vec<Segment<'_>> = self
            .parts
            .iter()
            .map(|part| match part {
                Part::Literal(text) => Segment::Text(text),
                Part::Variable(..) => {
                    n += 1;
                    Segment::Variable(n - 1)
                }
            })
            .collect();
        let escapes = match landing {
            Landing::Text => vec![Escape::None; n],
            Landing::Markup => landing::in_markup(&segments)?,
            Landing::Attribute(name) => landing::in_attribute(name, &segments)?,
            Landing::RequestPath => vec![Escape::UrlComponent; n],
            Landing::HeaderValue => vec![Escape::HeaderValue; n],
            Landing::CookieValue => vec![Escape::CookieValue; n],
        };
        let mut escapes = escapes.into_iter();
        for part in &mut self.parts {
            if let Part::Variable(_, escape) = part {
                *escape = escapes.next().expect("an escaping for every variable");
            }
        }
        Ok(())
    }

    /// Adds what this template's values depend on to `dependence` (the URL is in every key).
    pub(crate) fn depend(&self, dependence: &mut crate::rules::dependence::Dependence) {
        for part in &self.parts {
            match part {
                Part::Variable(Variable::Date, _) => dependence.daily = true,
                Part::Variable(
                    Variable::Country
                    | Variable::Continent
                    | Variable::Region
                    | Variable::City
                    | Variable::Asn
                    | Variable::Device
                    | Variable::Experiment(_),
                    _,
                ) => dependence.unseen = true,
                _ => {}
            }
        }
    }

    /// The length of its literal text (variables count as a short value): what inserting it
    /// copies, for the cost model.
    pub(crate) fn source_len(&self) -> usize {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Literal(text) => text.len(),
                Part::Variable(..) => 32,
            })
            .sum()
    }

    /// Whether the template uses any variable (its output can differ between requests).
    pub fn has_variables(&self) -> bool {
        self.parts.iter().any(|part| matches!(part, Part::Variable(..)))
    }

    /// The ids of the experiments whose variant the template prints.
    pub fn experiments(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Variable(Variable::Experiment(id), _) => Some(id.as_str()),
            _ => None,
        })
    }

    /// The text for this request: values escaped where they land and, in markup, the page's
    /// CSP nonce on the scripts and styles it holds. Without variables or a nonce, it costs no
    /// allocation.
    pub fn render<'a>(&'a self, context: &RequestContext) -> Cow<'a, str> {
        let rendered = self.fill(context);
        match (&context.csp_nonce, self.markup) {
            (Some(nonce), true) => nonce::with_nonce(rendered, nonce),
            _ => rendered,
        }
    }

    fn fill<'a>(&'a self, context: &RequestContext) -> Cow<'a, str> {
        if let [Part::Literal(text)] = self.parts.as_slice() {
            return Cow::Borrowed(text);
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Variable(variable, escaping) => escape_into(&variable.value(context), *escaping, &mut out),
            }
        }
        Cow::Owned(out)
    }

    /// Calls `each` with the value of every variable the request itself gives, in order,
    /// unescaped: with the literals (fixed by the rule), they make the output, except for
    /// `{{experiment.ID}}`, which is left to whoever knows the request's variants.
    pub(crate) fn request_values(&self, context: &RequestContext, each: &mut dyn FnMut(&str)) {
        for part in &self.parts {
            if let Part::Variable(variable, _) = part
                && !matches!(variable, Variable::Experiment(_))
            {
                each(&variable.value(context));
            }
        }
    }
}

impl Variable {
    /// The variable's value for this request, before escaping.
    fn value<'c>(&self, context: &'c RequestContext) -> Cow<'c, str> {
        fn text(value: &Option<String>) -> Cow<'_, str> {
            Cow::Borrowed(value.as_deref().unwrap_or(""))
        }
        match self {
            Variable::Path => Cow::Borrowed(&context.path),
            Variable::Host => Cow::Borrowed(&context.host),
            Variable::Origin => Cow::Owned(context.origin()),
            Variable::Query(name) => Cow::Borrowed(context.query_param(name).unwrap_or("")),
            Variable::Country => text(&context.country),
            Variable::Continent => text(&context.geo.continent),
            Variable::Region => text(&context.geo.region),
            Variable::City => text(&context.geo.city),
            Variable::Asn => context.geo.asn.map_or(Cow::Borrowed(""), |asn| Cow::Owned(asn.to_string())),
            Variable::Device => Cow::Borrowed(context.device.map_or("", |device| device.as_str())),
            Variable::Experiment(id) => Cow::Borrowed(context.variant(id).unwrap_or("")),
            Variable::Date => Cow::Owned(utc_date(context.now)),
        }
    }
}

/// Appends `value` escaped as `escaping` says.
fn escape_into(value: &str, escaping: Escape, out: &mut String) {
    match escaping {
        Escape::None => out.push_str(value),
        Escape::Html => escape::html_into(value, out),
        Escape::JsString => escape::js_string_into(value, out),
        Escape::JsValue => escape::js_value_into(value, out),
        Escape::Css => escape::css_into(value, out),
        // URL escapes keep `&`; the attribute the URL sits in needs it as `&amp;`.
        Escape::UrlStart { may_set_scheme } => {
            let mut url = String::new();
            escape::url_start_into(value, may_set_scheme, &mut url);
            escape::html_into(&url, out);
        }
        Escape::UrlPath { after_root } => {
            let mut url = String::new();
            let rest = match value.strip_prefix(['/', '\\']) {
                // `/` + `/evil.example` would name another host.
                Some(rest) if after_root => {
                    url.push_str(if value.starts_with('/') { "%2F" } else { "%5C" });
                    rest
                }
                _ => value,
            };
            escape::url_path_into(rest, &mut url);
            escape::html_into(&url, out);
        }
        Escape::UrlComponent => escape::url_component_into(value, out),
        Escape::HeaderValue => escape::header_value_into(value, out),
        Escape::CookieValue => escape::cookie_value_into(value, out),
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

    fn render(template: &str, landing: &Landing, url: &str) -> String {
        let context = RequestContext::for_url("GET", url).unwrap();
        Template::parse(template, landing).unwrap().render(&context).into_owned()
    }

    #[test]
    fn variables_are_filled_and_escaped() {
        let text = "<p>{{ host }}{{path}} {{query.q}} {{country}} {{date}} {{query.none}}</p>";
        let template = Template::parse(text, &Landing::Markup).unwrap();
        assert_eq!(template.render(&context()), "<p>shop.example.com/sale &lt;script&gt; DE 2026-11-24 </p>");
        let template = Template::parse(text, &Landing::Text).unwrap();
        assert_eq!(template.render(&context()), "<p>shop.example.com/sale <script> DE 2026-11-24 </p>");
    }

    #[test]
    fn the_origin_keeps_the_port_and_is_escaped_as_a_url() {
        let link = "<a href=\"{{origin}}{{path}}\">{{origin}}</a>";
        assert_eq!(
            render(link, &Landing::Markup, "http://127.0.0.1:7676/news/a.html"),
            "<a href=\"http://127.0.0.1:7676/news/a.html\">http://127.0.0.1:7676</a>"
        );
        assert_eq!(
            render(link, &Landing::Markup, "https://www.example.com/a%22b"),
            "<a href=\"https://www.example.com/a%22b\">https://www.example.com</a>"
        );
        let script = Template::parse("<script src=\"{{origin}}/a.js\"></script>", &Landing::Markup);
        assert!(script.is_err(), "a request value never chooses where a script loads from");
    }

    #[test]
    fn audience_and_experiment_variables() {
        let mut context = context();
        context.geo.city = Some("Köln <Mitte>".into());
        context.geo.asn = Some(3320);
        context.device = Some(crate::http::audience::DeviceType::Tablet);
        context.variants = vec![("hero-2026".into(), "big-cta".into())];
        let text = "{{geo.country}}|{{geo.city}}|{{geo.asn}}|{{geo.region}}|{{device.type}}|{{experiment.hero-2026}}|{{experiment.other}}";
        let template = Template::parse(text, &Landing::Markup).unwrap();
        assert_eq!(template.render(&context), "DE|Köln &lt;Mitte&gt;|3320||tablet|big-cta|");
        assert_eq!(template.experiments().collect::<Vec<_>>(), ["hero-2026", "other"]);
        assert!(Template::parse("{{experiment.}}", &Landing::Markup).is_err());
    }

    #[test]
    fn static_templates_are_borrowed() {
        let template = Template::parse("<b>plain</b>", &Landing::Markup).unwrap();
        assert!(matches!(template.render(&context()), Cow::Borrowed("<b>plain</b>")));
        assert!(!template.has_variables());
        assert_eq!(Template::parse("", &Landing::Markup).unwrap().render(&context()), "");
    }

    #[test]
    fn unknown_and_unclosed_variables_are_errors() {
        let err = Template::parse("Hello {{user}}", &Landing::Markup).unwrap_err().to_string();
        assert!(err.contains("unknown template variable `{{user}}`") && err.contains("{{query.NAME}}"), "{err}");
        assert!(Template::parse("{{query.}}", &Landing::Markup).is_err());
        let err = Template::parse("a {{path", &Landing::Markup).unwrap_err().to_string();
        assert!(err.contains("without a closing"), "{err}");
    }

    #[test]
    fn escaped_braces_are_literal() {
        let template = Template::parse(r"<div v-if=\{{ ok }}>{{path}}</div>", &Landing::Markup).unwrap();
        assert_eq!(template.render(&context()), "<div v-if={{ ok }}>/sale</div>");
    }

    /// The reported attacks, each through its context.
    #[test]
    fn hostile_values_stay_data_in_every_context() {
        let attack = "/p?a=%5C%22%3Balert(document.domain)%2F%2F";
        assert_eq!(
            render("<script>var a=\"{{query.a}}\"</script>", &Landing::Markup, attack),
            "<script>var a=\"\\u005c\\u0022\\u003balert\\u0028document\\u002edomain\\u0029\\u002f\\u002f\"</script>"
        );
        assert_eq!(
            render("<script>var a={{query.a}};</script>", &Landing::Markup, "/p?a=1;alert(1)"),
            "<script>var a=\"1\\u003balert\\u00281\\u0029\";</script>"
        );
        assert_eq!(
            render("<a href=\"{{query.u}}\">go</a>", &Landing::Markup, "/p?u=javascript:alert(1)"),
            "<a href=\"javascript%3Aalert(1)\">go</a>"
        );
        assert_eq!(
            render("<a href=\"{{query.u}}\">go</a>", &Landing::Markup, "/p?u=https://example.com/x%3Fa=1%26b=%22"),
            "<a href=\"https://example.com/x?a=1&amp;b=%22\">go</a>"
        );
        assert_eq!(
            render("<a href=\"/{{query.u}}\">", &Landing::Markup, "/p?u=/evil.example/x"),
            "<a href=\"/%2Fevil.example/x\">"
        );
        assert_eq!(
            render("<a href=\"/s?q={{query.q}}\">", &Landing::Markup, "/p?q=a%26admin=1%22"),
            "<a href=\"/s?q=a%26admin%3D1%22\">"
        );
        assert_eq!(
            render("<img onerror=\"log('{{query.x}}')\">", &Landing::Markup, "/p?x=');alert(1)//"),
            "<img onerror=\"log('\\u0027\\u0029\\u003balert\\u00281\\u0029\\u002f\\u002f')\">"
        );
        assert_eq!(
            render("<style>.x{color:{{query.c}}}</style>", &Landing::Markup, "/p?c=red}body{background:url(//e)"),
            "<style>.x{color:red\\7d body\\7b background\\3a url\\28 \\2f \\2f e\\29 }</style>"
        );
        assert_eq!(
            render("{{query.v}}", &Landing::Attribute("title".into()), "/p?v=%22 onmouseover=alert(1)"),
            "&quot; onmouseover=alert(1)"
        );
        assert_eq!(
            render("{{query.v}}", &Landing::Attribute("style".into()), "/p?v=red;background:url(x)"),
            "red\\3b background\\3a url\\28 x\\29 "
        );
    }
}
