//! When a rule applies: editors' `"when"` compiled once (regexes built, times parsed) and
//! evaluated per request against a [`RequestContext`].

use crate::http::audience::{CONTINENTS, DeviceType};
use crate::http::request::RequestContext;
use crate::http::time::parse_rfc3339;
use crate::http::unions::Union;
use crate::rules::budget::RegexRoom;
use crate::rules::dependence::Dependence;
use crate::rules::pattern::{Pattern, Use};
use crate::rules::schedule::Schedule;
use crate::rules::{
    FieldError, GeoMatch, InExperiment, NamedMatch, OneOrMany, Rollout, StickyKey, TextMatch, TimeWindow, When,
};

/// A compiled `when`: every check must hold.
#[derive(Debug, Clone, Default)]
pub(crate) struct Condition {
    checks: Vec<Check>,
}

/// What a condition comes to once the request is known and the response not yet: settled by
/// the request alone, or open, reduced to the checks only the response (or an experiment the
/// response decides) can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Residual {
    /// The request alone decides: the condition holds (or not) whatever the response.
    Settled(bool),
    /// The rest of the condition, as one text naming each open check by its position in the
    /// rule (`a(3,n(7))` is "check 3 and not check 7"). Two requests with the same text get
    /// the same answer for any response: the text is the formula.
    Open(String),
}

impl Residual {
    /// False only when the request alone rules the condition out.
    pub(crate) fn may_hold(&self) -> bool {
        *self != Residual::Settled(false)
    }

    /// `all`: false if any is false; the open rest otherwise (true when nothing is open).
    fn all(parts: Vec<Residual>) -> Residual {
        Self::combine(parts, false, 'a')
    }

    /// `any`: true if any is true; the open rest otherwise (false when nothing is open).
    fn any(parts: Vec<Residual>) -> Residual {
        Self::combine(parts, true, 'o')
    }

    /// Combines `parts`: one settled at `decisive` decides; settled others drop out.
    fn combine(parts: Vec<Residual>, decisive: bool, tag: char) -> Residual {
        let mut open = Vec::new();
        for part in parts {
            match part {
                Residual::Settled(answer) if answer == decisive => return Residual::Settled(decisive),
                Residual::Settled(_) => {}
                Residual::Open(text) => open.push(text),
            }
        }
        match open.len() {
            0 => Residual::Settled(!decisive),
            1 => Residual::Open(open.remove(0)),
            _ => Residual::Open(format!("{tag}({})", open.join(","))),
        }
    }

    fn not(self) -> Residual {
        match self {
            Residual::Settled(answer) => Residual::Settled(!answer),
            Residual::Open(text) => Residual::Open(format!("n({text})")),
        }
    }
}

/// Whether a request is in an experiment (`id`) and, if `variant` is given, in that variant:
/// `Some` when the request alone decides, `None` when the response does.
pub(crate) type InExperimentBeforeResponse<'a> = &'a dyn Fn(&str, Option<&str>) -> Option<bool>;

/// How a three-valued evaluation treats a leaf check (see [`Condition::reduce`]).
type Unknown<'a> = &'a dyn Fn(&Check) -> Option<Option<bool>>;

#[derive(Debug, Clone)]
enum Check {
    Path(Vec<Matcher>),
    Host(Vec<Matcher>),
    Method(Vec<String>),
    Header(Vec<NamedCheck>),
    Cookie(Vec<NamedCheck>),
    Query(Vec<NamedCheck>),
    Status(Vec<u16>),
    ContentType(Vec<String>),
    Time {
        start: Option<i64>,
        end: Option<i64>,
    },
    Rollout {
        per_10_000: u64,
        key: StickyKey,
    },
    Geo(Vec<GeoCheck>),
    Device(Vec<DeviceType>),
    /// `field` is where it is written, to blame it when the experiment is unknown.
    Experiment {
        field: String,
        id: String,
        variant: Option<String>,
    },
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
}

#[derive(Debug, Clone)]
enum Matcher {
    Equals(String),
    Prefix(String),
    Pattern(Pattern),
}

/// A compiled [`GeoMatch`]: codes upper-cased, cities lower-cased; `None` tests nothing.
#[derive(Debug, Clone)]
struct GeoCheck {
    country: Option<Vec<String>>,
    continent: Option<Vec<String>>,
    union: Option<Vec<Union>>,
    region: Option<Vec<String>>,
    city: Option<Vec<String>>,
    asn: Option<Vec<u32>>,
}

#[derive(Debug, Clone)]
struct NamedCheck {
    name: String,
    present: bool,
    value: Option<Matcher>,
}

impl Condition {
    /// Compiles `when`, found at `field` (e.g. `when`).
    /// Each regex and glob compiled is taken from `room`.
    pub(crate) fn compile(when: &When, field: &str, room: &mut RegexRoom) -> Result<Self, FieldError> {
        let mut checks = Vec::new();
        let at = |name: &str| format!("{field}.{name}");
        if let Some(path) = &when.path {
            checks.push(Check::Path(matchers(path, &at("path"), false, room)?));
        }
        if let Some(host) = &when.host {
            checks.push(Check::Host(matchers(host, &at("host"), true, room)?));
        }
        if let Some(methods) = &when.method {
            non_empty(methods, &at("method"))?;
            checks.push(Check::Method(methods.iter().map(|m| m.trim().to_ascii_uppercase()).collect()));
        }
        if let Some(headers) = &when.header {
            checks.push(Check::Header(named_checks(headers, &at("header"), true, room)?));
        }
        if let Some(cookies) = &when.cookie {
            checks.push(Check::Cookie(named_checks(cookies, &at("cookie"), false, room)?));
        }
        if let Some(query) = &when.query {
            checks.push(Check::Query(named_checks(query, &at("query"), false, room)?));
        }
        if let Some(statuses) = &when.status {
            non_empty(statuses, &at("status"))?;
            if let Some(bad) = statuses.iter().find(|status| !(100..=599).contains(*status)) {
                return Err(FieldError::new(at("status"), format!("{bad} is not an HTTP status (100 to 599)")));
            }
            checks.push(Check::Status(statuses.clone()));
        }
        if let Some(types) = &when.content_type {
            non_empty(types, &at("content_type"))?;
            checks.push(Check::ContentType(types.iter().map(|t| media_type(t)).collect()));
        }
        if let Some(window) = &when.time {
            checks.push(time_check(window, &at("time"))?);
        }
        if let Some(rollout) = &when.rollout {
            checks.push(rollout_check(rollout, &at("rollout"))?);
        }
        if let Some(geo) = &when.geo {
            checks.push(Check::Geo(geo_checks(geo, &at("geo"))?));
        }
        if let Some(devices) = &when.device {
            non_empty(devices, &at("device"))?;
            checks.push(Check::Device(devices.clone()));
        }
        if let Some(InExperiment { id, variant }) = &when.experiment {
            checks.push(Check::Experiment { field: at("experiment"), id: id.clone(), variant: variant.clone() });
        }
        if let Some(all) = &when.all {
            checks.push(Check::All(sub_conditions(all, &at("all"), room)?));
        }
        if let Some(any) = &when.any {
            checks.push(Check::Any(sub_conditions(any, &at("any"), room)?));
        }
        if let Some(not) = &when.not {
            checks.push(Check::Not(Box::new(Condition::compile(not, &at("not"), room)?)));
        }
        Ok(Condition { checks })
    }

    /// Whether the rule `rule_id` applies to this request.
    pub(crate) fn holds(&self, context: &RequestContext, rule_id: &str) -> bool {
        self.checks.iter().all(|check| check.holds(context, rule_id))
    }

    /// The first condition that does not hold, by its field (`when.path`), for explaining.
    pub(crate) fn first_failing(&self, context: &RequestContext, rule_id: &str) -> Option<String> {
        self.checks.iter().find(|check| !check.holds(context, rule_id)).map(|check| format!("when.{}", check.field()))
    }

    /// Whether this could hold for this request at some time, for some visitor: `false` only
    /// when conditions on the request itself (path, host, geo ...) rule it out, whatever the
    /// time windows, rollouts and experiments say. Those count as unknown, and unknowns
    /// combine as in three-valued logic (`not` of unknown is unknown), so no nesting of `all`,
    /// `any` and `not` makes it lie.
    pub(crate) fn could_hold(&self, context: &RequestContext, rule_id: &str) -> bool {
        self.settled(context, rule_id) != Some(false)
    }

    /// `Some(answer)` when the request alone decides, `None` when time or visitor do.
    fn settled(&self, context: &RequestContext, rule_id: &str) -> Option<bool> {
        let unknown = |check: &Check| {
            matches!(check, Check::Time { .. } | Check::Rollout { .. } | Check::Experiment { .. }).then_some(None)
        };
        match self.reduce(context, rule_id, &unknown, &mut 0) {
            Residual::Settled(answer) => Some(answer),
            Residual::Open(_) => None,
        }
    }

    /// What this comes to for `context` before the response: status and content type are
    /// unknown, experiments are as `in_experiment` says, everything else is the request's.
    /// Every check is visited (no short cut), so positions name the same check for every
    /// request.
    pub(crate) fn residual(
        &self,
        context: &RequestContext,
        rule_id: &str,
        in_experiment: InExperimentBeforeResponse<'_>,
    ) -> Residual {
        let unknown = |check: &Check| match check {
            Check::Status(_) | Check::ContentType(_) => Some(None),
            Check::Experiment { id, variant, .. } => Some(in_experiment(id, variant.as_deref())),
            _ => None,
        };
        self.reduce(context, rule_id, &unknown, &mut 0)
    }

    /// Three-valued evaluation: `unknown(check)` is `Some(None)` for a check that stays open,
    /// `Some(Some(answer))` for one answered otherwise, `None` for one `context` answers.
    fn reduce(&self, context: &RequestContext, rule_id: &str, unknown: Unknown<'_>, position: &mut usize) -> Residual {
        Residual::all(self.checks.iter().map(|check| check.reduce(context, rule_id, unknown, position)).collect())
    }

    /// The time windows, rollouts and experiments this depends on, however nested.
    pub(crate) fn schedule(&self) -> Vec<Schedule> {
        let mut found = Vec::new();
        self.visit(&mut |check| match check {
            Check::Time { start, end } => found.push(Schedule::Window { start: *start, end: *end }),
            Check::Rollout { per_10_000, key } => {
                found.push(Schedule::Rollout { percent: *per_10_000 as f64 / 100.0, sticky_by: key.clone() })
            }
            Check::Experiment { id, variant, .. } => {
                found.push(Schedule::InExperiment { id: id.clone(), variant: variant.clone() })
            }
            _ => {}
        });
        found
    }

    /// Each `experiment` condition, however nested: where it is written, the experiment's id
    /// and the variant it names.
    pub(crate) fn experiment_refs(&self) -> Vec<(&str, &str, Option<&str>)> {
        let mut found = Vec::new();
        self.visit(&mut |check| {
            if let Check::Experiment { field, id, variant } = check {
                found.push((field.as_str(), id.as_str(), variant.as_deref()));
            }
        });
        found
    }

    /// Calls `see` on every check, nested ones included.
    fn visit<'c>(&'c self, see: &mut dyn FnMut(&'c Check)) {
        for check in &self.checks {
            see(check);
            match check {
                Check::All(conditions) | Check::Any(conditions) => conditions.iter().for_each(|c| c.visit(see)),
                Check::Not(condition) => condition.visit(see),
                _ => {}
            }
        }
    }
}

impl Condition {
    /// Adds what this condition reads to `dependence`.
    pub(crate) fn depend(&self, dependence: &mut Dependence) {
        for check in &self.checks {
            match check {
                Check::Header(checks) => dependence.headers.extend(checks.iter().map(|c| c.name.clone())),
                Check::Cookie(_) => {
                    dependence.headers.insert("cookie".into());
                }
                Check::Time { start, end } => dependence.boundaries.extend(start.iter().chain(end).copied()),
                Check::Rollout { key, .. } => {
                    dependence.unseen = true;
                    match key {
                        StickyKey::Cookie(_) => {
                            dependence.headers.insert("cookie".into());
                        }
                        StickyKey::Header(name) => {
                            dependence.headers.insert(name.to_ascii_lowercase());
                        }
                        StickyKey::ClientIp => {}
                    }
                }
                // Looked up from the client's address and User-Agent, or assigned per visitor:
                // nothing a downstream cache keys on.
                Check::Geo(_) | Check::Device(_) | Check::Experiment { .. } => dependence.unseen = true,
                Check::All(conditions) | Check::Any(conditions) => conditions.iter().for_each(|c| c.depend(dependence)),
                Check::Not(condition) => condition.depend(dependence),
                // The URL is in every key; status and type come with the response.
                Check::Path(_)
                | Check::Host(_)
                | Check::Method(_)
                | Check::Query(_)
                | Check::Status(_)
                | Check::ContentType(_) => {}
            }
        }
    }
}

impl Check {
    /// The field of `when` this check came from.
    fn field(&self) -> &'static str {
        match self {
            Check::Path(_) => "path",
            Check::Host(_) => "host",
            Check::Method(_) => "method",
            Check::Header(_) => "header",
            Check::Cookie(_) => "cookie",
            Check::Query(_) => "query",
            Check::Status(_) => "status",
            Check::ContentType(_) => "content_type",
            Check::Time { .. } => "time",
            Check::Rollout { .. } => "rollout",
            Check::Geo(_) => "geo",
            Check::Device(_) => "device",
            Check::Experiment { .. } => "experiment",
            Check::All(_) => "all",
            Check::Any(_) => "any",
            Check::Not(_) => "not",
        }
    }

    fn holds(&self, context: &RequestContext, rule_id: &str) -> bool {
        match self {
            Check::Path(matchers) => matchers.iter().any(|m| m.matches(&context.path)),
            Check::Host(matchers) => matchers.iter().any(|m| m.matches(&context.host)),
            Check::Method(methods) => methods.iter().any(|m| m.eq_ignore_ascii_case(&context.method)),
            Check::Header(checks) => checks.iter().any(|c| c.holds(context.header(&c.name))),
            Check::Cookie(checks) => checks.iter().any(|c| c.holds(context.cookie(&c.name))),
            Check::Query(checks) => checks.iter().any(|c| c.holds(context.query_param(&c.name))),
            Check::Status(statuses) => statuses.contains(&context.status),
            Check::ContentType(types) => {
                context.content_type.as_deref().map(media_type).is_some_and(|actual| types.contains(&actual))
            }
            Check::Time { start, end } => {
                start.is_none_or(|start| context.now >= start) && end.is_none_or(|end| context.now < end)
            }
            Check::Rollout { per_10_000, key } => {
                sticky_key(context, key).is_some_and(|key| bucket(rule_id, key) < *per_10_000)
            }
            Check::Geo(checks) => checks.iter().any(|c| c.holds(context)),
            Check::Device(devices) => context.device.is_some_and(|device| devices.contains(&device)),
            Check::Experiment { id, variant, .. } => {
                context.variant(id).is_some_and(|assigned| variant.as_deref().is_none_or(|wanted| wanted == assigned))
            }
            Check::All(conditions) => conditions.iter().all(|c| c.holds(context, rule_id)),
            Check::Any(conditions) => conditions.iter().any(|c| c.holds(context, rule_id)),
            Check::Not(condition) => !condition.holds(context, rule_id),
        }
    }

    /// [`Condition::reduce`] for one check, numbered `position` in pre-order.
    fn reduce(&self, context: &RequestContext, rule_id: &str, unknown: Unknown<'_>, position: &mut usize) -> Residual {
        let here = *position;
        *position += 1;
        let each = |conditions: &[Condition], position: &mut usize| -> Vec<Residual> {
            conditions.iter().map(|c| c.reduce(context, rule_id, unknown, position)).collect()
        };
        match self {
            Check::All(conditions) => Residual::all(each(conditions, position)),
            Check::Any(conditions) => Residual::any(each(conditions, position)),
            Check::Not(condition) => condition.reduce(context, rule_id, unknown, position).not(),
            leaf => match unknown(leaf) {
                Some(None) => Residual::Open(here.to_string()),
                Some(Some(answer)) => Residual::Settled(answer),
                None => Residual::Settled(leaf.holds(context, rule_id)),
            },
        }
    }
}

impl GeoCheck {
    fn holds(&self, context: &RequestContext) -> bool {
        let code = |list: &Option<Vec<String>>, value: Option<&str>| {
            list.as_ref()
                .is_none_or(|list| value.is_some_and(|value| list.iter().any(|c| c.eq_ignore_ascii_case(value))))
        };
        let geo = &context.geo;
        code(&self.country, context.country.as_deref())
            && code(&self.continent, geo.continent.as_deref())
            && self.union.as_ref().is_none_or(|unions| {
                context.country.as_deref().is_some_and(|country| unions.iter().any(|union| union.has(country)))
            })
            && code(&self.region, geo.region.as_deref())
            && self.city.as_ref().is_none_or(|cities| {
                geo.city.as_deref().is_some_and(|city| cities.contains(&city.trim().to_lowercase()))
            })
            && self.asn.as_ref().is_none_or(|numbers| geo.asn.is_some_and(|asn| numbers.contains(&asn)))
    }
}

impl Matcher {
    /// Takes what the matcher holds and took to compile from `room`.
    fn take_from(&self, room: &mut RegexRoom, field: &str) -> Result<(), FieldError> {
        match self {
            Matcher::Pattern(pattern) => room.take(field, pattern.memory(), pattern.compile_ns()),
            Matcher::Equals(_) | Matcher::Prefix(_) => Ok(()),
        }
    }

    fn matches(&self, text: &str) -> bool {
        match self {
            Matcher::Equals(expected) => text == expected,
            Matcher::Prefix(prefix) => text.starts_with(prefix.as_str()),
            Matcher::Pattern(regex) => regex.is_match(text),
        }
    }
}

impl NamedCheck {
    fn holds(&self, value: Option<&str>) -> bool {
        match (&self.value, value) {
            (Some(matcher), Some(value)) => matcher.matches(value),
            (Some(_), None) => false,
            (None, value) => value.is_some() == self.present,
        }
    }
}

fn non_empty<T>(list: &[T], field: &str) -> Result<(), FieldError> {
    if list.is_empty() {
        return Err(FieldError::new(
            field,
            "an empty list never matches: list at least one value or drop the condition",
        ));
    }
    Ok(())
}

fn matchers(
    list: &OneOrMany<TextMatch>,
    field: &str,
    lowercase: bool,
    room: &mut RegexRoom,
) -> Result<Vec<Matcher>, FieldError> {
    compile_each(list, field, |item, field| {
        match matcher(&item.equals, &item.prefix, &item.glob, &item.regex, lowercase, &field, room)? {
            Some(matcher) => {
                matcher.take_from(room, &field)?;
                Ok(matcher)
            }
            None => Err(FieldError::new(field, "give one of `equals`, `prefix`, `glob` or `regex`")),
        }
    })
}

/// Compiles each item of a one-or-many list written at `field`; an item of a list is
/// `field[i]`.
fn compile_each<T, U>(
    list: &OneOrMany<T>,
    field: &str,
    mut compile: impl FnMut(&T, String) -> Result<U, FieldError>,
) -> Result<Vec<U>, FieldError> {
    non_empty(&list.0, field)?;
    list.0.iter().enumerate().map(|(i, item)| compile(item, indexed(field, i, list.0.len()))).collect()
}

/// Builds the matcher (written at `field`) from whichever of the four fields is set;
/// `Ok(None)` when none is, an error when several are. A glob or regex is compiled only if
/// `room` has the compile budget for it.
fn matcher(
    equals: &Option<String>,
    prefix: &Option<String>,
    glob: &Option<String>,
    regex: &Option<String>,
    lowercase: bool,
    field: &str,
    room: &mut RegexRoom,
) -> Result<Option<Matcher>, FieldError> {
    let given = [equals.is_some(), prefix.is_some(), glob.is_some(), regex.is_some()].iter().filter(|g| **g).count();
    if given > 1 {
        return Err(FieldError::new(field, "give only one of `equals`, `prefix`, `glob` or `regex`"));
    }
    let fold = |text: &String| {
        if lowercase { text.to_ascii_lowercase() } else { text.clone() }
    };
    Ok(if let Some(text) = equals {
        Some(Matcher::Equals(fold(text)))
    } else if let Some(text) = prefix {
        Some(Matcher::Prefix(fold(text)))
    } else if let Some(text) = glob {
        room.may_compile(field)?;
        let size = room.regex_size();
        Some(Matcher::Pattern(Pattern::glob_within(&fold(text), size).map_err(|err| room.refusal(field, err))?))
    } else if let Some(text) = regex {
        room.may_compile(field)?;
        let size = room.regex_size();
        Some(Matcher::Pattern(
            Pattern::regex_within(text, Use::Condition, size).map_err(|err| room.refusal(field, err))?,
        ))
    } else {
        None
    })
}

fn named_checks(
    list: &OneOrMany<NamedMatch>,
    field: &str,
    case_insensitive_name: bool,
    room: &mut RegexRoom,
) -> Result<Vec<NamedCheck>, FieldError> {
    compile_each(list, field, |item, field| {
        if item.name.trim().is_empty() {
            return Err(FieldError::new(format!("{field}.name"), "the name is empty"));
        }
        let value = matcher(&item.equals, &item.prefix, &item.glob, &item.regex, false, &field, room)?;
        if let Some(value) = &value {
            value.take_from(room, &field)?;
        }
        let present = match (item.present, &value) {
            (Some(_), Some(_)) => {
                return Err(FieldError::new(
                    field,
                    "give `present` or a value test (`equals`, `prefix`, `glob`, `regex`), not both",
                ));
            }
            (Some(present), None) => present,
            (None, Some(_)) => true,
            (None, None) => {
                return Err(FieldError::new(
                    field,
                    "say what to test: `present`, `equals`, `prefix`, `glob` or `regex`",
                ));
            }
        };
        let name = if case_insensitive_name { item.name.trim().to_ascii_lowercase() } else { item.name.clone() };
        Ok(NamedCheck { name, present, value })
    })
}

fn time_check(window: &TimeWindow, field: &str) -> Result<Check, FieldError> {
    let parse = |text: &Option<String>, name: &str| {
        text.as_deref().map(parse_rfc3339).transpose().map_err(|err| FieldError::new(format!("{field}.{name}"), err))
    };
    let (start, end) = (parse(&window.start, "start")?, parse(&window.end, "end")?);
    match (start, end) {
        (None, None) => Err(FieldError::new(field, "give `start`, `end` or both")),
        (Some(start), Some(end)) if start >= end => {
            Err(FieldError::new(field, "`start` must be before `end`; as written the window never opens"))
        }
        _ => Ok(Check::Time { start, end }),
    }
}

fn rollout_check(rollout: &Rollout, field: &str) -> Result<Check, FieldError> {
    if !(0.0..=100.0).contains(&rollout.percent) {
        return Err(FieldError::new(
            format!("{field}.percent"),
            format!("{} is not a percentage (0 to 100)", rollout.percent),
        ));
    }
    let key = rollout.sticky_by.clone().unwrap_or(StickyKey::ClientIp);
    if let StickyKey::Cookie(name) | StickyKey::Header(name) = &key
        && name.trim().is_empty()
    {
        return Err(FieldError::new(format!("{field}.sticky_by"), "name the cookie or header"));
    }
    Ok(Check::Rollout { per_10_000: (rollout.percent * 100.0).round() as u64, key })
}

fn geo_checks(list: &OneOrMany<GeoMatch>, field: &str) -> Result<Vec<GeoCheck>, FieldError> {
    compile_each(list, field, |item, field| {
        let at = |name: &str| format!("{field}.{name}");
        let codes = |list: &Option<Vec<String>>, name: &str, valid: &dyn Fn(&str) -> bool, what: &str| {
            let Some(list) = list else { return Ok(None) };
            non_empty(list, &at(name))?;
            match list.iter().find(|code| !valid(code.trim())) {
                Some(bad) => Err(FieldError::new(at(name), format!("{bad:?} is not {what}"))),
                None => Ok(Some(list.iter().map(|code| code.trim().to_ascii_uppercase()).collect())),
            }
        };
        let country = codes(
            &item.country,
            "country",
            &|code| code.len() == 2 && code.chars().all(|c| c.is_ascii_alphabetic()),
            "a country code: give ISO 3166-1 alpha-2 codes such as \"DE\"",
        )?;
        let continent = codes(
            &item.continent,
            "continent",
            &|code| CONTINENTS.iter().any(|known| known.eq_ignore_ascii_case(code)),
            &format!("a continent code: give one of {}", CONTINENTS.join(", ")),
        )?;
        let union = match &item.union {
            Some(names) => {
                non_empty(names, &at("union"))?;
                let unions: Result<Vec<Union>, FieldError> = names
                    .iter()
                    .map(|name| {
                        Union::from_code(name).ok_or_else(|| {
                            FieldError::new(
                                at("union"),
                                format!(
                                    "{name:?} is not a union: give EU (the European Union) or EEA (the EU, Iceland, \
                                     Liechtenstein and Norway); a continent goes in `continent`"
                                ),
                            )
                        })
                    })
                    .collect();
                Some(unions?)
            }
            None => None,
        };
        let region = codes(
            &item.region,
            "region",
            &|code| !code.is_empty() && code.chars().all(|c| c.is_ascii_alphanumeric()),
            "a region code: give ISO 3166-2 subdivision codes without the country, such as \"CA\"",
        )?;
        let city = match &item.city {
            Some(cities) => {
                non_empty(cities, &at("city"))?;
                if cities.iter().any(|city| city.trim().is_empty()) {
                    return Err(FieldError::new(at("city"), "a city name is empty"));
                }
                Some(cities.iter().map(|city| city.trim().to_lowercase()).collect())
            }
            None => None,
        };
        if let Some(numbers) = &item.asn {
            non_empty(numbers, &at("asn"))?;
        }
        let check = GeoCheck { country, continent, union, region, city, asn: item.asn.clone() };
        if [&check.country, &check.continent, &check.region, &check.city].iter().all(|list| list.is_none())
            && check.asn.is_none()
            && check.union.is_none()
        {
            return Err(FieldError::new(
                field,
                "say where: `country`, `continent`, `union`, `region`, `city` or `asn`",
            ));
        }
        Ok(check)
    })
}

fn sub_conditions(list: &[When], field: &str, room: &mut RegexRoom) -> Result<Vec<Condition>, FieldError> {
    non_empty(list, field)?;
    list.iter().enumerate().map(|(i, when)| Condition::compile(when, &format!("{field}[{i}]"), room)).collect()
}

/// The key a client's rollout bucket comes from; the IP stands in for a missing cookie or
/// header, so such clients still get a stable answer.
fn sticky_key<'a>(context: &'a RequestContext, key: &StickyKey) -> Option<&'a str> {
    let named = match key {
        StickyKey::ClientIp => None,
        StickyKey::Cookie(name) => context.cookie(name),
        StickyKey::Header(name) => context.header(name),
    };
    named.or(context.client_ip.as_deref())
}

/// The client's bucket, 0 to 9,999, for `salt` (a rule id, an experiment id, a namespace):
/// the first 8 bytes of SHA-256 over both, length-prefixed, modulo 10,000. Stable across
/// builds and machines (std's hasher is not) and well mixed, so that salts differing in a
/// character pick independent shares of clients (FNV-1a taken modulo without a final mixing
/// step correlated them: two experiments agreeing for 98% of visitors).
pub(crate) fn bucket(salt: &str, key: &str) -> u64 {
    use sha2::{Digest, Sha256};

    let mut hasher = Sha256::new();
    for part in [salt, key] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let first: [u8; 8] = digest[..8].try_into().expect("a SHA-256 digest has 32 bytes");
    // 2^64 is not a multiple of 10,000: the first buckets are more likely by 1 in 10^15.
    u64::from_le_bytes(first) % 10_000
}

fn media_type(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// `field[i]` when the editor wrote a list, `field` when a single object.
fn indexed(field: &str, i: usize, len: usize) -> String {
    if len > 1 { format!("{field}[{i}]") } else { field.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn when(json: &str) -> When {
        serde_json::from_str(json).unwrap()
    }

    fn holds(json: &str, context: &RequestContext) -> bool {
        Condition::compile(&when(json), "when", &mut RegexRoom::unlimited()).unwrap().holds(context, "rule")
    }

    fn error(json: &str) -> FieldError {
        Condition::compile(&when(json), "when", &mut RegexRoom::unlimited()).unwrap_err()
    }

    fn request(url: &str) -> RequestContext {
        RequestContext::for_url("GET", url).unwrap()
    }

    #[test]
    fn path_prefix_glob_regex_and_lists() {
        let article = request("https://example.com/news/2026/cats.html?x=1");
        assert!(holds(r#"{"path": {"prefix": "/news/"}}"#, &article));
        assert!(!holds(r#"{"path": {"prefix": "/shop/"}}"#, &article));
        assert!(holds(r#"{"path": {"glob": "/news/*.html"}}"#, &article));
        assert!(!holds(r#"{"path": {"glob": "/news/*.htm"}}"#, &article));
        assert!(holds(r#"{"path": {"regex": "^/news/[0-9]{4}/"}}"#, &article));
        assert!(holds(r#"{"path": {"equals": "/news/2026/cats.html"}}"#, &article));
        assert!(holds(r#"{"path": [{"prefix": "/shop/"}, {"prefix": "/news/"}]}"#, &article));
    }

    #[test]
    fn host_is_case_insensitive() {
        let shop = request("https://Shop.Example.com/");
        assert!(holds(r#"{"host": {"equals": "shop.EXAMPLE.com"}}"#, &shop));
        assert!(holds(r#"{"host": {"glob": "*.example.com"}}"#, &shop));
        assert!(!holds(r#"{"host": {"equals": "www.example.com"}}"#, &shop));
    }

    #[test]
    fn method_status_and_content_type() {
        let mut context = request("/");
        assert!(holds(r#"{"method": ["get", "HEAD"]}"#, &context));
        assert!(!holds(r#"{"method": ["POST"]}"#, &context));
        context.status = 203;
        assert!(holds(r#"{"status": [200, 203]}"#, &context));
        assert!(!holds(r#"{"status": [200]}"#, &context));
        context.content_type = Some("Application/XHTML+xml; charset=utf-8".into());
        assert!(holds(r#"{"content_type": ["application/xhtml+xml"]}"#, &context));
        assert!(!holds(r#"{"content_type": ["text/html"]}"#, &context));
    }

    #[test]
    fn headers_cookies_and_query() {
        let mut context = request("/?utm_source=newsletter&debug");
        context.add_header("X-Beta", "yes");
        context.add_header("Cookie", "consent=all; ab=b");
        assert!(holds(r#"{"header": {"name": "x-BETA", "equals": "yes"}}"#, &context));
        assert!(holds(r#"{"header": {"name": "x-missing", "present": false}}"#, &context));
        assert!(!holds(r#"{"header": {"name": "x-beta", "present": false}}"#, &context));
        assert!(holds(r#"{"cookie": {"name": "consent", "present": true}}"#, &context));
        assert!(!holds(r#"{"cookie": {"name": "Consent", "present": true}}"#, &context));
        assert!(holds(r#"{"cookie": {"name": "ab", "regex": "^[ab]$"}}"#, &context));
        assert!(holds(r#"{"query": {"name": "utm_source", "prefix": "news"}}"#, &context));
        assert!(holds(r#"{"query": {"name": "debug", "present": true}}"#, &context));
        assert!(!holds(r#"{"query": {"name": "utm_source", "equals": "ads"}}"#, &context));
        assert!(holds(
            r#"{"query": [{"name": "utm_source", "equals": "ads"}, {"name": "debug", "present": true}]}"#,
            &context
        ));
    }

    #[test]
    fn time_windows_include_start_and_exclude_end() {
        let mut context = request("/");
        let window = r#"{"time": {"start": "2026-11-27T00:00:00Z", "end": "2026-11-30T00:00:00Z"}}"#;
        context.now = parse_rfc3339("2026-11-26T23:59:59Z").unwrap();
        assert!(!holds(window, &context));
        context.now = parse_rfc3339("2026-11-27T00:00:00Z").unwrap();
        assert!(holds(window, &context));
        context.now = parse_rfc3339("2026-11-30T00:00:00Z").unwrap();
        assert!(!holds(window, &context));
        assert!(holds(r#"{"time": {"start": "2026-11-01T00:00:00Z"}}"#, &context));
        assert!(!holds(r#"{"time": {"end": "2026-11-01T00:00:00Z"}}"#, &context));
    }

    #[test]
    fn rollouts_are_sticky_and_roughly_the_right_size() {
        let rollout = r#"{"rollout": {"percent": 25}}"#;
        let mut inside = 0;
        for i in 0..4000 {
            let mut context = request("/");
            context.client_ip = Some(format!("10.0.{}.{}", i / 256, i % 256));
            let first = holds(rollout, &context);
            assert_eq!(first, holds(rollout, &context), "sticky");
            inside += usize::from(first);
        }
        assert!((800..1200).contains(&inside), "{inside} of 4000 in a 25% rollout");
        let mut context = request("/");
        assert!(!holds(rollout, &context), "no key at all: outside");
        context.client_ip = Some("10.1.1.1".into());
        assert!(holds(r#"{"rollout": {"percent": 100}}"#, &context));
        assert!(!holds(r#"{"rollout": {"percent": 0}}"#, &context));
        // Sticky by cookie: the same visitor id gives the same answer from any IP.
        let by_cookie = r#"{"rollout": {"percent": 50, "sticky_by": {"cookie": "vid"}}}"#;
        let answers: Vec<bool> = (0..20)
            .map(|i| {
                let mut context = request("/");
                context.client_ip = Some(format!("192.0.2.{i}"));
                context.add_header("Cookie", "vid=visitor-42");
                holds(by_cookie, &context)
            })
            .collect();
        assert!(answers.iter().all(|a| *a == answers[0]));
    }

    #[test]
    fn geo_matches_codes_any_case_and_every_field_given() {
        let mut context = request("/");
        assert!(!holds(r#"{"geo": {"country": ["DE"]}}"#, &context), "no geolocation: no match");
        context.country = Some("DE".into());
        context.geo.continent = Some("EU".into());
        context.geo.region = Some("BE".into());
        context.geo.city = Some("Berlin".into());
        context.geo.asn = Some(3320);
        assert!(holds(r#"{"geo": {"country": ["at", "de"]}}"#, &context));
        assert!(holds(r#"{"geo": {"continent": ["eu"], "city": ["BERLIN"], "asn": [3320]}}"#, &context));
        assert!(!holds(r#"{"geo": {"country": ["DE"], "region": ["BY"]}}"#, &context), "fields AND");
        assert!(holds(r#"{"geo": [{"country": ["US"]}, {"region": ["BE"]}]}"#, &context), "a list is any");
        assert!(!holds(r#"{"geo": {"asn": [54113]}}"#, &context));
    }

    #[test]
    fn the_union_is_its_members_and_not_the_continent() {
        let mut context = request("/");
        assert!(!holds(r#"{"geo": {"union": ["EU"]}}"#, &context), "no geolocation: no match");
        for (country, eu, eea) in [("DE", true, true), ("re", true, true), ("NO", false, true), ("CH", false, false)] {
            context.country = Some(country.into());
            context.geo.continent = Some("EU".into());
            assert_eq!(holds(r#"{"geo": {"union": ["eu"]}}"#, &context), eu, "{country} in the EU");
            assert_eq!(holds(r#"{"geo": {"union": ["EEA"]}}"#, &context), eea, "{country} in the EEA");
            assert!(holds(r#"{"geo": {"continent": ["EU"]}}"#, &context), "{country} is in Europe");
        }
    }

    #[test]
    fn device_and_experiment_membership() {
        let mut context = request("/");
        assert!(!holds(r#"{"device": ["desktop"]}"#, &context), "unknown device: no match");
        context.device = Some(DeviceType::Tablet);
        assert!(holds(r#"{"device": ["mobile", "tablet"]}"#, &context));
        assert!(!holds(r#"{"device": ["bot"]}"#, &context));
        assert!(!holds(r#"{"experiment": {"id": "hero"}}"#, &context));
        context.variants = vec![("hero".into(), "big".into())];
        assert!(holds(r#"{"experiment": {"id": "hero"}}"#, &context));
        assert!(holds(r#"{"experiment": {"id": "hero", "variant": "big"}}"#, &context));
        assert!(!holds(r#"{"experiment": {"id": "hero", "variant": "control"}}"#, &context));
    }

    #[test]
    fn what_could_hold_ignores_time_rollouts_and_experiments_soundly() {
        let could = |json: &str, context: &RequestContext| {
            Condition::compile(&when(json), "when", &mut RegexRoom::unlimited()).unwrap().could_hold(context, "rule")
        };
        let shop = request("https://example.com/shop/");
        assert!(could(r#"{"time": {"end": "2000-01-01T00:00:00Z"}}"#, &shop), "closed, but a window counts as unknown");
        assert!(!could(r#"{"path": {"prefix": "/news/"}, "time": {"end": "2000-01-01T00:00:00Z"}}"#, &shop));
        assert!(could(r#"{"not": {"rollout": {"percent": 10}}}"#, &shop), "not unknown is unknown");
        assert!(!could(r#"{"not": {"any": [{"rollout": {"percent": 10}}, {"path": {"prefix": "/shop/"}}]}}"#, &shop));
        assert!(could(r#"{"any": [{"experiment": {"id": "x"}}, {"path": {"prefix": "/news/"}}]}"#, &shop));
        assert!(!could(r#"{"all": [{"experiment": {"id": "x"}}, {"path": {"prefix": "/news/"}}]}"#, &shop));
    }

    #[test]
    fn all_any_not() {
        let context = request("https://example.com/news/a");
        assert!(holds(r#"{"not": {"path": {"prefix": "/shop/"}}}"#, &context));
        assert!(holds(r#"{"any": [{"path": {"prefix": "/shop/"}}, {"host": {"equals": "example.com"}}]}"#, &context));
        assert!(!holds(r#"{"all": [{"path": {"prefix": "/news/"}}, {"host": {"equals": "other.com"}}]}"#, &context));
        assert!(!holds(r#"{"path": {"prefix": "/news/"}, "host": {"equals": "other.com"}}"#, &context), "fields AND");
    }

    #[test]
    fn malformed_conditions_name_their_field() {
        assert_eq!(error(r#"{"path": {}}"#).field, "when.path");
        assert!(error(r#"{"path": {"prefix": "/a", "regex": "b"}}"#).reason.contains("only one"));
        assert_eq!(error(r#"{"path": [{"prefix": "/a"}, {"regex": "("}]}"#).field, "when.path[1]");
        assert!(error(r#"{"path": {"regex": "("}}"#).reason.contains("invalid regex"));
        assert_eq!(error(r#"{"status": []}"#).field, "when.status");
        assert!(error(r#"{"status": [700]}"#).reason.contains("700"));
        assert_eq!(error(r#"{"time": {"start": "soon"}}"#).field, "when.time.start");
        assert!(
            error(r#"{"time": {"start": "2026-12-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"}}"#)
                .reason
                .contains("before")
        );
        assert_eq!(error(r#"{"rollout": {"percent": 120}}"#).field, "when.rollout.percent");
        assert!(error(r#"{"header": {"name": "x"}}"#).reason.contains("say what to test"));
        assert!(error(r#"{"cookie": {"name": "x", "present": true, "equals": "y"}}"#).reason.contains("not both"));
        assert_eq!(
            error(r#"{"any": [{"path": {"glob": "/a"}}, {"query": {"name": ""}}]}"#).field,
            "when.any[1].query.name"
        );
        assert_eq!(
            error(r#"{"geo": {}}"#).reason,
            "say where: `country`, `continent`, `union`, `region`, `city` or `asn`"
        );
        assert!(error(r#"{"geo": {"union": ["EEC"]}}"#).reason.contains("give EU (the European Union) or EEA"));
        assert_eq!(error(r#"{"geo": {"union": []}}"#).field, "when.geo.union");
        assert_eq!(error(r#"{"geo": [{"country": ["DE"]}, {"country": ["Germany"]}]}"#).field, "when.geo[1].country");
        assert!(error(r#"{"geo": {"continent": ["Europe"]}}"#).reason.contains("AF, AN, AS, EU, NA, OC, SA"));
        assert_eq!(error(r#"{"geo": {"city": []}}"#).field, "when.geo.city");
        assert_eq!(error(r#"{"device": []}"#).field, "when.device");
    }
}
