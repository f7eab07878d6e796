//! Budgets: what one rule, and a whole rule set, may cost.
//!
//! A rule can be valid and still too expensive: a regex that compiles to a megabyte, copied
//! 160 times, fills the 128 MiB wasm heap on every request; a selector chaining 1,200
//! compound selectors recurses past the guest's 1 MiB stack when lol_html compiles it. Such
//! a rule must cost itself, never the site. Each costly dimension has a budget per rule and
//! for the whole set; rules are admitted in store order, and a rule past a budget is refused
//! with a message naming the budget and the figure it reached, while the rules before it
//! (and later ones that still fit) apply.
//!
//! The figures are computed, never found out by running into a limit: the native CLI has a
//! far bigger stack than the wasm guest, so "it works natively" proves nothing. Stack-bound
//! budgets (selector depth, JSON depth) are set well below what the guest's stack takes, and
//! a test run inside the wasm guest under Viceroy checks a multiple of each.

use std::collections::HashSet;

use super::FieldError;
use super::cost::{self, REASONABLE_PAGE_BYTES, RULE_COMPILE_NS, RuleCost, format_ms};
use super::pattern::PatternError;

/// Enabled rules in one rule set: each is matched against every element or text chunk.
pub const MAX_RULES: usize = 1_000;
/// `replace_text` rules in one set: all of them run on every text chunk of a page.
pub const MAX_TEXT_RULES: usize = 64;
/// Memory one rule's regexes (and globs) may hold, compiled and with their match caches.
pub const MAX_REGEX_MEMORY_PER_RULE: usize = 4 << 20;
/// Memory all of a set's regexes may hold.
pub const MAX_REGEX_MEMORY: usize = 24 << 20;
/// Characters in one selector.
pub const MAX_SELECTOR_CHARS: usize = 4_096;
/// Compound selectors chained by combinators in one selector (`div p > a` is 3). lol_html
/// compiles a chain by recursion, one level per compound selector.
pub const MAX_SELECTOR_DEPTH: usize = 32;
/// Compound selectors in one rule's selector, all of a list's selectors together.
pub const MAX_SELECTOR_PARTS_PER_RULE: usize = 256;
/// Compound selectors in the whole set: lol_html matches them on every element.
pub const MAX_SELECTOR_PARTS: usize = 4_096;
/// Text all of a set's `replace_text` rules may keep back at once, waiting for the rest of a
/// text node (a regex rule keeps up to 64 KiB, a literal one its length).
pub const MAX_HELD_TEXT: usize = 2 << 20;
/// What the rules may cost the guest per MB of a typical page ([`cost`]): 20 ms on a
/// [`REASONABLE_PAGE_BYTES`] page, which with compiling (at most 10 ms) and parsing the page
/// (2.6 ms) fits the default CPU budget (35 ms).
pub const MAX_PAGE_NS_PER_MB: usize = 80_000_000;
/// What compiling the set may cost the guest: charged to an instance's first request.
pub const MAX_COMPILE_NS: usize = 10_000_000;
/// Of [`MAX_COMPILE_NS`], what regexes and globs may take: the rest is kept for the rules
/// without any, so cheap rules after a run of heavy ones still apply.
pub const MAX_REGEX_COMPILE_NS: usize = 8_000_000;
/// How deep one rule's JSON may nest (objects and arrays; `when` with `all`, `any`, `not`).
/// Reading and checking a rule recurses once per level.
pub const MAX_RULE_JSON_DEPTH: usize = 32;

/// One budget, as documented for editors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// What is counted.
    pub name: &'static str,
    /// The most one rule may spend, if the budget has a per-rule part.
    pub per_rule: Option<usize>,
    /// The most the whole set may spend, if the budget has a set part.
    pub per_set: Option<usize>,
    /// How amounts print.
    pub unit: Unit,
}

/// How a budget's amounts print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count of things.
    Count,
    /// Bytes, printed in KiB or MiB.
    Bytes,
    /// Nanoseconds of guest CPU, printed in milliseconds.
    Nanos,
}

impl Unit {
    /// `amount` as editors read it: `1,200` or `1.5 MiB`.
    pub fn format(self, amount: usize) -> String {
        match self {
            Unit::Count => group_thousands(amount),
            Unit::Bytes if amount >= 1 << 20 => trim_zero(format!("{:.1} MiB", amount as f64 / f64::from(1 << 20))),
            Unit::Bytes if amount >= 1 << 10 => trim_zero(format!("{:.1} KiB", amount as f64 / f64::from(1 << 10))),
            Unit::Bytes => format!("{amount} bytes"),
            Unit::Nanos => format_ms(amount as u64),
        }
    }
}

/// Enabled rules in a set.
pub const RULES: Budget = Budget { name: "rules", per_rule: None, per_set: Some(MAX_RULES), unit: Unit::Count };
/// `replace_text` rules in a set.
pub const TEXT_RULES: Budget =
    Budget { name: "text rules", per_rule: None, per_set: Some(MAX_TEXT_RULES), unit: Unit::Count };
/// Regexes' memory.
pub const REGEX_MEMORY: Budget = Budget {
    name: "regex memory",
    per_rule: Some(MAX_REGEX_MEMORY_PER_RULE),
    per_set: Some(MAX_REGEX_MEMORY),
    unit: Unit::Bytes,
};
/// Text held back by text rules.
pub const HELD_TEXT: Budget =
    Budget { name: "held text", per_rule: None, per_set: Some(MAX_HELD_TEXT), unit: Unit::Bytes };
/// Compound selectors, over selector lists.
pub const SELECTOR_PARTS: Budget = Budget {
    name: "selector parts",
    per_rule: Some(MAX_SELECTOR_PARTS_PER_RULE),
    per_set: Some(MAX_SELECTOR_PARTS),
    unit: Unit::Count,
};
/// Compound selectors chained in one selector.
pub const SELECTOR_DEPTH: Budget =
    Budget { name: "selector depth", per_rule: Some(MAX_SELECTOR_DEPTH), per_set: None, unit: Unit::Count };
/// Characters in one selector.
pub const SELECTOR_LENGTH: Budget =
    Budget { name: "selector length", per_rule: Some(MAX_SELECTOR_CHARS), per_set: None, unit: Unit::Count };
/// How deep a rule's JSON nests.
pub const JSON_DEPTH: Budget =
    Budget { name: "JSON depth", per_rule: Some(MAX_RULE_JSON_DEPTH), per_set: None, unit: Unit::Count };

/// CPU per MB of a typical page.
pub const PAGE_CPU: Budget =
    Budget { name: "page CPU", per_rule: None, per_set: Some(MAX_PAGE_NS_PER_MB), unit: Unit::Nanos };
/// CPU to compile the set.
pub const COMPILE_CPU: Budget =
    Budget { name: "compile CPU", per_rule: None, per_set: Some(MAX_COMPILE_NS), unit: Unit::Nanos };

/// Every budget, for docs and reports.
pub const BUDGETS: [Budget; 10] = [
    RULES,
    TEXT_RULES,
    REGEX_MEMORY,
    HELD_TEXT,
    SELECTOR_PARTS,
    SELECTOR_DEPTH,
    SELECTOR_LENGTH,
    JSON_DEPTH,
    PAGE_CPU,
    COMPILE_CPU,
];

/// What one rule costs on each dimension the set pays for, and which field cost most.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Cost {
    /// Rules beyond the one itself: an experiment's variants with actions each count as one
    /// (none counts the rule once).
    pub rules: Spend,
    pub regex_memory: Spend,
    pub selector_parts: Spend,
    pub held_text: Spend,
    pub text_rules: Spend,
    /// CPU, by the cost model: per page and to compile.
    pub cpu: RuleCost,
    /// Of `cpu.compile_ns`, what its regexes and globs took.
    pub regex_compile_ns: u64,
    /// The rule's selector as written.
    pub selector: Option<String>,
}

/// An amount, and the field that contributed most to it (for the message).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Spend {
    pub amount: usize,
    pub field: String,
    largest: usize,
}

impl Spend {
    /// Adds what `field` costs.
    pub fn add(&mut self, field: &str, amount: usize) {
        self.amount += amount;
        if amount > self.largest || self.field.is_empty() {
            self.largest = amount;
            self.field = field.to_owned();
        }
    }
}

impl Cost {
    /// Checks the per-rule budgets this cost is held to.
    pub fn check_rule(&self) -> Result<(), FieldError> {
        over_rule(&self.regex_memory, &REGEX_MEMORY, "simplify the regexes, or use `prefix`, `equals` or `glob`")?;
        over_rule(&self.selector_parts, &SELECTOR_PARTS, "split the selector list over several rules")
    }
}

fn over_rule(spend: &Spend, budget: &Budget, fix: &str) -> Result<(), FieldError> {
    let Some(limit) = budget.per_rule else { return Ok(()) };
    if spend.amount <= limit {
        return Ok(());
    }
    Err(FieldError::new(
        spend.field.clone(),
        format!(
            "over the {} budget: this rule needs {}, a rule may have {}; {fix}",
            budget.name,
            budget.unit.format(spend.amount),
            budget.unit.format(limit)
        ),
    ))
}

/// The room one rule's regexes have while the rule compiles: its own budget, or what the
/// set has left if that is less. Each regex is counted as soon as it is compiled, so a rule
/// listing 160 heavy regexes stops at the one that goes past, never holding them all.
#[derive(Debug, Clone)]
pub(crate) struct RegexRoom {
    spend: Spend,
    /// What the set had spent on regexes before this rule.
    set_spent: usize,
    /// Compile CPU the set had spent on regexes before this rule (refused rules' included).
    set_compiled: u64,
    /// Compile CPU this rule's regexes took so far.
    compiled: u64,
    /// Text rules the set has room for before this rule.
    text_rules_left: usize,
    /// Page CPU (ns per MB) the admitted rules spend before this rule.
    set_page_ns_per_mb: u64,
}

impl RegexRoom {
    /// Before a regex or glob at `field` is compiled: whether the set's compile budget still
    /// has room for one. Past it a rule's regexes are refused without being compiled, so a
    /// thousand of them cost no more than the budget.
    pub fn may_compile(&self, field: &str) -> Result<(), FieldError> {
        let after = self.set_compiled + self.compiled + cost::REGEX_COMPILE_NS;
        if after <= MAX_REGEX_COMPILE_NS as u64 {
            return Ok(());
        }
        Err(FieldError::new(
            field,
            format!(
                "over the rule set's compile CPU budget: the set's regexes and globs already take {} to compile, they \
                 may take {} (charged to the first request an instance serves); the rules before it still apply; use \
                 `prefix`, `equals` or `glob`, or fewer regexes",
                format_ms(self.set_compiled + self.compiled),
                format_ms(MAX_REGEX_COMPILE_NS as u64)
            ),
        ))
    }

    /// The compiled size a regex may reach in what is left of the compile budget: past it,
    /// compiling gives up at once ([`crate::rules::pattern::Pattern::regex_within`]).
    pub fn regex_size(&self) -> usize {
        let left =
            (MAX_REGEX_COMPILE_NS as u64).saturating_sub(self.set_compiled + self.compiled + cost::REGEX_COMPILE_NS);
        usize::try_from(left / cost::REGEX_COMPILE_NS_PER_KIB * 1024).unwrap_or(usize::MAX)
    }

    /// The error for a regex at `field` that failed to compile: the compile budget's, when it
    /// stopped at [`Self::regex_size`] (what it took to find out is counted).
    pub fn refusal(&mut self, field: &str, err: PatternError) -> FieldError {
        if !err.over_given_size() {
            return FieldError::new(field, err);
        }
        let refusal = FieldError::new(
            field,
            format!(
                "over the rule set's compile CPU budget: this regex would take more than the {} left of it to \
                 compile (the set's regexes and globs may take {}, charged to the first request an instance \
                 serves); the rules before it still apply; use `prefix`, `equals` or `glob`, or a simpler regex",
                format_ms((MAX_REGEX_COMPILE_NS as u64).saturating_sub(self.set_compiled + self.compiled)),
                format_ms(MAX_REGEX_COMPILE_NS as u64)
            ),
        );
        self.compiled += cost::regex_compile_ns(self.regex_size());
        refusal
    }

    /// Before a text rule at `field`, scanning at `ps_per_byte`, is compiled: whether the set
    /// has room for another, in number and in page CPU (every byte of text costs it, whatever
    /// else the rule does): a thousand regex text rules are refused without compiling.
    pub fn may_add_text_rule(&self, field: &str, ps_per_byte: u32) -> Result<(), FieldError> {
        if self.text_rules_left == 0 {
            let spend = Spend { amount: 1, field: field.to_owned(), largest: 1 };
            return over_set(
                MAX_TEXT_RULES + 1,
                &spend,
                &TEXT_RULES,
                "combine words into one regex, e.g. `cat|kitten`",
            );
        }
        let mut text = RuleCost::default();
        text.add_text(field, ps_per_byte);
        if self.text_rules_left == MAX_TEXT_RULES {
            text.add_first_text_rule();
        }
        over_page_cpu(self.set_page_ns_per_mb + text.page_ns_per_mb(), &text)
    }

    /// The compile CPU this rule's regexes took.
    pub fn compiled_ns(&self) -> u64 {
        self.compiled
    }

    /// Counts a compiled regex found at `field` (its memory, and `compile_ns` to compile it),
    /// or says which budget it goes past.
    pub fn take(&mut self, field: &str, memory: usize, compile_ns: u64) -> Result<(), FieldError> {
        self.compiled += compile_ns;
        if self.set_compiled + self.compiled > MAX_REGEX_COMPILE_NS as u64 {
            return Err(FieldError::new(
                field,
                format!(
                    "over the rule set's compile CPU budget: this regex takes {} to compile, and the set's regexes \
                     and globs would take {}, they may take {} (charged to the first request an instance serves); \
                     the rules before it still apply; use `prefix`, `equals` or `glob`, or a simpler regex",
                    format_ms(compile_ns),
                    format_ms(self.set_compiled + self.compiled),
                    format_ms(MAX_REGEX_COMPILE_NS as u64)
                ),
            ));
        }
        self.spend.add(field, memory);
        // The regex that goes past is the one to blame.
        let so_far = Spend { field: field.to_owned(), ..self.spend.clone() };
        let budget = &REGEX_MEMORY;
        over_rule(&so_far, budget, "simplify the regexes, or use `prefix`, `equals` or `glob`")?;
        over_set(
            self.set_spent + so_far.amount,
            &so_far,
            budget,
            "simplify regexes, or use `prefix`, `equals` or `glob`",
        )
    }

    /// Room for a condition compiled outside a rule set (tests, tools).
    #[cfg(test)]
    pub fn unlimited() -> RegexRoom {
        RegexRoom {
            spend: Spend::default(),
            set_spent: 0,
            set_compiled: 0,
            compiled: 0,
            text_rules_left: usize::MAX,
            set_page_ns_per_mb: 0,
        }
    }

    /// What the rule's regexes cost, for [`Cost::regex_memory`].
    pub fn spend(&self) -> Spend {
        self.spend.clone()
    }
}

/// What the rules admitted so far cost together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Spent {
    rules: usize,
    text_rules: usize,
    regex_memory: usize,
    selector_parts: usize,
    held_text: usize,
    /// Per MB of a typical page, the admitted rules' CPU.
    page_ns_per_mb: u64,
    /// CPU spent compiling: the admitted rules' and what refused ones took before they were.
    compile_ns: u64,
    /// Of which regexes and globs.
    regex_compile_ns: u64,
    /// The admitted rules' selectors, as written: lol_html matches a repeated one once.
    selectors: HashSet<String>,
}

impl Spent {
    /// The room the next rule's regexes have.
    pub fn regex_room(&self) -> RegexRoom {
        RegexRoom {
            spend: Spend::default(),
            set_spent: self.regex_memory,
            set_compiled: self.regex_compile_ns,
            compiled: 0,
            text_rules_left: MAX_TEXT_RULES.saturating_sub(self.text_rules),
            set_page_ns_per_mb: self.page_ns_per_mb,
        }
    }

    /// Text rules admitted so far.
    pub fn text_rules(&self) -> usize {
        self.text_rules
    }

    /// Whether an admitted rule has this selector already.
    pub fn has_selector(&self, selector: &str) -> bool {
        self.selectors.contains(selector.trim())
    }

    /// Before a rule is compiled: whether the set's compile budget has room for one more.
    /// Refused here, a rule costs nothing to compile.
    pub fn may_compile(&self, field: &str) -> Result<(), FieldError> {
        let after = self.compile_ns + RULE_COMPILE_NS;
        if after <= MAX_COMPILE_NS as u64 {
            return Ok(());
        }
        Err(FieldError::new(
            field,
            format!(
                "over the rule set's compile CPU budget: the rules before it take {} to compile, a set may take {} \
                 (charged to the first request an instance serves); the rules before it still apply; put fewer \
                 rules in the set, or fewer regexes in the rules before it",
                format_ms(self.compile_ns),
                format_ms(MAX_COMPILE_NS as u64)
            ),
        ))
    }

    /// Counts the compile CPU a refused rule's regexes took (`room`), which the instance
    /// spent all the same: later regexes have that much less room. Rules without regexes
    /// keep their share of the budget, so the cheap rules of a set still apply.
    pub fn charge_refused(&mut self, room: &RegexRoom) {
        self.regex_compile_ns += room.compiled;
    }

    /// Admits a rule costing `cost`, or says which set budget it would go past; a refused
    /// rule spends nothing.
    pub fn admit(&mut self, cost: &Cost) -> Result<(), FieldError> {
        let after = Spent {
            rules: self.rules + cost.rules.amount.max(1),
            text_rules: self.text_rules + cost.text_rules.amount,
            regex_memory: self.regex_memory + cost.regex_memory.amount,
            selector_parts: self.selector_parts + cost.selector_parts.amount,
            held_text: self.held_text + cost.held_text.amount,
            page_ns_per_mb: self.page_ns_per_mb + cost.cpu.page_ns_per_mb(),
            compile_ns: self.compile_ns + cost.cpu.compile_ns,
            regex_compile_ns: self.regex_compile_ns + cost.regex_compile_ns,
            selectors: HashSet::new(),
        };
        let whole_rule = match cost.rules.amount {
            0 => Spend { amount: 1, field: "id".into(), largest: 1 },
            _ => cost.rules.clone(),
        };
        over_set(after.rules, &whole_rule, &RULES, "put rules that belong together in one rule with several actions")?;
        over_set(after.text_rules, &cost.text_rules, &TEXT_RULES, "combine words into one regex, e.g. `cat|kitten`")?;
        over_set(
            after.regex_memory,
            &cost.regex_memory,
            &REGEX_MEMORY,
            "simplify regexes, or use `prefix`, `equals` or `glob`",
        )?;
        over_set(after.held_text, &cost.held_text, &HELD_TEXT, "use a literal `find`, or fewer regex text rules")?;
        over_set(after.selector_parts, &cost.selector_parts, &SELECTOR_PARTS, "use shorter selectors, or fewer rules")?;
        over_page_cpu(after.page_ns_per_mb, &cost.cpu)?;
        let field = if cost.cpu.compile_field.is_empty() { "id" } else { cost.cpu.compile_field.as_str() };
        let compile = Spend { amount: cost.cpu.compile_ns as usize, field: field.to_owned(), largest: 0 };
        over_set(
            after.compile_ns as usize,
            &compile,
            &COMPILE_CPU,
            "put fewer rules in the set; it is charged to the first request an instance serves",
        )?;
        let selectors = std::mem::take(&mut self.selectors);
        *self = Spent { selectors, ..after };
        if let Some(selector) = &cost.selector {
            self.selectors.insert(selector.trim().to_owned());
        }
        Ok(())
    }
}

/// The page CPU budget, with the figures on a page of reasonable size.
fn over_page_cpu(total_ns_per_mb: u64, rule: &RuleCost) -> Result<(), FieldError> {
    let limit = MAX_PAGE_NS_PER_MB as u64;
    if total_ns_per_mb <= limit {
        return Ok(());
    }
    let on_page = |ns_per_mb: u64| format_ms(ns_per_mb * REASONABLE_PAGE_BYTES / 1_000_000);
    let this = rule.page_ns_per_mb();
    Err(FieldError::new(
        rule.page_field.clone(),
        format!(
            "over the rule set's page CPU budget: with this rule the set would cost {} per MB of a typical page ({} for \
             this rule; {} on a {} KB page), the set may cost {} per MB ({} on a {} KB page: Fastly stops a request \
             at 50 ms of CPU); the rules before it still apply; narrow the selector (a class or an id rather than \
             `*` or a common tag), or merge rules",
            format_ms(total_ns_per_mb),
            format_ms(this),
            on_page(total_ns_per_mb),
            REASONABLE_PAGE_BYTES >> 10,
            format_ms(limit),
            on_page(limit),
            REASONABLE_PAGE_BYTES >> 10,
        ),
    ))
}

fn over_set(total: usize, spend: &Spend, budget: &Budget, fix: &str) -> Result<(), FieldError> {
    let Some(limit) = budget.per_set else { return Ok(()) };
    if spend.amount == 0 || total <= limit {
        return Ok(());
    }
    Err(FieldError::new(
        spend.field.clone(),
        format!(
            "over the rule set's {} budget: with this rule the set would need {} ({} for this rule), the set may \
             have {}; the rules before it still apply; {fix}",
            budget.name,
            budget.unit.format(total),
            budget.unit.format(spend.amount),
            budget.unit.format(limit)
        ),
    ))
}

/// How deep a JSON value nests (a scalar is 0, `[]` and `{}` are 1), without recursion.
pub(crate) fn json_depth(value: &serde_json::Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &serde_json::Value>> = match value {
            serde_json::Value::Array(items) => Box::new(items.iter()),
            serde_json::Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        deepest = deepest.max(depth + 1);
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    deepest
}

fn group_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn trim_zero(text: String) -> String {
    text.replace(".0 ", " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(regex: usize, parts: usize) -> Cost {
        let mut cost = Cost::default();
        cost.regex_memory.add("when.path", regex);
        cost.selector_parts.add("selector", parts);
        cost
    }

    #[test]
    fn amounts_print_as_editors_read_them() {
        assert_eq!(Unit::Count.format(1_200), "1,200");
        assert_eq!(Unit::Count.format(32), "32");
        assert_eq!(Unit::Bytes.format(24 << 20), "24 MiB");
        assert_eq!(Unit::Bytes.format(1_700_000), "1.6 MiB");
        assert_eq!(Unit::Bytes.format(64 << 10), "64 KiB");
        assert_eq!(Unit::Bytes.format(12), "12 bytes");
    }

    #[test]
    fn a_set_admits_rules_until_a_budget_would_be_passed() {
        let mut spent = Spent::default();
        let big = cost(10 << 20, 1);
        spent.admit(&big).unwrap();
        spent.admit(&big).unwrap();
        let err = spent.admit(&big).unwrap_err();
        assert_eq!(err.field, "when.path");
        assert!(err.reason.contains("regex memory budget"), "{err}");
        assert!(err.reason.contains("30 MiB (10 MiB for this rule)") && err.reason.contains("24 MiB"), "{err}");
        // A refused rule spends nothing: a cheaper one still fits.
        spent.admit(&cost(1 << 20, 1)).unwrap();
    }

    #[test]
    fn per_rule_budgets_name_the_costliest_field() {
        let mut cost = Cost::default();
        cost.regex_memory.add("when.path", 1 << 20);
        cost.regex_memory.add("actions[0].replace_text.regex", 4 << 20);
        let err = cost.check_rule().unwrap_err();
        assert_eq!(err.field, "actions[0].replace_text.regex");
        assert!(err.reason.contains("5 MiB") && err.reason.contains("4 MiB"), "{err}");
    }

    #[test]
    fn the_rule_count_is_a_set_budget() {
        let mut spent = Spent::default();
        for _ in 0..MAX_RULES {
            spent.admit(&Cost::default()).unwrap();
        }
        let err = spent.admit(&Cost::default()).unwrap_err();
        assert!(err.reason.contains("1,001") && err.reason.contains("1,000"), "{err}");
    }

    #[test]
    fn an_experiments_variants_count_like_rules() {
        let mut three_variants = Cost::default();
        for i in 0..3 {
            three_variants.rules.add(&format!("experiment.variants[{i}]"), 1);
        }
        let mut spent = Spent::default();
        for _ in 0..MAX_RULES - 3 {
            spent.admit(&Cost::default()).unwrap();
        }
        spent.admit(&three_variants).unwrap();
        let err = spent.admit(&three_variants).unwrap_err();
        assert_eq!(err.field, "experiment.variants[0]");
        assert!(err.reason.contains("1,003") && err.reason.contains("(3 for this rule)"), "{err}");
    }

    /// Also run inside the wasm guest under Viceroy (scripts/test), whose stack is the 1 MiB
    /// the service gets: the stack-bound budgets leave room to spare. A selector chaining
    /// four times the depth budget is compiled and matched by lol_html, and a rule nested
    /// twice the JSON depth budget is read, compiled and evaluated, bypassing the checks.
    #[test]
    fn stack_bound_budgets_leave_room_on_the_guest_stack() {
        use lol_html::html_content::Element;
        use lol_html::{ElementContentHandlers, HtmlRewriter, Selector, Settings};

        let depth = 4 * MAX_SELECTOR_DEPTH;
        let selector: Selector = vec!["div"; depth].join(" ").parse().unwrap();
        let mut hits = 0;
        let mut out = Vec::new();
        {
            let settings = Settings::new().append_element_content_handler((
                std::borrow::Cow::Owned(selector),
                ElementContentHandlers::default().element(|_: &mut Element| {
                    hits += 1;
                    Ok(())
                }),
            ));
            let mut rewriter = HtmlRewriter::new(settings, |chunk: &[u8]| out.extend_from_slice(chunk));
            rewriter.write("<div>".repeat(depth + 1).as_bytes()).unwrap();
            rewriter.end().unwrap();
        }
        assert_eq!(hits, 2, "the two innermost divs have {depth} div ancestors-or-self");

        let levels = 2 * MAX_RULE_JSON_DEPTH;
        let mut when = r#"{"path": {"prefix": "/"}}"#.to_owned();
        for _ in 0..levels - 2 {
            when = format!(r#"{{"not": {when}}}"#);
        }
        let value: serde_json::Value = serde_json::from_str(&when).unwrap();
        assert_eq!(json_depth(&value), levels);
        let when: crate::rules::When = serde_json::from_value(value).unwrap();
        let condition =
            crate::rules::conditions::Condition::compile(&when, "when", &mut RegexRoom::unlimited()).unwrap();
        let context = crate::http::request::RequestContext::default();
        assert_eq!(condition.holds(&context, "deep"), levels.is_multiple_of(2));
    }

    #[test]
    fn json_depth_is_measured_without_recursion() {
        assert_eq!(json_depth(&serde_json::json!(1)), 0);
        assert_eq!(json_depth(&serde_json::json!({"a": [1, {"b": {}}]})), 4);
        // serde_json's parser refuses such nesting (128 levels); build it by hand.
        let mut value = serde_json::Value::Null;
        for _ in 0..10_000 {
            value = serde_json::Value::Array(vec![value]);
        }
        assert_eq!(json_depth(&value), 10_000);
        // Dropping a 10,000-deep value recurses; leak it in this test instead.
        std::mem::forget(value);
    }
}
