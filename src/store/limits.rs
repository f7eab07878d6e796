//! The service's limits, from the config store key `limits` (a JSON object), so a site owner
//! changes them without a redeploy: `{"cpu_budget_ms": 35, "cache_max_ttl_s": 3600,
//! "max_includes": 8}`.

use serde::Deserialize;

/// The config store key holding the limits.
pub const LIMITS_KEY: &str = "limits";

/// Fastly's CPU limit for one execution, in milliseconds
/// (docs.fastly.com/products/compute-resource-limits).
pub const PLATFORM_CPU_MS: u64 = 50;

/// How long past the budget elements a rule removes, replaces, renames or unwraps, open at
/// the stop, may take to finish; past it the response is ended visibly incomplete.
pub const FINISH_ALLOWANCE_MS: u64 = 5;

/// The largest `cpu_budget_ms` that can be kept under [`PLATFORM_CPU_MS`]: a rewrite stops
/// within about 2 ms of its budget (the clock counts whole milliseconds and is read every
/// fraction of one), may finish changed elements for [`FINISH_ALLOWANCE_MS`], and the rest of
/// the response (the splice, the log line, the platform's own work) needs a few more.
pub const MAX_CPU_BUDGET_MS: u64 = 40;

/// Limits the service works within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// vCPU milliseconds an instance may spend before rewriting stops and the rest of a
    /// page passes through unchanged. Well under Fastly's 50 ms, so the splice, the log line
    /// and the platform's own work still fit. 0 turns the budget off: only for local runs
    /// under Viceroy, which does not enforce Fastly's limit (on Fastly, a page over it is cut).
    pub cpu_budget_ms: u64,
    /// The longest a rewritten page is kept at the edge, in seconds (the origin's own
    /// lifetime, if shorter, wins); 0 turns the edge cache off.
    pub cache_max_ttl_s: u64,
    /// Fragment requests one page may send for its includes; past it, includes get their
    /// fallback. Fastly allows 32 backend requests per execution, the origin's included.
    pub max_includes: u8,
}

/// The most includes a page may be allowed: the platform's 32 backend requests, less the
/// origin's.
pub const MAX_INCLUDES_CEILING: u8 = 31;

impl Default for Limits {
    fn default() -> Self {
        Self { cpu_budget_ms: 35, cache_max_ttl_s: 3_600, max_includes: 8 }
    }
}

/// Why a `limits` value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    /// Not a JSON object of known fields (what serde said, if anything).
    #[error("`{LIMITS_KEY}` must be a JSON object like {{\"cpu_budget_ms\": 35}}{0}")]
    Shape(String),
    /// A CPU budget that leaves no headroom under the platform's limit.
    #[error(
        "`{LIMITS_KEY}.cpu_budget_ms` is {0}; it may be at most {MAX_CPU_BUDGET_MS}: a rewrite stops within about \
         2 ms of its budget, may take {FINISH_ALLOWANCE_MS} ms more to finish elements a rule changes, and Fastly \
         stops an execution at {PLATFORM_CPU_MS} ms; or 0 for no budget in local runs"
    )]
    CpuBudget(u64),
    /// More includes than the platform's backend requests allow.
    #[error(
        "`{LIMITS_KEY}.max_includes` is {0}; it may be at most {MAX_INCLUDES_CEILING} (Fastly allows 32 backend \
         requests per execution, and the origin's is one)"
    )]
    MaxIncludes(u8),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSpec {
    #[serde(default)]
    cpu_budget_ms: Option<u64>,
    #[serde(default)]
    cache_max_ttl_s: Option<u64>,
    #[serde(default)]
    max_includes: Option<u8>,
}

impl Limits {
    /// The vCPU reading at which rewriting stops, if the budget is on.
    pub fn cpu_deadline_ms(&self) -> Option<u64> {
        (self.cpu_budget_ms > 0).then_some(self.cpu_budget_ms)
    }

    /// The vCPU reading by which elements a rule changes, open at the stop, must be
    /// finished, if the budget is on.
    pub fn cpu_finish_by_ms(&self) -> Option<u64> {
        self.cpu_deadline_ms().map(|stop| stop + FINISH_ALLOWANCE_MS)
    }

    /// Reads the `limits` value. An unreadable value or a figure out of range is an error
    /// naming it; the caller keeps the defaults and logs it.
    pub fn parse(json: &str) -> Result<Limits, LimitsError> {
        let shape =
            |err: Option<serde_json::Error>| LimitsError::Shape(err.map(|err| format!(": {err}")).unwrap_or_default());
        let value: serde_json::Value = serde_json::from_str(json).map_err(|err| shape(Some(err)))?;
        if !value.is_object() {
            return Err(shape(None));
        }
        let spec: LimitsSpec = serde_json::from_value(value).map_err(|err| shape(Some(err)))?;
        let mut limits = Limits::default();
        if let Some(ms) = spec.cpu_budget_ms {
            if ms > MAX_CPU_BUDGET_MS {
                return Err(LimitsError::CpuBudget(ms));
            }
            limits.cpu_budget_ms = ms;
        }
        if let Some(seconds) = spec.cache_max_ttl_s {
            limits.cache_max_ttl_s = seconds;
        }
        if let Some(count) = spec.max_includes {
            if count > MAX_INCLUDES_CEILING {
                return Err(LimitsError::MaxIncludes(count));
            }
            limits.max_includes = count;
        }
        Ok(limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_read_with_defaults() {
        assert_eq!(Limits::parse("{}").unwrap(), Limits::default());
        assert_eq!(Limits::parse(r#"{"cpu_budget_ms": 20}"#).unwrap().cpu_budget_ms, 20);
        assert_eq!(Limits::parse(r#"{"max_includes": 2}"#).unwrap().max_includes, 2);
        assert!(Limits::parse(r#"{"max_includes": 32}"#).unwrap_err().to_string().contains("at most 31"));
        let off = Limits::parse(r#"{"cache_max_ttl_s": 0}"#).unwrap();
        assert_eq!((off.cache_max_ttl_s, off.cpu_budget_ms), (0, 35));
    }

    #[test]
    fn bad_limits_say_what_is_wrong() {
        assert!(Limits::parse("[]").unwrap_err().to_string().contains("JSON object"));
        assert!(Limits::parse(r#"{"cpu_budget_ms": 60}"#).unwrap_err().to_string().contains("at most 40"));
        // Budgets that leave no headroom under Fastly's 50 ms are refused.
        assert!(Limits::parse(r#"{"cpu_budget_ms": 41}"#).is_err());
        assert!(
            Limits::parse(r#"{"cpu_budget_ms": 49}"#).unwrap_err().to_string().contains("stops an execution at 50")
        );
        assert_eq!(Limits::parse(r#"{"cpu_budget_ms": 40}"#).unwrap().cpu_finish_by_ms(), Some(45));
        assert_eq!(Limits::parse(r#"{"cpu_budget_ms": 0}"#).unwrap().cpu_deadline_ms(), None);
        assert_eq!(Limits::default().cpu_deadline_ms(), Some(35));
        assert!(Limits::parse(r#"{"cpu": 5}"#).unwrap_err().to_string().contains("unknown field"));
    }
}
