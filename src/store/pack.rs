//! Rule files packed into as few config store entries as fit: editors keep one file per
//! rule, and a request still reads them in a few lookups (it may make 16 in all).
//!
//! Files are taken in order and their rules written compactly, each pack filled up to
//! [`MAX_VALUE_CHARS`] before the next begins; a file whose rules do not fit what is left is
//! split between two packs at a rule. Each pack names the file every rule came from
//! ([`PackedFile`]), so a refusal at the edge (`rule skipped: entry "10-banner..40-promo",
//! file "30-news.json", rule …`) sends the editor to the file. A pack is named after its
//! files: `10-banner` for one, `10-banner..40-promo` for several, `30-big.2` for the
//! second part of a split file: the same files always make the same names.

use serde_json::Value;

use super::layout::{MAX_KEY_CHARS, MAX_VALUE_CHARS};
use crate::rules::{PACK_FIELD, PackedFile, written_rules};

/// Why rule files cannot be packed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    /// A file that is not rules (not JSON, not a rule or a list of rules): its name, and why.
    #[error("{file}: {reason}")]
    Unreadable {
        /// The file.
        file: String,
        /// Why it cannot be read.
        reason: String,
    },
    /// A rule longer than a config store value, even written compactly.
    #[error("{file}: rule {rule}: {}", too_long(*chars))]
    RuleTooLong {
        /// The file.
        file: String,
        /// The rule's id, or `#N`.
        rule: String,
        /// Its length in characters, packed.
        chars: usize,
    },
}

impl PackError {
    /// The file it is about.
    pub fn file(&self) -> &str {
        match self {
            PackError::Unreadable { file, .. } | PackError::RuleTooLong { file, .. } => file,
        }
    }

    /// What is wrong, without the file's name (nor the rule's, for a rule too long).
    pub fn reason(&self) -> String {
        match self {
            PackError::Unreadable { reason, .. } => reason.clone(),
            PackError::RuleTooLong { chars, .. } => too_long(*chars),
        }
    }
}

fn too_long(chars: usize) -> String {
    format!(
        "the rule is {chars} characters even written compactly, and a config store value holds at most \
         {MAX_VALUE_CHARS}: shorten it (long HTML can come from an include instead)"
    )
}

/// The files a pack's value holds rules of, in order (a file split over packs is in each).
pub fn files_in(value: &str) -> Vec<String> {
    let mut files: Vec<String> =
        written_rules(value).unwrap_or_default().into_iter().filter_map(|rule| rule.file).collect();
    files.dedup();
    files
}

/// One pack: its name and its value.
pub type Pack = (String, String);

/// The packs made of some files, and what could not go in them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Packed {
    /// The packs, in order.
    pub packs: Vec<Pack>,
    /// What was left out, and why: files that are not rules, rules too long for any value.
    pub refused: Vec<PackError>,
}

/// Packs `files` (name with `.json`, text), in order, into as few values of at most
/// [`MAX_VALUE_CHARS`] characters as fit. A file that is not rules, and a rule too long for
/// any value, are left out and said.
pub fn pack(files: &[(String, String)]) -> Packed {
    let mut packed = Packed::default();
    let mut filling = Filling::default();
    for (file, text) in files {
        let written = match written_rules(text) {
            Ok(written) => written,
            Err(reason) => {
                packed.refused.push(PackError::Unreadable { file: file.clone(), reason });
                continue;
            }
        };
        for (part, written) in written.into_iter().enumerate() {
            let rule = written.rule;
            let alone = Filling::default().with(file, part, &rule).len();
            if alone > MAX_VALUE_CHARS {
                let rule = match rule.get("id").and_then(Value::as_str) {
                    Some(id) => format!("{id:?}"),
                    None => format!("#{}", part + 1),
                };
                packed.refused.push(PackError::RuleTooLong { file: file.clone(), rule, chars: alone });
                continue;
            }
            if filling.clone().with(file, part, &rule).len() > MAX_VALUE_CHARS {
                packed.packs.push(std::mem::take(&mut filling).finish());
            }
            filling = filling.with(file, part, &rule);
        }
    }
    if !filling.files.is_empty() {
        packed.packs.push(filling.finish());
    }
    packed
}

/// A pack being filled: each file's rules so far, and where its first file began.
#[derive(Debug, Clone, Default)]
struct Filling {
    /// Each file and its rules, in order.
    files: Vec<PackedFile>,
    /// The position in its file of the pack's first rule (0 unless the file was split).
    first_part: usize,
}

impl Filling {
    /// The pack with `rule` (the `part`th of `file`) added.
    fn with(mut self, file: &str, part: usize, rule: &Value) -> Filling {
        match self.files.last_mut() {
            Some(last) if last.file == file => last.rules.push(rule.clone()),
            _ => {
                if self.files.is_empty() {
                    self.first_part = part;
                }
                self.files.push(PackedFile { file: file.to_owned(), rules: vec![rule.clone()] });
            }
        }
        self
    }

    /// The pack's value, written compactly (no spaces; each object's fields in the order
    /// serde_json keeps them, which is how the engine reads them anyway).
    fn value(&self) -> String {
        let mut pack = serde_json::Map::new();
        pack.insert(PACK_FIELD.to_owned(), serde_json::to_value(&self.files).expect("packs serialise"));
        serde_json::to_string(&pack).expect("values serialise")
    }

    /// Its length in characters, as a config store counts them.
    fn len(&self) -> usize {
        self.value().chars().count()
    }

    /// Its name and value.
    fn finish(self) -> Pack {
        // `draft/10-a.json` is `10-a`: a draft's packs are stored under the draft's prefix.
        let stem = |file: &str| {
            let name = file.rsplit('/').next().unwrap_or(file);
            name.strip_suffix(".json").unwrap_or(name).to_owned()
        };
        let first = self.files.first().map(|first| stem(&first.file)).unwrap_or_default();
        let first = if self.first_part > 0 { format!("{first}.{}", self.first_part + 1) } else { first };
        let mut name = match self.files.last().filter(|_| self.files.len() > 1) {
            Some(last) => format!("{first}..{}", stem(&last.file)),
            None => first.clone(),
        };
        // Room for a version prefix (`v123.`) and the draft's (`draft.`).
        if name.chars().count() > MAX_KEY_CHARS - 16 {
            name = format!("{first:.100}+{}", self.files.len() - 1);
        }
        let value = self.value();
        (name, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::compile::RuleSet;

    fn rule(id: &str, text_len: usize) -> String {
        format!(
            r#"{{"id": "{id}", "selector": "body", "actions": [{{"append": {{"text": "{}"}}}}]}}"#,
            "x".repeat(text_len)
        )
    }

    fn files(n: usize, text_len: usize) -> Vec<(String, String)> {
        (0..n).map(|i| (format!("{:02}-r{i}.json", i * 10), rule(&format!("r{i}"), text_len))).collect()
    }

    #[test]
    fn twenty_small_files_make_one_pack_that_reads_as_twenty_rules_with_their_files() {
        let packs = pack(&files(20, 20)).packs;
        assert_eq!(packs.len(), 1);
        assert_eq!(packs[0].0, "00-r0..190-r19");
        let (rules, errors) = RuleSet::from_entries(&packs);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rules.len(), 20);
        let sources: Vec<(&str, &str)> = rules.rules_by_entry().collect();
        assert_eq!(sources[3], ("r3", "30-r3.json"));
    }

    #[test]
    fn packs_fill_up_to_the_limit_in_order_and_split_a_large_file_at_a_rule() {
        let mut many = files(30, 1000);
        // One file of five rules, 1 KB each, in the middle.
        let big: Vec<String> = (0..5).map(|i| rule(&format!("big{i}"), 1000)).collect();
        many.insert(10, ("15-big.json".to_owned(), format!("[{}]", big.join(","))));
        let packs = pack(&many).packs;
        assert!(packs.iter().all(|(_, value)| value.chars().count() <= MAX_VALUE_CHARS));
        // As few as fit: a pack is closed only when the next rule (about 1,040 characters)
        // does not fit in it.
        let lengths: Vec<usize> = packs.iter().map(|(_, value)| value.chars().count()).collect();
        assert!(lengths[..lengths.len() - 1].iter().all(|len| *len > MAX_VALUE_CHARS - 1_100), "{lengths:?}");
        assert!(
            names(&packs).iter().any(|name| name.starts_with("15-big.")),
            "a split file's part: {:?}",
            names(&packs)
        );
        let (rules, errors) = RuleSet::from_entries(&packs);
        assert!(errors.is_empty(), "{errors:?}");
        let ids: Vec<&str> = rules.rule_ids().collect();
        assert_eq!(ids.len(), 35);
        assert_eq!(&ids[9..16], ["r9", "big0", "big1", "big2", "big3", "big4", "r10"], "in order");
        let names = names(&packs);
        let unique: std::collections::BTreeSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "names are unique: {names:?}");
    }

    #[test]
    fn a_bad_rule_in_a_pack_is_named_by_its_file_and_position() {
        let bad = r#"[{"id": "ok", "selector": "p", "actions": ["remove"]}, {"selector": "p"}]"#;
        let packs = pack(&[("10-ok.json".into(), rule("a", 1)), ("20-bad.json".into(), bad.into())]).packs;
        let (_, errors) = RuleSet::from_entries(&packs);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].file.as_deref(), Some("20-bad.json"));
        assert_eq!(
            errors[0].to_string(),
            "entry \"10-ok..20-bad\", file \"20-bad.json\", rule \"#2\", field `id`: missing field `id`"
        );
    }

    #[test]
    fn what_cannot_be_packed_is_named_and_left_out() {
        let packed = pack(&[
            ("10-a.json".into(), "{ nope".into()),
            ("20-b.json".into(), rule("huge", MAX_VALUE_CHARS)),
            ("30-c.json".into(), rule("c", 1)),
        ]);
        let refused: Vec<String> = packed.refused.iter().map(ToString::to_string).collect();
        assert!(refused[0].starts_with("10-a.json: not valid JSON"), "{refused:?}");
        assert!(refused[1].starts_with("20-b.json: rule \"huge\": the rule is 8"), "{refused:?}");
        assert_eq!(names(&packed.packs), ["30-c"]);
    }

    fn names(packs: &[Pack]) -> Vec<String> {
        packs.iter().map(|(name, _)| name.clone()).collect()
    }
}
