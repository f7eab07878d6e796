//! Experiments at the engine level, over many synthetic visitors: weighted splits, sticky
//! assignment, namespaces, consent, and what a plan tells the service (the variants, the
//! cookie to set, whether the page is per visitor). tests/e2e/audience.rs checks the same
//! through Viceroy on fewer visitors.

#![cfg(not(target_arch = "wasm32"))]

use edge_rewriter::{
    RequestContext, RewriteOptions, RuleSet,
    http::{VISITOR_COOKIE, visitor_id},
    stream,
};

/// Visitors in the split tests.
const VISITORS: usize = 10_000;
/// How far a variant's share may be from its weight, in percentage points.
const TOLERANCE: f64 = 2.0;

fn rules(json: &str) -> RuleSet {
    let (rules, errors) = RuleSet::from_entries(&[("experiments".into(), json.into())]);
    assert!(errors.is_empty(), "{errors:?}");
    rules
}

/// An experiment `id` with these variants (name, weight), in the namespace `home` over
/// `range` if given. Its rule marks `<body>` with `data-ID`.
fn experiment(id: &str, variants: &[(&str, u32)], range: Option<[u32; 2]>) -> String {
    let variants: Vec<String> =
        variants.iter().map(|(name, weight)| format!(r#"{{"name": "{name}", "weight": {weight}}}"#)).collect();
    let namespace = range
        .map_or(String::new(), |[from, to]| format!(r#""namespace": {{"name": "home", "range": [{from}, {to}]}},"#));
    format!(
        r#"{{"id": "{id}-rule", "selector": "body", "experiment": {{"id": "{id}", {namespace}
            "attribute": "data-{id}", "variants": [{}]}}}}"#,
        variants.join(", ")
    )
}

/// The ids the service would make for `n` new visitors: 16 pseudo-random bytes each
/// (splitmix64, seeded: the test is the same on every run).
fn new_visitor_ids(n: usize) -> Vec<String> {
    let mut state: u64 = 0x5eed;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    (0..n)
        .map(|_| {
            let mut bytes = [0; 16];
            bytes[..8].copy_from_slice(&next().to_le_bytes());
            bytes[8..].copy_from_slice(&next().to_le_bytes());
            visitor_id(bytes)
        })
        .collect()
}

/// A returning visitor with the id `id` in its cookie.
fn returning(id: &str) -> RequestContext {
    let mut context = RequestContext::for_url("GET", "https://www.example.com/").unwrap();
    context.add_header("Cookie", &format!("{VISITOR_COOKIE}={id}"));
    context
}

/// How many of `contexts` each variant of `experiment` got (`None`: outside it).
fn tally(rules: &RuleSet, contexts: &[RequestContext], experiment: &str) -> Vec<(Option<String>, usize)> {
    let mut counts: Vec<(Option<String>, usize)> = Vec::new();
    for context in contexts {
        let plan = rules.plan(context);
        let variant = plan.experiments().find(|(id, _)| *id == experiment).map(|(_, variant)| variant.to_owned());
        match counts.iter_mut().find(|(name, _)| *name == variant) {
            Some((_, count)) => *count += 1,
            None => counts.push((variant, 1)),
        }
    }
    counts
}

fn share(counts: &[(Option<String>, usize)], variant: Option<&str>) -> f64 {
    let count = counts.iter().find(|(name, _)| name.as_deref() == variant).map_or(0, |(_, count)| *count);
    count as f64 * 100.0 / VISITORS as f64
}

fn assert_split(counts: &[(Option<String>, usize)], expected: &[(Option<&str>, f64)]) {
    for (variant, percent) in expected {
        let got = share(counts, *variant);
        assert!(
            (got - percent).abs() <= TOLERANCE,
            "{variant:?}: {got:.2}% of {VISITORS}, expected {percent}% ± {TOLERANCE}"
        );
        println!("{variant:?}: {got:.2}% (weight {percent}%)");
    }
}

#[test]
fn ten_thousand_new_visitors_split_by_the_weights() {
    let rules = rules(&format!(
        "[{}, {}]",
        experiment("even", &[("control", 50), ("big-cta", 50)], None),
        experiment("uneven", &[("control", 10), ("a", 30), ("b", 60)], None)
    ));
    let contexts: Vec<RequestContext> = new_visitor_ids(VISITORS)
        .into_iter()
        .map(|id| RequestContext { new_visitor_id: Some(id), ..RequestContext::default() })
        .collect();
    assert_split(&tally(&rules, &contexts, "even"), &[(Some("control"), 50.0), (Some("big-cta"), 50.0)]);
    assert_split(&tally(&rules, &contexts, "uneven"), &[(Some("control"), 10.0), (Some("a"), 30.0), (Some("b"), 60.0)]);
}

#[test]
fn ids_that_differ_only_at_the_end_split_as_well() {
    // Ids a site might already have (sequential numbers) must not bunch up in one variant.
    let rules = rules(&experiment("even", &[("control", 50), ("big-cta", 50)], None));
    let contexts: Vec<RequestContext> = (0..VISITORS).map(|i| returning(&format!("visitor-{i}"))).collect();
    assert_split(&tally(&rules, &contexts, "even"), &[(Some("control"), 50.0), (Some("big-cta"), 50.0)]);
}

#[test]
fn a_visitor_keeps_its_variant_on_every_page_and_gets_the_cookie_once() {
    let rules = rules(&experiment("even", &[("control", 50), ("big-cta", 50)], None));
    for id in new_visitor_ids(200) {
        // First visit: no cookie, bucketed by the id the service will set.
        let first = RequestContext { new_visitor_id: Some(id.clone()), ..RequestContext::default() };
        let plan = rules.plan(&first);
        assert_eq!(plan.new_visitor_id(), Some(id.as_str()));
        let variant = plan.experiments().next().unwrap().1.to_owned();
        // Later visits, any page, with the cookie (and another fresh id the service drew).
        for path in ["/", "/shop/", "/news/a"] {
            let mut later = returning(&id);
            later.path = path.into();
            later.new_visitor_id = Some("ffff".into());
            let plan = rules.plan(&later);
            assert_eq!(plan.experiments().next().unwrap().1, variant, "visitor {id} on {path}");
            assert_eq!(plan.new_visitor_id(), None, "the cookie is there: not set again");
        }
    }
}

#[test]
fn experiments_in_a_namespace_never_share_a_visitor() {
    let rules = rules(&format!(
        "[{}, {}, {}]",
        experiment("hero", &[("control", 1), ("big", 1)], Some([0, 25])),
        experiment("menu", &[("control", 1), ("mega", 1)], Some([25, 75])),
        experiment("footer", &[("control", 1), ("slim", 1)], None)
    ));
    let contexts: Vec<RequestContext> = new_visitor_ids(VISITORS).iter().map(|id| returning(id)).collect();
    let mut in_both = 0;
    for context in &contexts {
        let plan = rules.plan(context);
        let ids: Vec<&str> = plan.experiments().map(|(id, _)| id).collect();
        in_both += usize::from(ids.contains(&"hero") && ids.contains(&"menu"));
        assert!(ids.contains(&"footer"), "an experiment outside the namespace takes everyone");
        assert!(plan.per_visitor());
    }
    assert_eq!(in_both, 0);
    let hero = tally(&rules, &contexts, "hero");
    assert_split(&hero, &[(None, 75.0), (Some("control"), 12.5), (Some("big"), 12.5)]);
    assert_split(&tally(&rules, &contexts, "menu"), &[(None, 50.0), (Some("control"), 25.0), (Some("mega"), 25.0)]);
}

#[test]
fn without_consent_the_cookie_is_neither_read_nor_set() {
    let consent = r#""consent": {"cookie": {"name": "consent", "regex": "(^|,)analytics(,|$)"}},"#;
    let control = rules(
        &experiment("even", &[("control", 50), ("big-cta", 50)], None)
            .replace(r#""attribute""#, &format!("{consent} \"attribute\"")),
    );
    let mut visitor = returning("v-1");
    visitor.new_visitor_id = Some("v-2".into());
    visitor.client_ip = Some("192.0.2.7".into());
    let plan = control.plan(&visitor);
    assert_eq!(plan.experiments().count(), 0, "not counted in the experiment");
    assert_eq!(plan.new_visitor_id(), None, "no cookie without consent");
    assert!(plan.per_visitor());
    let mut consented = RequestContext { new_visitor_id: Some("v-2".into()), ..RequestContext::default() };
    consented.add_header("Cookie", "consent=ads,analytics");
    assert_eq!(control.plan(&consented).new_visitor_id(), Some("v-2"));

    let by_ip = rules(
        &experiment("even", &[("control", 50), ("big-cta", 50)], None)
            .replace(r#""attribute""#, &format!(r#"{consent} "without_consent": "client_ip", "attribute""#)),
    );
    let plan = by_ip.plan(&visitor);
    assert_eq!(plan.experiments().count(), 1, "bucketed by the client's IP");
    assert_eq!(plan.new_visitor_id(), None, "and still no cookie");
}

#[test]
fn the_variant_shows_in_the_page_templates_and_conditions() {
    let rules = rules(&format!(
        r#"[{}, {{"id": "note", "selector": "main", "when": {{"experiment": {{"id": "hero", "variant": "big"}}}},
               "actions": [{{"prepend": {{"html": "<p>{{{{experiment.hero}}}} on {{{{device.type}}}} in {{{{geo.city}}}}</p>"}}}}]}}]"#,
        experiment("hero", &[("control", 1), ("big", 1)], None)
    ));
    let mut context =
        RequestContext::parse_simulated("GET /\n@variant hero=big\n@device.type mobile\n@geo.city Berlin").unwrap();
    let plan = rules.plan(&context);
    assert!(plan.forced());
    let page = stream(&plan, &RewriteOptions::default(), &b"<body><main>Hi</main></body>"[..], Vec::new());
    assert_eq!(
        String::from_utf8(page.sink).unwrap(),
        r#"<body data-hero="big"><main><p>big on mobile in Berlin</p>Hi</main></body>"#
    );
    context.variants = vec![("hero".into(), "control".into())];
    let plan = rules.plan(&context);
    let page = stream(&plan, &RewriteOptions::default(), &b"<body><main>Hi</main></body>"[..], Vec::new());
    assert_eq!(String::from_utf8(page.sink).unwrap(), r#"<body data-hero="control"><main>Hi</main></body>"#);
}

#[test]
fn variants_pay_the_budgets_a_rule_pays() {
    // 64 text rules per set: two variants of 33 `replace_text` each are 66, though a request
    // only ever runs one variant's.
    let text_rules = |n: usize| {
        let rule = r#"{"replace_text": {"find": "cat", "replace": "dog"}}"#;
        vec![rule; n].join(", ")
    };
    let variants = |n: usize| {
        format!(
            r#"{{"id": "words", "experiment": {{"id": "words", "variants": [
                {{"name": "a", "weight": 1, "actions": [{}]}}, {{"name": "b", "weight": 1, "actions": [{}]}}]}}}}"#,
            text_rules(n),
            text_rules(n)
        )
    };
    let (rules, errors) = RuleSet::from_entries(&[("e".into(), variants(32))]);
    assert!(errors.is_empty(), "64 text rules fit: {errors:?}");
    assert_eq!(rules.len(), 1);
    let (rules, errors) = RuleSet::from_entries(&[("e".into(), variants(33))]);
    assert!(rules.is_empty());
    assert_eq!(errors[0].field.as_deref(), Some("experiment.variants[0].actions[0].replace_text"), "{}", errors[0]);
    assert!(errors[0].reason.contains("text rules budget") && errors[0].reason.contains("66"), "{}", errors[0]);
}
