//! A rule's `experiment`, compiled once (weights turned into bucket ranges, the consent
//! condition and the namespace share checked), and one visitor's variant, per request.
//!
//! A visitor's variant is a pure function of the experiment and the visitor's key (the id in
//! the visitor cookie, a new id, or the client's IP), through the same SHA-256 buckets as
//! `rollout`: stable across builds, machines and POPs, so a visitor sees the same variant on
//! every page and every request without the service storing anything.

use super::actions::{CompiledAction, Scope, check_attribute_name, compile_actions};
use super::budget::{Cost, RegexRoom};
use super::conditions::{Condition, bucket};
use super::parse::check_id;
use super::{Experiment, FieldError, WithoutConsent};
use crate::http::request::RequestContext;
use crate::http::visitor::VISITOR_COOKIE;

/// Buckets a visitor can fall in; weights and namespace ranges are shares of these.
const BUCKETS: u64 = 10_000;

/// An experiment ready to assign visitors.
#[derive(Debug, Clone)]
pub(crate) struct CompiledExperiment {
    pub id: String,
    pub variants: Vec<CompiledVariant>,
    pub namespace: Option<NamespaceShare>,
    consent: Option<Condition>,
    without_consent: WithoutConsent,
    /// The attribute set to the variant's name on the rule's elements.
    pub attribute: Option<String>,
}

/// One variant: its name, its bucket range, its actions.
#[derive(Debug, Clone)]
pub(crate) struct CompiledVariant {
    pub name: String,
    /// The share of visitors, in percent, for editors to read.
    pub percent: f64,
    /// The variant takes the buckets below this one not taken by the variants before it.
    upto: u64,
    pub actions: Vec<(Scope, CompiledAction)>,
}

/// The share of a namespace's buckets one experiment takes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NamespaceShare {
    pub name: String,
    /// As written, in percent.
    pub range: [f64; 2],
    /// The buckets, from (included) to (excluded).
    from: u64,
    to: u64,
}

impl NamespaceShare {
    /// Whether two experiments' shares of a namespace share any bucket.
    pub fn overlaps(&self, other: &NamespaceShare) -> bool {
        self.name == other.name && self.from < other.to && other.from < self.to
    }
}

/// How a visitor came to be in a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignedBy {
    /// The id in the visitor cookie.
    Visitor,
    /// A new id, which the service gives the visitor in a cookie.
    NewVisitor,
    /// The client's IP address (no consent, and the experiment allows it).
    ClientIp,
    /// Forced for QA.
    Forced,
}

/// Why a visitor the rule's conditions admit is not in the experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outside {
    /// The visitor's bucket in the namespace belongs to another experiment.
    Namespace,
    /// Consent does not hold and the experiment falls back to control.
    NoConsent,
    /// No visitor id to bucket by (no cookie, no new id, no IP).
    NoVisitorId,
}

impl Outside {
    /// The part of the rule that keeps the visitor out, for `explain`.
    pub fn field(self) -> &'static str {
        match self {
            Outside::Namespace => "experiment.namespace",
            Outside::NoConsent => "experiment.consent",
            Outside::NoVisitorId => "experiment (no visitor id)",
        }
    }
}

/// One visitor's outcome in one experiment.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Assignment<'r> {
    In { variant: &'r CompiledVariant, by: AssignedBy },
    Out(Outside),
}

impl CompiledExperiment {
    /// Compiles `experiment` (written at `experiment` in a rule with or without a selector),
    /// its regexes taken from `room` and its variants' costs added to `cost`.
    pub(crate) fn compile(
        experiment: &Experiment,
        has_selector: bool,
        room: &mut RegexRoom,
        cost: &mut Cost,
    ) -> Result<Self, FieldError> {
        check_id(&experiment.id).map_err(|err| FieldError::new("experiment.id", err))?;
        if experiment.variants.len() < 2 {
            return Err(FieldError::new(
                "experiment.variants",
                "an experiment needs at least two variants: a control and a change",
            ));
        }
        let total: u64 = experiment.variants.iter().map(|variant| u64::from(variant.weight)).sum();
        if total == 0 {
            return Err(FieldError::new("experiment.variants", "every weight is 0: give some variant a weight"));
        }
        let mut variants: Vec<CompiledVariant> = Vec::with_capacity(experiment.variants.len());
        let mut so_far = 0;
        // A request gets one variant: the rule costs the page what its dearest one does.
        let shared = cost.cpu.clone();
        let mut dearest = shared.clone();
        for (i, variant) in experiment.variants.iter().enumerate() {
            let at = format!("experiment.variants[{i}]");
            check_id(&variant.name).map_err(|err| FieldError::new(format!("{at}.name"), err))?;
            if variants.iter().any(|earlier| earlier.name == variant.name) {
                return Err(FieldError::new(
                    format!("{at}.name"),
                    format!("two variants are called {:?}", variant.name),
                ));
            }
            let actions = compile_actions(&variant.actions, &format!("{at}.actions"), has_selector, room, cost)?;
            let this_variant = std::mem::replace(&mut cost.cpu, shared.clone());
            if this_variant.page_ns_per_mb() > dearest.page_ns_per_mb() {
                dearest = this_variant;
            }
            if !actions.is_empty() {
                // Each variant with actions costs what a rule does.
                cost.rules.add(&at, 1);
            }
            so_far += u64::from(variant.weight);
            variants.push(CompiledVariant {
                name: variant.name.clone(),
                percent: f64::from(variant.weight) * 100.0 / total as f64,
                upto: so_far * BUCKETS / total,
                actions,
            });
        }
        cost.cpu = dearest;
        let namespace = experiment.namespace.as_ref().map(namespace_share).transpose()?;
        let consent = match &experiment.consent {
            Some(when) => {
                let consent = Condition::compile(when, "experiment.consent", room)?;
                if let Some((field, ..)) = consent.experiment_refs().first() {
                    return Err(FieldError::new(
                        *field,
                        "consent is decided before any experiment assigns a variant; test the request, not an experiment",
                    ));
                }
                Some(consent)
            }
            None => None,
        };
        if let Some(name) = &experiment.attribute {
            check_attribute_name(name).map_err(|err| FieldError::new("experiment.attribute", err))?;
            if !has_selector {
                return Err(FieldError::new(
                    "selector",
                    "`experiment.attribute` marks the elements the selector picks: give the rule a selector, e.g. \"body\"",
                ));
            }
        }
        Ok(CompiledExperiment {
            id: experiment.id.clone(),
            variants,
            namespace,
            consent,
            without_consent: experiment.without_consent.unwrap_or_default(),
            attribute: experiment.attribute.clone(),
        })
    }

    /// The variant this request's visitor gets: a forced one (QA), else the one its key's
    /// bucket falls in, if the namespace leaves the visitor to this experiment.
    pub(crate) fn assign(&self, context: &RequestContext) -> Assignment<'_> {
        let consented = self.consent.as_ref().is_none_or(|consent| consent.holds(context, &self.id));
        self.assign_given(context, consented)
    }

    /// The consent condition, if the experiment has one.
    pub(crate) fn consent(&self) -> Option<&Condition> {
        self.consent.as_ref()
    }

    /// [`assign`](Self::assign) with consent known to hold or not (before the response, a
    /// consent condition on the response leaves both open).
    pub(crate) fn assign_given(&self, context: &RequestContext, consented: bool) -> Assignment<'_> {
        if let Some(name) = context.variant(&self.id) {
            match self.variants.iter().find(|variant| variant.name == name) {
                Some(variant) => return Assignment::In { variant, by: AssignedBy::Forced },
                None => log::warn!(
                    "variant {name:?} was forced for experiment {:?}, which has no such variant; assigning as usual",
                    self.id
                ),
            }
        }
        let (key, by) = match self.visitor_key(context, consented) {
            Ok(key) => key,
            Err(outside) => return Assignment::Out(outside),
        };
        if let Some(namespace) = &self.namespace {
            let slot = bucket(&format!("namespace/{}", namespace.name), key);
            if !(namespace.from..namespace.to).contains(&slot) {
                return Assignment::Out(Outside::Namespace);
            }
        }
        let slot = bucket(&self.id, key);
        let variant =
            self.variants.iter().find(|variant| slot < variant.upto).expect("the last variant ends at BUCKETS");
        Assignment::In { variant, by }
    }

    /// What tells this visitor apart: the visitor cookie or a new id where consent allows,
    /// else the client's IP where the experiment allows that.
    fn visitor_key<'c>(&self, context: &'c RequestContext, consented: bool) -> Result<(&'c str, AssignedBy), Outside> {
        if consented {
            if let Some(id) = context.cookie(VISITOR_COOKIE).filter(|id| !id.is_empty()) {
                return Ok((id, AssignedBy::Visitor));
            }
            if let Some(id) = context.new_visitor_id.as_deref() {
                return Ok((id, AssignedBy::NewVisitor));
            }
        }
        match (self.without_consent, context.client_ip.as_deref()) {
            (WithoutConsent::ClientIp, Some(ip)) => Ok((ip, AssignedBy::ClientIp)),
            _ if !consented => Err(Outside::NoConsent),
            _ => Err(Outside::NoVisitorId),
        }
    }
}

fn namespace_share(namespace: &super::Namespace) -> Result<NamespaceShare, FieldError> {
    check_id(&namespace.name).map_err(|err| FieldError::new("experiment.namespace.name", err))?;
    let [from, to] = namespace.range;
    if !(0.0..=100.0).contains(&from) || !(0.0..=100.0).contains(&to) || from >= to {
        return Err(FieldError::new(
            "experiment.namespace.range",
            format!(
                "[{from}, {to}] is not a share of a namespace: give [from, to] in percent, from below to, e.g. [0, 50]"
            ),
        ));
    }
    let buckets = |percent: f64| (percent * BUCKETS as f64 / 100.0).round() as u64;
    Ok(NamespaceShare { name: namespace.name.clone(), range: namespace.range, from: buckets(from), to: buckets(to) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn experiment(json: &str) -> Result<CompiledExperiment, FieldError> {
        let spec: Experiment = serde_json::from_str(json).unwrap();
        CompiledExperiment::compile(&spec, true, &mut RegexRoom::unlimited(), &mut Cost::default())
    }

    fn visitor(id: &str) -> RequestContext {
        let mut context = RequestContext::default();
        context.add_header("Cookie", &format!("{VISITOR_COOKIE}={id}"));
        context
    }

    fn variant<'r>(experiment: &'r CompiledExperiment, context: &RequestContext) -> Option<&'r str> {
        match experiment.assign(context) {
            Assignment::In { variant, .. } => Some(&variant.name),
            Assignment::Out(_) => None,
        }
    }

    const HALVES: &str = r#"{"id": "hero", "variants": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}]}"#;

    #[test]
    fn weights_become_bucket_ranges() {
        let thirds = experiment(
            r#"{"id": "x", "variants": [{"name": "a", "weight": 1}, {"name": "off", "weight": 0}, {"name": "b", "weight": 2}]}"#,
        )
        .unwrap();
        let uptos: Vec<u64> = thirds.variants.iter().map(|variant| variant.upto).collect();
        assert_eq!(uptos, [3_333, 3_333, 10_000]);
        assert!((thirds.variants[2].percent - 66.67).abs() < 0.01);
    }

    #[test]
    fn a_visitor_keeps_its_variant_and_visitors_split() {
        let hero = experiment(HALVES).unwrap();
        let mut b = 0;
        for i in 0..2_000 {
            let context = visitor(&format!("{i:032x}"));
            let first = variant(&hero, &context).unwrap();
            assert_eq!(variant(&hero, &context), Some(first), "sticky");
            b += usize::from(first == "b");
        }
        assert!((900..1_100).contains(&b), "{b} of 2000 in b");
    }

    #[test]
    fn consent_gates_the_cookie_and_the_fallback_decides() {
        let consent = r#"{"cookie": {"name": "consent", "equals": "yes"}}"#;
        let control =
            experiment(&HALVES.replace(r#""variants""#, &format!(r#""consent": {consent}, "variants""#))).unwrap();
        let mut context = visitor("v1");
        context.new_visitor_id = Some("v2".into());
        context.client_ip = Some("192.0.2.1".into());
        assert!(matches!(control.assign(&context), Assignment::Out(Outside::NoConsent)), "the cookie is not read");
        context.add_header("Cookie", "consent=yes");
        assert!(matches!(control.assign(&context), Assignment::In { by: AssignedBy::Visitor, .. }));

        let by_ip =
            experiment(&HALVES.replace(
                r#""variants""#,
                &format!(r#""consent": {consent}, "without_consent": "client_ip", "variants""#),
            ))
            .unwrap();
        let mut anonymous = RequestContext { new_visitor_id: Some("v3".into()), ..RequestContext::default() };
        assert!(matches!(by_ip.assign(&anonymous), Assignment::Out(Outside::NoConsent)), "no IP either");
        anonymous.client_ip = Some("192.0.2.1".into());
        assert!(matches!(by_ip.assign(&anonymous), Assignment::In { by: AssignedBy::ClientIp, .. }));
        anonymous.add_header("Cookie", "consent=yes");
        assert!(matches!(by_ip.assign(&anonymous), Assignment::In { by: AssignedBy::NewVisitor, .. }));
    }

    #[test]
    fn forced_variants_win_and_unknown_ones_are_ignored() {
        let hero = experiment(HALVES).unwrap();
        let mut context = RequestContext::default();
        assert!(matches!(hero.assign(&context), Assignment::Out(Outside::NoVisitorId)));
        context.variants = vec![("hero".into(), "b".into())];
        assert!(matches!(hero.assign(&context), Assignment::In { by: AssignedBy::Forced, .. }));
        context.variants = vec![("hero".into(), "zzz".into())];
        assert!(matches!(hero.assign(&context), Assignment::Out(Outside::NoVisitorId)));
    }

    #[test]
    fn namespaces_keep_experiments_apart() {
        let with_range = |id: &str, range: &str| {
            experiment(
                &HALVES.replace(r#""hero""#, &format!(r#""{id}", "namespace": {{"name": "home", "range": {range}}}"#)),
            )
            .unwrap()
        };
        let (left, right) = (with_range("left", "[0, 30]"), with_range("right", "[30, 100]"));
        assert!(!left.namespace.as_ref().unwrap().overlaps(right.namespace.as_ref().unwrap()));
        assert!(left.namespace.as_ref().unwrap().overlaps(with_range("mid", "[20, 40]").namespace.as_ref().unwrap()));
        let mut in_left = 0;
        for i in 0..2_000 {
            let context = visitor(&format!("visitor-{i}"));
            let (l, r) = (variant(&left, &context), variant(&right, &context));
            assert!(l.is_some() != r.is_some(), "exactly one experiment for visitor {i}");
            in_left += usize::from(l.is_some());
        }
        assert!((500..700).contains(&in_left), "{in_left} of 2000 in a 30% share");
    }

    /// 40 experiments with ids that differ in a character or two, and 4,000 visitor ids
    /// like the service's (32 hex digits): each pair of experiments puts a visitor in the
    /// same arm half of the time (within 4 points, 5 standard deviations), and each splits
    /// by its weights (within 3 points). FNV-1a taken modulo, unmixed, had hero-b0 and hero-e1
    /// agree for 16% of visitors, hero-i0 and hero-c2 for 98%.
    #[test]
    fn experiments_with_similar_ids_split_visitors_independently() {
        use sha2::{Digest, Sha256};

        const VISITORS: usize = 4_000;
        // hero-a0 ... hero-j3: ids an editor would give a series of tests.
        let ids: Vec<String> = (0..40u8).map(|i| format!("hero-{}{}", char::from(b'a' + i % 10), i / 10)).collect();
        let experiments: Vec<CompiledExperiment> =
            ids.iter().map(|id| experiment(&HALVES.replace("\"hero\"", &format!("{id:?}"))).unwrap()).collect();
        let arms: Vec<Vec<bool>> = experiments
            .iter()
            .map(|experiment| {
                (0..VISITORS)
                    .map(|i| {
                        let id: String =
                            Sha256::digest(i.to_le_bytes())[..16].iter().map(|b| format!("{b:02x}")).collect();
                        variant(experiment, &visitor(&id)) == Some("b")
                    })
                    .collect()
            })
            .collect();
        let percent = |count: usize| count as f64 * 100.0 / VISITORS as f64;
        for (i, arm) in arms.iter().enumerate() {
            let in_b = percent(arm.iter().filter(|b| **b).count());
            assert!((47.0..=53.0).contains(&in_b), "{}: {in_b:.1}% in b, weights say 50%", ids[i]);
            for (j, other) in arms.iter().enumerate().skip(i + 1) {
                let agree = percent(arm.iter().zip(other).filter(|(a, b)| a == b).count());
                assert!((46.0..=54.0).contains(&agree), "{} and {} agree for {agree:.1}% of visitors", ids[i], ids[j]);
            }
        }
    }

    #[test]
    fn malformed_experiments_name_their_field() {
        let error = |json: &str| experiment(json).unwrap_err();
        assert_eq!(error(r#"{"id": "x", "variants": [{"name": "a", "weight": 1}]}"#).field, "experiment.variants");
        assert!(
            error(r#"{"id": "x", "variants": [{"name": "a", "weight": 0}, {"name": "b", "weight": 0}]}"#)
                .reason
                .contains("every weight is 0")
        );
        assert_eq!(
            error(r#"{"id": "x", "variants": [{"name": "a", "weight": 1}, {"name": "a", "weight": 1}]}"#).field,
            "experiment.variants[1].name"
        );
        assert_eq!(
            error(r#"{"id": "x y", "variants": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}]}"#).field,
            "experiment.id"
        );
        assert_eq!(
            error(&HALVES.replace(r#""variants""#, r#""namespace": {"name": "n", "range": [50, 50]}, "variants""#))
                .field,
            "experiment.namespace.range"
        );
        assert_eq!(
            error(&HALVES.replace(r#""variants""#, r#""consent": {"experiment": {"id": "other"}}, "variants""#)).field,
            "experiment.consent.experiment"
        );
        assert_eq!(
            error(&HALVES.replace(r#""variants""#, r#""attribute": "data x", "variants""#)).field,
            "experiment.attribute"
        );
    }
}
