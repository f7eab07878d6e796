//! Reading Viceroy's guest profiles (`viceroy serve --profile=guest,DIR,INTERVAL`): one
//! Firefox-profiler JSON per request, sampled inside the wasm guest. [`Profile::read`] turns
//! one into sample counts per function: *self* (the function was running) and *inclusive*
//! (it was on the stack, counted once per sample however deep the recursion).
//!
//! The format (the processed profile format, as wasmtime's guest profiler writes it):
//! `threads[0].samples.stack` indexes `stackTable`, whose `frame` and `prefix` (the caller's
//! stack, or null) give each stack; `frameTable.func` indexes `funcTable`, whose `name`
//! indexes the string table (`threads[0].stringArray`, or `shared.stringArray` in newer
//! versions of the format). `samples.weight`, when present, weighs each sample.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

/// Samples per function in one or more profiles.
#[derive(Debug, Default, Clone)]
pub struct Profile {
    /// Every sample's weight, summed.
    pub samples: f64,
    /// Per function name: (self, inclusive) weight.
    pub functions: HashMap<String, (f64, f64)>,
}

/// Why a profile could not be read.
#[derive(Debug)]
pub struct ProfileError(pub String);

impl std::fmt::Display for ProfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProfileError {}

fn missing(what: &str) -> ProfileError {
    ProfileError(format!("not a guest profile: no {what}"))
}

fn indices(value: &Value, what: &str) -> Result<Vec<Option<usize>>, ProfileError> {
    let list = value.as_array().ok_or_else(|| missing(what))?;
    Ok(list.iter().map(|v| v.as_u64().map(|n| n as usize)).collect())
}

impl Profile {
    /// Reads the profile file at `path`.
    pub fn read(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read(path).map_err(|err| ProfileError(format!("{}: {err}", path.display())))?;
        let json: Value =
            serde_json::from_slice(&text).map_err(|err| ProfileError(format!("{}: {err}", path.display())))?;
        Profile::from_json(&json)
    }

    /// Reads a parsed profile.
    pub fn from_json(json: &Value) -> Result<Profile, ProfileError> {
        let thread = json["threads"].get(0).ok_or_else(|| missing("threads[0]"))?;
        let strings = thread["stringArray"]
            .as_array()
            .or_else(|| json["shared"]["stringArray"].as_array())
            .ok_or_else(|| missing("stringArray"))?;
        let names: Vec<String> = indices(&thread["funcTable"]["name"], "funcTable.name")?
            .into_iter()
            .map(|i| without_hash(i.and_then(|i| strings.get(i)).and_then(Value::as_str).unwrap_or("?")).to_owned())
            .collect();
        let frame_func = indices(&thread["frameTable"]["func"], "frameTable.func")?;
        let stack_frame = indices(&thread["stackTable"]["frame"], "stackTable.frame")?;
        let stack_prefix = indices(&thread["stackTable"]["prefix"], "stackTable.prefix")?;
        let samples = indices(&thread["samples"]["stack"], "samples.stack")?;
        let weights: Option<Vec<f64>> =
            thread["samples"]["weight"].as_array().map(|w| w.iter().map(|v| v.as_f64().unwrap_or(1.0)).collect());

        let func_of = |stack: usize| -> Option<usize> { frame_func.get(*stack_frame.get(stack)?.as_ref()?).copied()? };
        let mut profile = Profile::default();
        let mut seen = Vec::new();
        for (i, stack) in samples.iter().enumerate() {
            let weight = weights.as_ref().and_then(|w| w.get(i).copied()).unwrap_or(1.0);
            profile.samples += weight;
            let Some(mut stack) = *stack else { continue };
            if let Some(leaf) = func_of(stack) {
                profile.functions.entry(names[leaf].clone()).or_default().0 += weight;
            }
            seen.clear();
            // Walk to the root; a function counts once per sample however often it recurs
            // (and two instances of one generic function, which differ only by hash, are one).
            for _ in 0..stack_prefix.len() + 1 {
                if let Some(name) = func_of(stack).map(|func| &names[func]).filter(|name| !seen.contains(name)) {
                    seen.push(name);
                    profile.functions.entry(name.clone()).or_default().1 += weight;
                }
                match stack_prefix.get(stack).copied().flatten() {
                    Some(prefix) => stack = prefix,
                    None => break,
                }
            }
        }
        Ok(profile)
    }

    /// Adds another profile's samples to this one.
    pub fn add(&mut self, other: &Profile) {
        self.samples += other.samples;
        for (name, (own, inclusive)) in &other.functions {
            let entry = self.functions.entry(name.clone()).or_default();
            entry.0 += own;
            entry.1 += inclusive;
        }
    }

    /// A function's (self, inclusive) share of all samples, in percent.
    pub fn share(&self, name: &str) -> (f64, f64) {
        let (own, inclusive) = self.functions.get(name).copied().unwrap_or_default();
        let total = self.samples.max(f64::MIN_POSITIVE);
        (100.0 * own / total, 100.0 * inclusive / total)
    }

    /// The `n` functions with the most self (`by_self`) or inclusive samples, most first.
    pub fn top(&self, n: usize, by_self: bool) -> Vec<&str> {
        let mut names: Vec<(&str, f64)> = self
            .functions
            .iter()
            .map(|(name, (own, inclusive))| (name.as_str(), if by_self { *own } else { *inclusive }))
            .collect();
        names.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        names.into_iter().take(n).map(|(name, _)| name).collect()
    }
}

/// The crate a function belongs to, by its path's first segment (`lol_html`, `core`,
/// `edge_rewriter` …); C's allocator and unnamed functions under their own names.
pub fn crate_of(name: &str) -> &str {
    let path = name.trim_start_matches(['<', '&', '*']).trim_start_matches("mut ").trim_start_matches("dyn ");
    match path.find("::") {
        Some(end) => &path[..end],
        None if matches!(
            path,
            "malloc" | "free" | "realloc" | "calloc" | "memcpy" | "memmove" | "memset" | "memcmp"
        ) =>
        {
            "libc (allocator, mem*)"
        }
        None => path,
    }
}

impl Profile {
    /// Self samples per crate ([`crate_of`]), most first, in percent of all samples.
    pub fn by_crate(&self) -> Vec<(String, f64)> {
        let mut crates: HashMap<&str, f64> = HashMap::new();
        for (name, (own, _)) in &self.functions {
            *crates.entry(crate_of(name)).or_default() += own;
        }
        let total = self.samples.max(f64::MIN_POSITIVE);
        let mut crates: Vec<(String, f64)> = crates
            .into_iter()
            .filter(|(_, own)| *own > 0.0)
            .map(|(name, own)| (name.to_owned(), 100.0 * own / total))
            .collect();
        crates.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        crates
    }
}

/// A function name without its Rust hash suffix, which changes whenever a crate's
/// dependencies do: two builds' profiles name the same function alike.
fn without_hash(name: &str) -> &str {
    match name.rfind("::h") {
        Some(at) if name[at + 3..].len() == 16 && name[at + 3..].bytes().all(|b| b.is_ascii_hexdigit()) => &name[..at],
        _ => name,
    }
}

/// A function name without its Rust hash suffix, short enough for a table.
pub fn short_name(name: &str, width: usize) -> String {
    let trimmed = without_hash(name);
    if trimmed.chars().count() <= width {
        return trimmed.to_owned();
    }
    let tail: String =
        trimmed.chars().rev().take(width.saturating_sub(1)).collect::<Vec<_>>().into_iter().rev().collect();
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// main -> parse -> lex (2 samples), main -> parse (1), main -> render -> parse (1).
    fn sample_profile() -> Value {
        serde_json::json!({
            "threads": [{
                "stringArray": ["main", "parse", "lex", "render"],
                "funcTable": {"name": [0, 1, 2, 3]},
                "frameTable": {"func": [0, 1, 2, 3, 1]},
                // stacks: 0 main; 1 main>parse; 2 main>parse>lex; 3 main>render; 4 main>render>parse
                "stackTable": {"frame": [0, 1, 2, 3, 4], "prefix": [null, 0, 1, 0, 3]},
                "samples": {"stack": [2, 2, 1, 4, null]}
            }]
        })
    }

    #[test]
    fn self_and_inclusive_samples_per_function() {
        let profile = Profile::from_json(&sample_profile()).unwrap();
        assert_eq!(profile.samples, 5.0);
        assert_eq!(profile.functions["lex"], (2.0, 2.0));
        assert_eq!(profile.functions["parse"], (2.0, 4.0));
        assert_eq!(profile.functions["main"], (0.0, 4.0));
        assert_eq!(profile.functions["render"], (0.0, 1.0));
        assert_eq!(profile.top(2, true), ["lex", "parse"]);
        assert_eq!(profile.top(1, false), ["main"]);
        assert_eq!(profile.share("parse"), (40.0, 80.0));
    }

    #[test]
    fn recursion_counts_once_and_weights_count() {
        let json = serde_json::json!({
            "shared": {"stringArray": ["f"]},
            "threads": [{
                "funcTable": {"name": [0]},
                "frameTable": {"func": [0]},
                "stackTable": {"frame": [0, 0, 0], "prefix": [null, 0, 1]},
                "samples": {"stack": [2], "weight": [3]}
            }]
        });
        let profile = Profile::from_json(&json).unwrap();
        assert_eq!(profile.functions["f"], (3.0, 3.0));
    }

    #[test]
    fn self_time_adds_up_per_crate() {
        let json = serde_json::json!({
            "threads": [{
                "stringArray": ["<lol_html::Token as lol_html::Serialize>::into_bytes", "lol_html::parse", "malloc", "edge_rewriter::main"],
                "funcTable": {"name": [0, 1, 2, 3]},
                "frameTable": {"func": [0, 1, 2, 3]},
                "stackTable": {"frame": [3, 1, 0, 2], "prefix": [null, 0, 1, 0]},
                "samples": {"stack": [2, 1, 3, 3]}
            }]
        });
        let crates = Profile::from_json(&json).unwrap().by_crate();
        assert_eq!(crates, [("libc (allocator, mem*)".to_owned(), 50.0), ("lol_html".to_owned(), 50.0)]);
        assert_eq!(crate_of("&mut dyn core::fmt::Write"), "core");
    }

    #[test]
    fn instances_of_one_function_are_one_row_counted_once_per_sample() {
        let json = serde_json::json!({
            "threads": [{
                "stringArray": ["main", "parse::h0123456789abcdef", "parse::hfedcba9876543210"],
                "funcTable": {"name": [0, 1, 2]},
                "frameTable": {"func": [0, 1, 2]},
                // stacks: 0 main; 1 main>parse#1; 2 main>parse#1>parse#2
                "stackTable": {"frame": [0, 1, 2], "prefix": [null, 0, 1]},
                "samples": {"stack": [2, 1, 0]}
            }]
        });
        let profile = Profile::from_json(&json).unwrap();
        let (own, inclusive) = profile.share("parse");
        assert!((own - 200.0 / 3.0).abs() < 1e-9, "{own}");
        assert!((inclusive - 200.0 / 3.0).abs() < 1e-9, "{inclusive}");
    }

    #[test]
    fn names_lose_their_hash() {
        assert_eq!(short_name("lol_html::Foo::bar::h0123456789abcdef", 40), "lol_html::Foo::bar");
        assert_eq!(short_name("abcdefgh", 5), "…efgh");
        assert!(Profile::from_json(&serde_json::json!({})).is_err());
    }
}
