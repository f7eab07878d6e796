//! The index: the one key that says which entries make up a rule set, in order, and which
//! version of the rule set that is.
//!
//! Two forms are read. The plain one is a JSON array of entry names, as `rewrite store`
//! writes it for the local store: `["10-sale-banner", "20-analytics"]`. The versioned one is
//! what `rewrite publish` writes: `{"version": "v7", "entries": ["v7.10-sale-banner", ...]}`.
//! The version travels in the index itself, so naming it in every log line costs no lookup,
//! and flipping the index flips the version with the entries, atomically.

use serde_json::Value;

use super::layout::StoreError;

/// A parsed index: the rule set's version (when it names one) and its entries, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Index {
    /// The rule set's version, e.g. `v7`; `None` for the plain array form.
    pub version: Option<String>,
    /// The entry keys, in the order their rules apply.
    pub entries: Vec<String>,
}

impl Index {
    /// Reads the index stored under `key`.
    pub fn parse(key: &str, text: &str) -> Result<Index, StoreError> {
        let bad = |why: String| StoreError::BadIndex(key.to_owned(), why);
        let value: Value = serde_json::from_str(text).map_err(|err| bad(err.to_string()))?;
        match value {
            Value::Array(_) => Ok(Index { version: None, entries: names(value).map_err(bad)? }),
            Value::Object(mut fields) => {
                if let Some(unknown) = fields.keys().find(|field| !matches!(field.as_str(), "version" | "entries")) {
                    return Err(bad(format!("unknown field `{unknown}`; the fields are `version` and `entries`")));
                }
                let version = match fields.remove("version") {
                    Some(Value::String(version)) if !version.trim().is_empty() => version,
                    _ => return Err(bad("`version` must be a non-empty string, like \"v7\"".to_owned())),
                };
                let entries = fields.remove("entries").ok_or_else(|| bad("missing field `entries`".to_owned()))?;
                Ok(Index { version: Some(version), entries: names(entries).map_err(bad)? })
            }
            _ => Err(bad("found neither an array nor an object".to_owned())),
        }
    }

    /// The index as stored: the plain array without a version, the object with one.
    pub fn to_json(&self) -> String {
        /// The versioned form, its version first for people reading the store.
        #[derive(serde::Serialize)]
        struct Versioned<'a> {
            version: &'a str,
            entries: &'a [String],
        }
        let json = match &self.version {
            None => serde_json::to_string(&self.entries),
            Some(version) => serde_json::to_string(&Versioned { version, entries: &self.entries }),
        };
        json.expect("strings serialise")
    }
}

fn names(value: Value) -> Result<Vec<String>, String> {
    serde_json::from_value(value).map_err(|err| format!("the entries must be names (strings): {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_are_read_and_written_back() {
        let plain = Index::parse("rules", r#"["10-a", "20-b"]"#).unwrap();
        assert_eq!(plain, Index { version: None, entries: vec!["10-a".into(), "20-b".into()] });
        assert_eq!(plain.to_json(), r#"["10-a","20-b"]"#);
        let versioned = Index::parse("rules", r#"{"version": "v7", "entries": ["v7.10-a"]}"#).unwrap();
        assert_eq!(versioned.version.as_deref(), Some("v7"));
        assert_eq!(versioned.to_json(), r#"{"version":"v7","entries":["v7.10-a"]}"#);
        assert_eq!(Index::parse("rules", &versioned.to_json()).unwrap(), versioned);
    }

    #[test]
    fn malformed_indexes_say_what_to_write() {
        let message = |text: &str| Index::parse("rules", text).unwrap_err().to_string();
        assert!(message("banner").contains("must be a JSON array of entry names"), "{}", message("banner"));
        assert!(message(r#"{"entries": []}"#).ends_with("`version` must be a non-empty string, like \"v7\""));
        assert!(message(r#"{"version": "v1"}"#).ends_with("missing field `entries`"));
        assert!(message(r#"{"version": "v1", "entries": [], "x": 1}"#).contains("unknown field `x`"));
        assert!(message("[1]").contains("the entries must be names"), "{}", message("[1]"));
        assert!(message("7").ends_with("found neither an array nor an object"));
    }
}
