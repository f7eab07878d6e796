//! The edge cache's key, proved on generated inputs: two requests that share a cache entry
//! would have been given the same bytes and the same header edits for any origin response.
//!
//! Rule sets mix request facts (path, header, cookie, query, country, device, rollout, an
//! experiment and its consent) with response facts (status, content type) under `all`, `any`
//! and `not`, in content rules, header rules, include rules and shadow rules. Requests come in
//! groups that differ in a few facts, so keys collide often; each request that the edge would
//! cache is rewritten by the real engine (`stream` with the plan made once the response is
//! known) for every response, and requests with the same key must agree on everything the
//! stored page is made of.

#![cfg(not(target_arch = "wasm32"))]

use edge_rewriter::{PageKey, Prospect, RequestContext, RewriteOptions, RuleSet, http::DeviceType, stream};
use proptest::prelude::*;
use proptest::sample::select;

/// A page with two places for every kind of action the rules take.
const PAGE: &str = "<html><head><title>t</title></head><body><p>one</p><p>two</p></body></html>";

/// The responses every request is tried against: each status and content type a condition
/// may test, all of them rewritten by the service (2xx HTML).
const RESPONSES: [(u16, &str); 4] =
    [(200, "text/html"), (203, "text/html"), (200, "application/xhtml+xml"), (203, "application/xhtml+xml")];

/// One condition a rule tests.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Leaf {
    PathA,
    HeaderIs1,
    CookiePresent,
    CookieIs2,
    QueryIs1,
    CountryDe,
    Mobile,
    Rollout,
    Status203,
    Xhtml,
    /// The experiment's variant `b` (only in rules that do not declare it).
    InVariantB,
}

#[derive(Debug, Clone)]
enum Cond {
    Leaf(Leaf),
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
}

/// What a rule's inserted text or header value says.
#[derive(Debug, Clone, Copy)]
enum Value {
    Literal,
    Query,
    Country,
    Device,
    Experiment,
}

#[derive(Debug, Clone)]
enum Kind {
    Content(Value),
    Header(Value),
    Include,
}

#[derive(Debug, Clone)]
struct RuleGene {
    kind: Kind,
    when: Option<Cond>,
    shadow: bool,
}

/// The experiment `e0`, declared by the first rule when present.
#[derive(Debug, Clone)]
struct ExperimentGene {
    when: Option<Cond>,
    consent: Option<Cond>,
    by_client_ip: bool,
    marks: Value,
}

/// One request's facts, each from a small set so that requests often share them.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Facts {
    path_a: bool,
    header: Option<u8>,
    cookie: Option<u8>,
    visitor: Option<u8>,
    new_visitor: u8,
    query: Option<u8>,
    country: Option<u8>,
    device: Option<u8>,
    ip: u8,
}

fn leaf() -> impl Strategy<Value = Leaf> {
    select(vec![
        Leaf::PathA,
        Leaf::HeaderIs1,
        Leaf::CookiePresent,
        Leaf::CookieIs2,
        Leaf::QueryIs1,
        Leaf::CountryDe,
        Leaf::Mobile,
        Leaf::Rollout,
        Leaf::Status203,
        Leaf::Xhtml,
        Leaf::InVariantB,
    ])
}

fn cond() -> impl Strategy<Value = Cond> {
    leaf().prop_map(Cond::Leaf).prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(Cond::All),
            prop::collection::vec(inner.clone(), 1..4).prop_map(Cond::Any),
            inner.prop_map(|c| Cond::Not(Box::new(c))),
        ]
    })
}

fn value() -> impl Strategy<Value = Value> {
    select(vec![Value::Literal, Value::Query, Value::Country, Value::Device, Value::Experiment])
}

fn rule() -> impl Strategy<Value = RuleGene> {
    let kind = prop_oneof![
        3 => value().prop_map(Kind::Content),
        2 => value().prop_map(Kind::Header),
        1 => Just(Kind::Include),
    ];
    (kind, prop::option::weighted(0.85, cond()), prop::bool::weighted(0.15)).prop_map(|(kind, when, shadow)| RuleGene {
        kind,
        when,
        shadow,
    })
}

fn experiment() -> impl Strategy<Value = ExperimentGene> {
    (prop::option::weighted(0.8, cond()), prop::option::weighted(0.4, cond()), any::<bool>(), value())
        .prop_map(|(when, consent, by_client_ip, marks)| ExperimentGene { when, consent, by_client_ip, marks })
}

fn facts() -> impl Strategy<Value = Facts> {
    let small = |n: u8| prop::option::of(0..n);
    (any::<bool>(), small(2), small(3), small(4), 0..3u8, small(2), small(2), small(3), 0..4u8).prop_map(
        |(path_a, header, cookie, visitor, new_visitor, query, country, device, ip)| Facts {
            path_a,
            header,
            cookie,
            visitor,
            new_visitor,
            query,
            country,
            device,
            ip,
        },
    )
}

/// A group of requests: a first one, and others that differ from it in the facts `mask` picks.
fn requests() -> impl Strategy<Value = Vec<Facts>> {
    (facts(), prop::collection::vec((facts(), any::<u16>(), any::<u16>()), 3..7)).prop_map(|(base, others)| {
        std::iter::once(base)
            .chain(others.into_iter().map(|(other, a, b)| {
                // About two facts in nine differ from the first request's.
                let pick = |bit: u16| (a & b) & (1 << bit) != 0;
                Facts {
                    path_a: if pick(0) { other.path_a } else { base.path_a },
                    header: if pick(1) { other.header } else { base.header },
                    cookie: if pick(2) { other.cookie } else { base.cookie },
                    visitor: if pick(3) { other.visitor } else { base.visitor },
                    new_visitor: if pick(4) { other.new_visitor } else { base.new_visitor },
                    query: if pick(5) { other.query } else { base.query },
                    country: if pick(6) { other.country } else { base.country },
                    device: if pick(7) { other.device } else { base.device },
                    ip: if pick(8) { other.ip } else { base.ip },
                }
            }))
            .collect()
    })
}

impl Cond {
    /// The condition as JSON; `experiment` says whether `e0` may be tested here.
    fn json(&self, experiment: bool) -> String {
        match self {
            Cond::Leaf(leaf) => leaf_json(*leaf, experiment),
            Cond::All(list) => format!(r#"{{"all": [{}]}}"#, join(list, experiment)),
            Cond::Any(list) => format!(r#"{{"any": [{}]}}"#, join(list, experiment)),
            Cond::Not(inner) => format!(r#"{{"not": {}}}"#, inner.json(experiment)),
        }
    }
}

fn join(list: &[Cond], experiment: bool) -> String {
    list.iter().map(|c| c.json(experiment)).collect::<Vec<_>>().join(", ")
}

fn leaf_json(leaf: Leaf, experiment: bool) -> String {
    match leaf {
        Leaf::PathA => r#"{"path": {"prefix": "/a"}}"#,
        Leaf::HeaderIs1 => r#"{"header": {"name": "x-h", "equals": "1"}}"#,
        Leaf::CookiePresent => r#"{"cookie": {"name": "c", "present": true}}"#,
        Leaf::CookieIs2 => r#"{"cookie": {"name": "c", "equals": "2"}}"#,
        Leaf::QueryIs1 => r#"{"query": {"name": "q", "equals": "1"}}"#,
        Leaf::CountryDe => r#"{"geo": {"country": ["DE"]}}"#,
        Leaf::Mobile => r#"{"device": ["mobile"]}"#,
        Leaf::Rollout => r#"{"rollout": {"percent": 50}}"#,
        Leaf::Status203 => r#"{"status": [203]}"#,
        Leaf::Xhtml => r#"{"content_type": ["application/xhtml+xml"]}"#,
        Leaf::InVariantB if experiment => r#"{"experiment": {"id": "e0", "variant": "b"}}"#,
        // Where no experiment may be tested: another response fact.
        Leaf::InVariantB => r#"{"status": [200]}"#,
    }
    .to_owned()
}

fn value_text(value: Value, experiment: bool) -> &'static str {
    match value {
        Value::Literal => "fixed",
        Value::Query => "q={{query.q}}",
        Value::Country => "in {{country}}",
        Value::Device => "on {{device.type}}",
        Value::Experiment if experiment => "arm {{experiment.e0}}",
        Value::Experiment => "no arm",
    }
}

/// The rule set's entries as JSON, one rule an entry.
fn rule_set(experiment: &Option<ExperimentGene>, rules: &[RuleGene]) -> Vec<(String, String)> {
    let declared = experiment.is_some();
    let when = |cond: &Option<Cond>, experiment: bool| match cond {
        Some(cond) => format!(r#""when": {}, "#, cond.json(experiment)),
        None => String::new(),
    };
    let mut entries = Vec::new();
    if let Some(gene) = experiment {
        let consent = gene.consent.as_ref().map(|c| format!(r#""consent": {}, "#, c.json(false))).unwrap_or_default();
        let fallback = if gene.by_client_ip { r#""without_consent": "client_ip", "# } else { "" };
        entries.push(format!(
            r#"{{"id": "exp", "selector": "p", {}"experiment": {{"id": "e0", "attribute": "data-e", {consent}{fallback}
                "variants": [{{"name": "a", "weight": 1}},
                             {{"name": "b", "weight": 1, "actions": [{{"append": {{"text": "B {}"}}}}]}}]}}}}"#,
            when(&gene.when, false),
            value_text(gene.marks, false),
        ));
    }
    for (i, rule) in rules.iter().enumerate() {
        let mode = if rule.shadow { r#""mode": "shadow", "# } else { "" };
        let head = format!(r#""id": "r{i}", {mode}{}"#, when(&rule.when, declared));
        entries.push(match rule.kind {
            Kind::Content(value) => format!(
                r#"{{{head}"selector": "p", "actions": [{{"append": {{"text": " {}"}}}}]}}"#,
                value_text(value, declared)
            ),
            Kind::Header(value) => format!(
                r#"{{{head}"actions": [{{"set_header": {{"name": "x-r{i}", "value": "{}"}}}}]}}"#,
                value_text(value, declared)
            ),
            Kind::Include => format!(
                r#"{{{head}"selector": "p", "actions": [{{"append": {{"include": {{"path": "/frag/{{{{country}}}}"}}}}}}]}}"#
            ),
        });
    }
    entries.into_iter().enumerate().map(|(i, rule)| (format!("{i:02}"), rule)).collect()
}

/// The request as the service sees it before the origin answers.
fn request(facts: &Facts) -> RequestContext {
    let path = if facts.path_a { "/a" } else { "/b" };
    let query = facts.query.map(|q| format!("?q={}", q + 1)).unwrap_or_default();
    let mut context = RequestContext::for_url("GET", &format!("https://example.com{path}{query}")).unwrap();
    context.now = 1_795_489_200;
    if let Some(h) = facts.header {
        context.add_header("x-h", &(h + 1).to_string());
    }
    let mut cookies = Vec::new();
    if let Some(c) = facts.cookie {
        cookies.push(format!("c={}", c + 1));
    }
    match facts.visitor {
        Some(v) => cookies.push(format!("edge_vid=visitor{v}")),
        // As the service does: a new visitor is bucketed by the id it is about to be given.
        None => context.new_visitor_id = Some(format!("new{}", facts.new_visitor)),
    }
    if !cookies.is_empty() {
        context.add_header("Cookie", &cookies.join("; "));
    }
    context.country = facts.country.map(|c| ["DE", "FR"][usize::from(c)].to_owned());
    context.device = facts.device.map(|d| [DeviceType::Mobile, DeviceType::Desktop, DeviceType::Bot][usize::from(d)]);
    context.client_ip = Some(format!("192.0.2.{}", facts.ip));
    context
}

/// The edge cache's key for a request, or `None` when the edge would not use the cache for
/// it (a forced variant, a page that may include fragments): as `src/edge/mod.rs` decides
/// before the origin is asked.
fn cache_key(rules: &RuleSet, context: &RequestContext) -> Option<PageKey> {
    let prospect = Prospect::of(rules, context);
    if prospect.never_cached().is_some() {
        return None;
    }
    Some(PageKey::of(&prospect, "live"))
}

/// Everything a stored page is made of, for one request and one response: the rewritten
/// bytes, the header edits, and what decides the stored `Cache-Control` and whether the page
/// is kept at all.
#[derive(Debug, PartialEq)]
struct Stored {
    body: String,
    header_edits: Vec<String>,
    per_visitor: bool,
    forced: bool,
    sets_cookie: bool,
    includes: usize,
}

fn rewrite(rules: &RuleSet, request: &RequestContext, (status, content_type): (u16, &str)) -> Stored {
    let mut context = request.clone();
    context.status = status;
    context.content_type = Some(content_type.to_owned());
    let plan = rules.plan(&context);
    let streamed = stream(&plan, &RewriteOptions::default(), PAGE.as_bytes(), Vec::new());
    streamed.result.expect("the page rewrites");
    Stored {
        body: String::from_utf8(streamed.sink).unwrap(),
        header_edits: plan.header_edits().iter().map(|edit| format!("{edit:?}")).collect(),
        per_visitor: plan.per_visitor(),
        forced: plan.forced(),
        sets_cookie: plan.sets_cookie(),
        includes: plan.includes().len(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn requests_that_share_a_key_get_the_same_page_for_any_response(
        experiment in prop::option::weighted(0.5, experiment()),
        rules in prop::collection::vec(rule(), 1..5),
        group in requests(),
    ) {
        let entries = rule_set(&experiment, &rules);
        let (rule_set, errors) = RuleSet::from_entries(&entries);
        prop_assert!(errors.is_empty(), "generated rules are valid: {errors:?}\n{entries:#?}");
        let keyed: Vec<(PageKey, &Facts, RequestContext)> = group
            .iter()
            .filter_map(|facts| {
                let context = request(facts);
                Some((cache_key(&rule_set, &context)?, facts, context))
            })
            .collect();
        for (i, (key, facts, first)) in keyed.iter().enumerate() {
            for response in RESPONSES {
                let stored = rewrite(&rule_set, first, response);
                prop_assert_eq!(stored.includes, 0, "a page kept in the cache has no includes\n{:#?}", entries);
                for (other_key, other_facts, other) in &keyed[i + 1..] {
                    if other_key != key {
                        continue;
                    }
                    let served = rewrite(&rule_set, other, response);
                    prop_assert_eq!(
                        &stored, &served,
                        "same key {}, response {:?}\nrules: {:#?}\nstored for: {:?}\nserved to: {:?}",
                        key.short(), response, entries, facts, other_facts
                    );
                }
            }
        }
    }
}
