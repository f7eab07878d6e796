//! Conditions as editors write them (`"when"`): which requests and responses a rule is for.
//!
//! Every condition given must hold. A list of matchers for one condition (`"path": [..]`)
//! holds when any of them does; `all`, `any` and `not` combine further.

use std::fmt;
use std::marker::PhantomData;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::http::audience::DeviceType;

/// When a rule applies.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// The request path (without the query), e.g. `{"prefix": "/news/"}`.
    #[serde(default)]
    pub path: Option<OneOrMany<TextMatch>>,
    /// The request host (lower-cased, without the port), e.g. `{"equals": "www.example.com"}`.
    #[serde(default)]
    pub host: Option<OneOrMany<TextMatch>>,
    /// Request methods, e.g. `["GET"]`.
    #[serde(default)]
    pub method: Option<Vec<String>>,
    /// A request header, e.g. `{"name": "x-beta", "equals": "1"}`.
    #[serde(default)]
    pub header: Option<OneOrMany<NamedMatch>>,
    /// A request cookie, e.g. `{"name": "consent", "present": true}`.
    #[serde(default)]
    pub cookie: Option<OneOrMany<NamedMatch>>,
    /// A query parameter, e.g. `{"name": "utm_source", "regex": "^news"}`.
    #[serde(default)]
    pub query: Option<OneOrMany<NamedMatch>>,
    /// Response status codes, e.g. `[200]`.
    #[serde(default)]
    pub status: Option<Vec<u16>>,
    /// Response media types, e.g. `["text/html"]` (parameters such as charset are ignored).
    #[serde(default)]
    pub content_type: Option<Vec<String>>,
    /// A time window, for scheduled changes.
    #[serde(default)]
    pub time: Option<TimeWindow>,
    /// Apply to a sticky share of clients.
    #[serde(default)]
    pub rollout: Option<Rollout>,
    /// Where the client is (Fastly's geolocation of its IP), e.g. `{"country": ["DE", "AT"]}`.
    #[serde(default)]
    pub geo: Option<OneOrMany<GeoMatch>>,
    /// The client's kind of device (Fastly's device detection of its User-Agent), e.g.
    /// `["mobile", "tablet"]`.
    #[serde(default)]
    pub device: Option<Vec<DeviceType>>,
    /// The request is in an experiment another rule declares, or in one of its variants, e.g.
    /// `{"id": "hero-2026", "variant": "big-cta"}`.
    #[serde(default)]
    pub experiment: Option<InExperiment>,
    /// Holds when every listed condition holds.
    #[serde(default)]
    pub all: Option<Vec<When>>,
    /// Holds when at least one listed condition holds.
    #[serde(default)]
    pub any: Option<Vec<When>>,
    /// Holds when the condition does not.
    #[serde(default)]
    pub not: Option<Box<When>>,
}

/// How a text is matched: give exactly one of `equals`, `prefix`, `glob` or `regex`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextMatch {
    /// The whole text is exactly this.
    #[serde(default)]
    pub equals: Option<String>,
    /// The text starts with this.
    #[serde(default)]
    pub prefix: Option<String>,
    /// The whole text matches this pattern: `*` is any run of characters (slashes included),
    /// `?` is one character.
    #[serde(default)]
    pub glob: Option<String>,
    /// The text contains a match of this regular expression (anchor it with `^...$`).
    #[serde(default)]
    pub regex: Option<String>,
}

/// A named value (header, cookie, query parameter) and how to test it: give `present`, or
/// exactly one of `equals`, `prefix`, `glob` or `regex` (which imply it is present).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamedMatch {
    /// Header names are case-insensitive; cookie and query names are not.
    pub name: String,
    /// `true`: the value is there; `false`: it is not.
    #[serde(default)]
    pub present: Option<bool>,
    /// The value is exactly this.
    #[serde(default)]
    pub equals: Option<String>,
    /// The value starts with this.
    #[serde(default)]
    pub prefix: Option<String>,
    /// The value matches this pattern (`*` any run of characters, `?` one character).
    #[serde(default)]
    pub glob: Option<String>,
    /// The value contains a match of this regular expression.
    #[serde(default)]
    pub regex: Option<String>,
}

/// A time window in RFC 3339, e.g. `2026-11-27T00:00:00Z`; either end may be left out.
/// The start is included, the end is not.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    /// From this instant on.
    #[serde(default)]
    pub start: Option<String>,
    /// Until this instant.
    #[serde(default)]
    pub end: Option<String>,
}

/// A percentage of clients. The same client always gets the same answer for a given rule:
/// the key named by `sticky_by` and the rule id pick the client's bucket.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// 0 to 100; fractions allowed (12.5).
    pub percent: f64,
    /// What identifies a client. Default: `"client_ip"`.
    #[serde(default)]
    pub sticky_by: Option<StickyKey>,
}

/// What makes a rollout sticky. A client without the named cookie or header falls back to
/// its IP address.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum StickyKey {
    /// The client's IP address.
    ClientIp,
    /// A cookie's value, e.g. `{"cookie": "visitor_id"}`.
    Cookie(String),
    /// A request header's value, e.g. `{"header": "x-user-id"}`.
    Header(String),
}

/// Where a client is: every field given must hold, and a list holds when the client's value
/// is any of its items. Countries, continents and regions are codes (any case); cities are
/// names as the geolocation data spells them (any case).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GeoMatch {
    /// ISO 3166-1 alpha-2 country codes, e.g. `["DE", "AT", "CH"]`.
    #[serde(default)]
    pub country: Option<Vec<String>>,
    /// Continent codes: `AF`, `AN`, `AS`, `EU`, `NA`, `OC`, `SA`. `EU` is the continent,
    /// Europe: Switzerland, the United Kingdom and Norway are in it. For the European Union,
    /// use `union`.
    #[serde(default)]
    pub continent: Option<Vec<String>>,
    /// Unions of countries: `EU` (the European Union's member states and the parts of the
    /// Union with country codes of their own) or `EEA` (the EU, Iceland, Liechtenstein and
    /// Norway), e.g. `["EU"]` for a consent banner.
    #[serde(default)]
    pub union: Option<Vec<String>>,
    /// Subdivision codes (ISO 3166-2 without the country), e.g. `["CA", "NY"]`; pair them
    /// with `country`, as codes repeat across countries.
    #[serde(default)]
    pub region: Option<Vec<String>>,
    /// City names, e.g. `["Berlin"]`.
    #[serde(default)]
    pub city: Option<Vec<String>>,
    /// Autonomous system numbers of the client's network, e.g. `[3320]`.
    #[serde(default)]
    pub asn: Option<Vec<u32>>,
}

/// Membership of an experiment (declared by a rule's `experiment`): in it at all, or in one
/// variant.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InExperiment {
    /// The experiment's id.
    pub id: String,
    /// One of its variants. Without it: any variant, i.e. the visitor is in the experiment.
    #[serde(default)]
    pub variant: Option<String>,
}

/// One value or a list of them; a list holds when any of its items does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A visitor rather than an untagged enum: errors inside the item keep their
        // precise message and path instead of "did not match any variant".
        struct OneOrManyVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
            type Value = OneOrMany<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object or an array of objects")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(OneOrMany(items))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|item| OneOrMany(vec![item]))
            }
        }

        deserializer.deserialize_any(OneOrManyVisitor(PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for OneOrMany<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("OneOrMany_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let item = generator.subschema_for::<T>();
        schemars::json_schema!({
            "description": "One matcher, or a list of matchers of which at least one must hold.",
            "anyOf": [item, { "type": "array", "items": item, "minItems": 1 }]
        })
    }
}
