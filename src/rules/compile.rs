//! Rules checked and compiled once ([`RuleSet`]), to be planned per request
//! (`RuleSet::plan`, in `rewrite::plan`: the rewrite layer reads rules, never the reverse).
//!
//! Everything that can be wrong with a rule is found here, before any byte of a page is
//! read: selectors are parsed with `str::parse` (never the panicking `element!` macro),
//! regexes and templates are compiled, names are checked. A rule that fails is reported
//! and left out while the others still apply.

use std::collections::HashMap;

use lol_html::Selector;
use sha2::{Digest, Sha256};

use super::actions::{CompiledAction, Scope, compile_actions};
use super::budget::{Cost, RegexRoom, Spent};
use super::conditions::Condition;
use super::cost::{RULE_COMPILE_NS, RuleCost, SELECTOR_PART_COMPILE_NS, share_permille};
use super::dependence::Dependence;
use super::experiment::CompiledExperiment;
use super::selector::parse_selector;
use super::{FieldError, Mode, Rule, RuleError, RuleWarning, SourcedRule, parse_entry};

/// Rules ready to run: each selector parsed, each action and condition checked. Build it
/// once per rule-set version (the service caches it); [`plan`](Self::plan) it per request.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    disabled: Vec<String>,
    /// SHA-256 of the entries the set was compiled from: names a rule-set version in cache
    /// keys, the same on every instance and machine.
    digest: [u8; 32],
    dependence: Dependence,
    warnings: Vec<RuleWarning>,
}

/// One rule, compiled.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub id: String,
    /// Where it came from, for people: its file when the store entry packs files, else the
    /// entry.
    pub entry: String,
    pub selector: Option<Selector>,
    /// The selector as written, to tell rules with the same scope.
    pub selector_source: Option<String>,
    pub condition: Condition,
    /// Each action with the part of the page it works on.
    pub actions: Vec<(Scope, CompiledAction)>,
    /// Counts what it would change without changing the page (`"mode": "shadow"`).
    pub shadow: bool,
    /// The experiment the rule declares; its variants hold the actions then.
    pub experiment: Option<CompiledExperiment>,
    /// Element actions act on the first this many matches only.
    pub max: Option<u64>,
    /// What it costs the guest, by the cost model.
    pub cost: RuleCost,
}

/// The experiments the rules declare, by id, with their variants' names: what `when.experiment`
/// and `{{experiment.ID}}` may name. Gathered before any rule compiles, so a rule may name an
/// experiment declared after it.
type Declared = HashMap<String, Vec<String>>;

impl RuleSet {
    /// Parses and compiles store entries `(name, text)`, in order.
    pub fn from_entries(entries: &[(String, String)]) -> (RuleSet, Vec<RuleError>) {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for (name, text) in entries {
            let (parsed, parse_errors) = parse_entry(name, text);
            rules.extend(parsed);
            errors.extend(parse_errors);
        }
        let (mut set, compile_errors) = RuleSet::compile(rules);
        errors.extend(compile_errors);
        let mut hasher = Sha256::new();
        for (name, text) in entries {
            for part in [name, text] {
                hasher.update((part.len() as u64).to_le_bytes());
                hasher.update(part.as_bytes());
            }
        }
        set.digest = hasher.finalize().into();
        (set, errors)
    }

    /// Compiles parsed rules. Disabled rules are left out without an error; a rule whose id
    /// an earlier rule already uses is refused.
    pub(crate) fn compile(rules: Vec<SourcedRule>) -> (RuleSet, Vec<RuleError>) {
        let mut set = RuleSet::default();
        let mut errors = Vec::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut spent = Spent::default();
        let mut declared = Declared::new();
        for rule in rules.iter().map(|sourced| &sourced.rule).filter(|rule| rule.enabled) {
            if let Some(experiment) = &rule.experiment {
                let variants = experiment.variants.iter().map(|variant| variant.name.clone()).collect();
                declared.entry(experiment.id.clone()).or_insert(variants);
            }
        }
        for SourcedRule { entry, file, rule, warnings } in rules {
            if let Some(first) = seen.get(&rule.id) {
                let reason = format!(
                    "another rule already has this id (in {first}); ids must be unique: logs and hit counts name \
                     rules by id"
                );
                errors.push(FieldError::new("id", reason).in_rule(entry, rule.id).with_file(file.as_deref()));
                continue;
            }
            let place = match &file {
                Some(file) => format!("file {file:?}"),
                None => format!("entry {entry:?}"),
            };
            seen.insert(rule.id.clone(), place);
            set.warnings.extend(warnings);
            if !rule.enabled {
                set.disabled.push(rule.id);
                continue;
            }
            // Named for people by the file it was written in, where the entry packs files.
            let source = file.as_deref().unwrap_or(&entry);
            // Past the compile budget a rule is refused before it is compiled; one refused after
            // still cost the instance what its regexes took to compile.
            let mut room = spent.regex_room();
            let admitted = spent
                .may_compile("id")
                .and_then(|()| compile_rule(&rule, source, &spent, &declared, &mut room))
                .and_then(|(compiled, cost)| {
                    set.check_experiment(&compiled)?;
                    cost.check_rule().and_then(|()| spent.admit(&cost))?;
                    Ok(compiled)
                });
            if admitted.is_err() {
                spent.charge_refused(&room);
            }
            match admitted {
                Ok(compiled) => {
                    compiled.condition.depend(&mut set.dependence);
                    let variant_actions = compiled.experiment.iter().flat_map(|e| &e.variants).flat_map(|v| &v.actions);
                    for (_, action) in compiled.actions.iter().chain(variant_actions) {
                        action.depend(&mut set.dependence);
                    }
                    if let Some(experiment) = &compiled.experiment {
                        // Assigned per visitor: no downstream cache can tell the variants apart;
                        // the visitor cookie and what consent reads change the page too, as
                        // they change the edge cache's key.
                        set.dependence.unseen = true;
                        set.dependence.headers.insert("cookie".into());
                        if let Some(consent) = experiment.consent() {
                            consent.depend(&mut set.dependence);
                        }
                    }
                    set.rules.push(compiled);
                }
                Err(err) => errors.push(err.in_rule(entry, rule.id).with_file(file.as_deref())),
            }
        }
        (set, errors)
    }

    /// The ids of the rules that may run, in order.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|rule| rule.id.as_str())
    }

    /// Each rule that may run, in order: its id and where it came from (the file it was
    /// written in when its store entry packs files, else the entry).
    pub fn rules_by_entry(&self) -> impl Iterator<Item = (&str, &str)> {
        self.rules.iter().map(|rule| (rule.id.as_str(), rule.entry.as_str()))
    }

    /// The ids of the shadow rules (`"mode": "shadow"`): they count, they change nothing.
    pub fn shadow_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().filter(|rule| rule.shadow).map(|rule| rule.id.as_str())
    }

    /// What looks wrong in rules that are valid (they still apply): a regex with a JSON
    /// backspace for `\b`, inserted HTML that leaves an element open.
    pub fn warnings(&self) -> &[RuleWarning] {
        &self.warnings
    }

    /// The ids of rules kept in the store with `"enabled": false`.
    pub fn disabled_ids(&self) -> impl Iterator<Item = &str> {
        self.disabled.iter().map(String::as_str)
    }

    /// How many rules may run.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when no rule may run.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// SHA-256 of the store entries the set was read from.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    /// What the set's output may depend on besides the URL (headers and cookies its
    /// conditions read, facts downstream caches cannot see, the clock).
    pub fn dependence(&self) -> &Dependence {
        &self.dependence
    }

    /// Each rule that may run, in order: its id and what it costs the guest by the cost model
    /// (per MB of a typical page, and to compile).
    pub fn costs(&self) -> impl Iterator<Item = (&str, &RuleCost)> {
        self.rules.iter().map(|rule| (rule.id.as_str(), &rule.cost))
    }

    /// The compiled rules, in order.
    pub(crate) fn compiled(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// Refuses a rule declaring an experiment a rule admitted before it already declares, or
    /// taking a share of a namespace another experiment takes.
    fn check_experiment(&self, rule: &CompiledRule) -> Result<(), FieldError> {
        let Some(experiment) = &rule.experiment else { return Ok(()) };
        for (other, earlier) in self.rules.iter().filter_map(|other| Some((other, other.experiment.as_ref()?))) {
            if earlier.id == experiment.id {
                return Err(FieldError::new(
                    "experiment.id",
                    format!(
                        "the rule {:?} already declares this experiment; declare it once and let other rules \
                         test it with `when.experiment`",
                        other.id
                    ),
                ));
            }
            if let (Some(mine), Some(theirs)) = (&experiment.namespace, &earlier.namespace)
                && mine.overlaps(theirs)
            {
                return Err(FieldError::new(
                    "experiment.namespace.range",
                    format!(
                        "{:?} overlaps the share [{}, {}] the experiment {:?} takes in the namespace {:?}: \
                         experiments in a namespace never share a visitor, so give them ranges that do not overlap",
                        mine.range, theirs.range[0], theirs.range[1], earlier.id, mine.name
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Compiles one rule and says what it costs against the budgets; its regexes are taken
/// from `room`.
fn compile_rule(
    rule: &Rule,
    entry: &str,
    spent: &Spent,
    declared: &Declared,
    room: &mut RegexRoom,
) -> Result<(CompiledRule, Cost), FieldError> {
    match (rule.actions.is_empty(), &rule.experiment) {
        (true, None) => {
            return Err(FieldError::new("actions", "the rule has no actions; add at least one, e.g. [\"remove\"]"));
        }
        (false, Some(_)) => {
            return Err(FieldError::new(
                "actions",
                "a rule with an experiment has its actions in its variants: move them into \
                 `experiment.variants[N].actions`",
            ));
        }
        _ => {}
    }
    let mut cost = Cost::default();
    let selector = match rule.selector.as_deref().map(parse_selector).transpose() {
        Ok(Some((selector, shape))) => {
            cost.selector_parts.add("selector", shape.parts);
            let source = rule.selector.as_deref().unwrap_or_default();
            cost.cpu.set_selector(shape.parts, share_permille(source), spent.has_selector(source));
            cost.cpu.add_compile("selector", SELECTOR_PART_COMPILE_NS * shape.parts as u64);
            cost.selector = Some(source.to_owned());
            Some(selector)
        }
        Ok(None) => None,
        Err(err) => return Err(FieldError::new("selector", err)),
    };
    let condition = match &rule.when {
        Some(when) => Condition::compile(when, "when", room)?,
        None => Condition::default(),
    };
    check_experiment_refs(&condition, rule.experiment.is_some(), declared)?;
    let actions = compile_actions(&rule.actions, "actions", selector.is_some(), room, &mut cost)?;
    check_max(rule, &actions)?;
    check_template_refs(&actions, "actions", declared)?;
    let experiment = match &rule.experiment {
        Some(experiment) => {
            let compiled = CompiledExperiment::compile(experiment, selector.is_some(), room, &mut cost)?;
            for (i, variant) in compiled.variants.iter().enumerate() {
                check_template_refs(&variant.actions, &format!("experiment.variants[{i}].actions"), declared)?;
            }
            Some(compiled)
        }
        None => None,
    };
    if spent.text_rules() == 0 {
        cost.cpu.add_first_text_rule();
    }
    cost.regex_memory = room.spend();
    cost.regex_compile_ns = room.compiled_ns();
    cost.cpu.add_compile(&cost.regex_memory.field, RULE_COMPILE_NS + room.compiled_ns());
    let compiled = CompiledRule {
        id: rule.id.clone(),
        entry: entry.to_owned(),
        selector_source: rule.selector.clone(),
        selector,
        condition,
        actions,
        shadow: rule.mode == Mode::Shadow,
        experiment,
        max: rule.max,
        cost: cost.cpu.clone(),
    };
    Ok((compiled, cost))
}

/// `max` counts the elements a selector matches: a rule needs a selector and element
/// actions for it to mean anything.
fn check_max(rule: &Rule, actions: &[(Scope, CompiledAction)]) -> Result<(), FieldError> {
    let Some(max) = rule.max else { return Ok(()) };
    if max == 0 {
        return Err(FieldError::new("max", "0 elements would do nothing; leave `max` out to act on every match"));
    }
    let element_actions = actions.iter().any(|(scope, _)| *scope == Scope::Element) || rule.experiment.is_some();
    if rule.selector.is_none() || !element_actions {
        return Err(FieldError::new(
            "max",
            "`max` limits how many elements the selector's element actions act on; this rule has none              (`replace_text` takes its own `max`)",
        ));
    }
    Ok(())
}

/// Each `when.experiment` names a declared experiment and one of its variants; a rule that
/// declares an experiment tests none, since its conditions decide who enters it.
fn check_experiment_refs(condition: &Condition, declares: bool, declared: &Declared) -> Result<(), FieldError> {
    for (field, id, variant) in condition.experiment_refs() {
        if declares {
            return Err(FieldError::new(
                field,
                "a rule declaring an experiment cannot test one: its conditions decide who enters its experiment \
                 (to keep experiments apart, give them a namespace)",
            ));
        }
        let variants = declared.get(id).ok_or_else(|| FieldError::new(field, unknown_experiment(id, declared)))?;
        if let Some(variant) = variant
            && !variants.iter().any(|name| name == variant)
        {
            return Err(FieldError::new(
                format!("{field}.variant"),
                format!("the experiment {id:?} has no variant {variant:?}; its variants are {}", variants.join(", ")),
            ));
        }
    }
    Ok(())
}

/// Each `{{experiment.ID}}` in the actions written at `at` names a declared experiment.
fn check_template_refs(actions: &[(Scope, CompiledAction)], at: &str, declared: &Declared) -> Result<(), FieldError> {
    for (i, (_, action)) in actions.iter().enumerate() {
        if let Some(id) =
            action.templates().flat_map(|template| template.experiments()).find(|id| !declared.contains_key(*id))
        {
            return Err(FieldError::new(
                format!("{at}[{i}]"),
                format!("`{{{{experiment.{id}}}}}`: {}", unknown_experiment(id, declared)),
            ));
        }
    }
    Ok(())
}

fn unknown_experiment(id: &str, declared: &Declared) -> String {
    let mut known: Vec<&str> = declared.keys().map(String::as_str).collect();
    known.sort_unstable();
    match known.as_slice() {
        [] => format!("no rule declares an experiment {id:?} (a rule's `experiment` does)"),
        known => format!("no rule declares an experiment {id:?}; the experiments are {}", known.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::RequestContext;

    fn set(json: &str) -> (RuleSet, Vec<RuleError>) {
        RuleSet::from_entries(&[("test".to_owned(), json.to_owned())])
    }

    #[test]
    fn bad_selectors_are_errors_that_name_the_selector() {
        let (rules, errors) = set(r#"[{"id":"ok","selector":"p","actions":["remove"]},
                {"id":"bad","selector":"p:last-child","actions":["remove"]},
                {"id":"broken","selector":"p[","actions":["remove"]}]"#);
        assert_eq!(rules.rule_ids().collect::<Vec<_>>(), ["ok"]);
        assert_eq!(errors.len(), 2);
        assert_eq!((errors[0].rule.as_deref(), errors[0].field.as_deref()), (Some("bad"), Some("selector")));
        assert!(errors[0].reason.contains("`:last-child`"), "{}", errors[0]);
        assert_eq!(errors[1].rule.as_deref(), Some("broken"));
    }

    #[test]
    fn disabled_rules_are_left_out_quietly() {
        let (rules, errors) = set(r#"{"id":"off","enabled":false,"selector":"p","actions":["remove"]}"#);
        assert!(rules.is_empty());
        assert!(errors.is_empty());
        assert_eq!(rules.disabled_ids().collect::<Vec<_>>(), ["off"]);
    }

    #[test]
    fn duplicate_ids_keep_the_first_rule() {
        let (rules, errors) = set(r#"[{"id":"twin","selector":"p","actions":["remove"]},
                {"id":"twin","selector":"div","actions":["remove"]}]"#);
        assert_eq!(rules.len(), 1);
        assert_eq!(errors[0].field.as_deref(), Some("id"));
        assert!(errors[0].reason.contains("already has this id"), "{}", errors[0]);
    }

    const HERO: &str = r#"{"id": "hero", "selector": "h1", "experiment": {"id": "hero-2026", "attribute": "data-hero",
        "variants": [{"name": "control", "weight": 1}, {"name": "big", "weight": 1, "actions": [{"append": {"text": "!"}}]}]}}"#;

    fn visitor(variant: &str) -> RequestContext {
        let mut context = RequestContext::for_url("GET", "/").unwrap();
        context.variants = vec![("hero-2026".into(), variant.into())];
        context
    }

    #[test]
    fn an_experiment_plans_its_variants_actions_and_other_rules_follow_it() {
        let (rules, errors) = set(&format!(
            r#"[{HERO}, {{"id": "big-css", "selector": "head", "when": {{"experiment": {{"id": "hero-2026", "variant": "big"}}}},
                "actions": [{{"append": {{"html": "<style>h1{{}}</style>"}}}}]}},
               {{"id": "say", "selector": "body", "actions": [{{"append": {{"text": "{{{{experiment.hero-2026}}}}"}}}}]}}]"#
        ));
        assert!(errors.is_empty(), "{errors:?}");
        let big = rules.plan(&visitor("big"));
        assert_eq!(big.rule_ids().collect::<Vec<_>>(), ["hero", "big-css", "say"]);
        assert_eq!(big.experiments().collect::<Vec<_>>(), [("hero-2026", "big")]);
        assert!(big.forced() && big.per_visitor() && big.new_visitor_id().is_none());
        assert!(rules.dependence().headers.contains("cookie"), "the visitor cookie picks the variant");
        let control = rules.plan(&visitor("control"));
        assert_eq!(control.rule_ids().collect::<Vec<_>>(), ["hero", "say"], "control marks its elements");
        assert_eq!(rules.why_not("big-css", &visitor("control")).as_deref(), Some("when.experiment"));
        // Nobody to bucket: outside the experiment, and the page still depends on who asks.
        let anonymous = rules.plan(&RequestContext::for_url("GET", "/").unwrap());
        assert_eq!(anonymous.rule_ids().collect::<Vec<_>>(), ["say"]);
        assert!(anonymous.per_visitor() && anonymous.experiments().next().is_none());
        assert_eq!(
            rules.why_not("hero", &RequestContext::for_url("GET", "/").unwrap()).as_deref(),
            Some("experiment (no visitor id)")
        );
        // A new visitor is bucketed by the id the service will give it.
        let mut new = RequestContext::for_url("GET", "/").unwrap();
        new.new_visitor_id = Some("0123".into());
        assert_eq!(rules.plan(&new).new_visitor_id(), Some("0123"));
    }

    #[test]
    fn experiments_are_declared_once_and_named_correctly() {
        let error = |json: String| {
            let (_, errors) = set(&json);
            assert_eq!(errors.len(), 1, "{errors:?}");
            errors.into_iter().next().unwrap()
        };
        let twice = error(format!("[{HERO}, {}]", HERO.replace(r#""id": "hero""#, r#""id": "hero-again""#)));
        assert_eq!((twice.rule.as_deref(), twice.field.as_deref()), (Some("hero-again"), Some("experiment.id")));
        let unknown = error(format!(
            r#"[{HERO}, {{"id": "r", "selector": "p", "when": {{"experiment": {{"id": "hero-2025"}}}}, "actions": ["remove"]}}]"#
        ));
        assert_eq!(unknown.field.as_deref(), Some("when.experiment"));
        assert!(unknown.reason.contains("the experiments are hero-2026"), "{unknown}");
        let variant = error(format!(
            r#"[{{"id": "r", "selector": "p", "when": {{"experiment": {{"id": "hero-2026", "variant": "huge"}}}}, "actions": ["remove"]}}, {HERO}]"#
        ));
        assert_eq!(variant.field.as_deref(), Some("when.experiment.variant"), "declared later is fine, a typo is not");
        assert!(variant.reason.contains("its variants are control, big"), "{variant}");
        let template =
            error(r#"{"id": "r", "selector": "p", "actions": [{"append": {"text": "{{experiment.x}}"}}]}"#.into());
        assert_eq!(template.field.as_deref(), Some("actions[0]"));
        assert!(template.reason.contains("no rule declares an experiment \"x\""), "{template}");
        let nested = error(HERO.replace(
            r#""selector": "h1","#,
            r#""selector": "h1", "when": {"not": {"experiment": {"id": "hero-2026"}}},"#,
        ));
        assert_eq!(nested.field.as_deref(), Some("when.not.experiment"));
        let both = error(HERO.replace(r#""selector": "h1","#, r#""selector": "h1", "actions": ["remove"],"#));
        assert_eq!(both.field.as_deref(), Some("actions"));
        let no_selector = error(HERO.replace(r#""selector": "h1","#, ""));
        assert_eq!(no_selector.field.as_deref(), Some("selector"));
    }

    #[test]
    fn namespaces_refuse_overlapping_shares() {
        let in_namespace = |id: &str, range: &str| {
            format!(
                r#"{{"id": "{id}", "experiment": {{"id": "{id}", "namespace": {{"name": "home", "range": {range}}},
                    "variants": [{{"name": "a", "weight": 1}}, {{"name": "b", "weight": 1}}]}}}}"#
            )
        };
        let (rules, errors) = set(&format!(
            "[{}, {}, {}]",
            in_namespace("left", "[0, 50]"),
            in_namespace("middle", "[40, 60]"),
            in_namespace("right", "[50, 100]")
        ));
        assert_eq!(rules.rule_ids().collect::<Vec<_>>(), ["left", "right"]);
        assert_eq!(errors.len(), 1);
        assert_eq!(
            (errors[0].rule.as_deref(), errors[0].field.as_deref()),
            (Some("middle"), Some("experiment.namespace.range"))
        );
        assert!(errors[0].reason.contains("[0, 50] the experiment \"left\" takes"), "{}", errors[0]);
    }

    #[test]
    fn plans_keep_only_rules_whose_conditions_hold() {
        let (rules, errors) = set(
            r#"[{"id":"news","selector":"body","when":{"path":{"prefix":"/news/"}},"actions":[{"append":{"text":"n"}}]},
                {"id":"all","selector":"body","actions":[{"append":{"text":"a"}}]}]"#,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let shop = rules.plan(&RequestContext::for_url("GET", "/shop/").unwrap());
        assert_eq!(shop.rule_ids().collect::<Vec<_>>(), ["all"]);
        assert_eq!(shop.not_applicable(), ["news"]);
        let news = rules.plan(&RequestContext::for_url("GET", "/news/x").unwrap());
        assert_eq!(news.rule_ids().collect::<Vec<_>>(), ["news", "all"]);
    }
}
