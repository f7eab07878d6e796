//! The service's limits, from the config store key `limits` (a JSON object), so a site owner
//! changes them without a redeploy: `{"cpu_budget_ms": 35}`.

use serde::Deserialize;

/// The config store key holding the limits.
pub const LIMITS_KEY: &str = "limits";

/// Fastly's CPU limit for one execution, in milliseconds
/// (docs.fastly.com/products/compute-resource-limits).
pub const PLATFORM_CPU_MS: u64 = 50;

/// Limits the service works within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// vCPU milliseconds an instance may spend before rewriting stops and the rest of a
    /// page passes through unchanged. Well under Fastly's 50 ms, so the splice, the log line
    /// and the platform's own work still fit.
    pub cpu_budget_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { cpu_budget_ms: 35 }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSpec {
    #[serde(default)]
    cpu_budget_ms: Option<u64>,
}

impl Limits {
    /// Reads the `limits` value. An unreadable value or a figure out of range is an error
    /// naming it; the caller keeps the defaults and logs it.
    pub fn parse(json: &str) -> Result<Limits, String> {
        let shape = || format!("`{LIMITS_KEY}` must be a JSON object like {{\"cpu_budget_ms\": 35}}");
        let value: serde_json::Value = serde_json::from_str(json).map_err(|err| format!("{}: {err}", shape()))?;
        if !value.is_object() {
            return Err(shape());
        }
        let spec: LimitsSpec = serde_json::from_value(value).map_err(|err| format!("{}: {err}", shape()))?;
        let mut limits = Limits::default();
        if let Some(ms) = spec.cpu_budget_ms {
            if !(1..PLATFORM_CPU_MS).contains(&ms) {
                return Err(format!(
                    "`{LIMITS_KEY}.cpu_budget_ms` is {ms}; it must be 1 to {} (Fastly stops an execution at {PLATFORM_CPU_MS} ms)",
                    PLATFORM_CPU_MS - 1
                ));
            }
            limits.cpu_budget_ms = ms;
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
    }

    #[test]
    fn bad_limits_say_what_is_wrong() {
        assert!(Limits::parse("[]").unwrap_err().contains("JSON object"));
        assert!(Limits::parse(r#"{"cpu_budget_ms": 60}"#).unwrap_err().contains("1 to 49"));
        assert!(Limits::parse(r#"{"cpu_budget_ms": 0}"#).is_err());
        assert!(Limits::parse(r#"{"cpu": 5}"#).unwrap_err().contains("unknown field"));
    }
}
