//! Every mistake of one rule in one run, not the first only: serde stops at the first, so
//! each mistaken value is taken out of a copy of the rule and the copy read again, until it
//! reads or nothing more can be taken out. Each mistake names its field as the editor wrote
//! it (the positions in lists are those of the original, however many items were taken out
//! before) and says what to write there ([`super::shape`]).

use serde_json::Value;
use serde_path_to_error::Segment;

use super::Rule;
use super::shape;

/// At most this many mistakes are told for one rule: enough for any rule a person wrote, and
/// a bound on the work a hostile one causes.
const MAX_MISTAKES: usize = 16;

/// One mistake: the field (`None`: the rule as a whole) and what is wrong, in the editor's
/// words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mistake {
    pub field: Option<String>,
    pub reason: String,
}

/// One step into a JSON value: a list's item or an object's field.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Index(usize),
    Key(String),
}

/// Reads `item` as a rule, or says every mistake in it.
pub(crate) fn read(item: &Value) -> Result<Rule, Vec<Mistake>> {
    let mut value = item.clone();
    let mut mistakes = Vec::new();
    // List items taken out so far: the list (where it was then) and the item's position.
    let mut removed: Vec<(Vec<Step>, usize)> = Vec::new();
    // Where the last value taken out was: a complaint about a place that holds it (a
    // "missing field" about it, an object left empty) is our doing, not the editor's.
    let mut taken: Option<Vec<Step>> = None;
    while mistakes.len() < MAX_MISTAKES {
        let err = match serde_path_to_error::deserialize::<_, Rule>(&value) {
            Ok(rule) if mistakes.is_empty() => return Ok(rule),
            Ok(_) => break,
            Err(err) => err,
        };
        let reason = err.inner().to_string();
        let Some(steps) = steps(err.path()) else {
            mistakes.push(Mistake { field: Some(err.path().to_string()), reason });
            break;
        };
        let original = to_original(&steps, &removed);
        // The rule itself only ever lacks the id we took out; any other place, what it holds.
        let ours = taken.as_ref().is_some_and(|taken| {
            taken.len() > steps.len()
                && taken.starts_with(&steps)
                && (!steps.is_empty() || taken[..] == [Step::Key("id".to_owned())])
        });
        if ours && !steps.is_empty() {
            // Taking a value out left its holder wrong: take the holder out too, untold.
            let (last, parent) = steps.split_last().expect("not empty");
            let Some(gone) = take_out(&mut value, parent, last) else { break };
            if let Step::Index(index) = gone {
                removed.push((parent.to_vec(), index));
            }
            taken = Some(steps);
            continue;
        }
        if let Some(missing) = missing_field(&reason) {
            if !ours {
                // serde names the object that lacks the field; the editor wants the field.
                let field = if original.is_empty() { missing.to_owned() } else { display(&original) };
                mistakes.push(Mistake { field: Some(field), reason: shape::explain(missing, &reason, None) });
            }
            if steps.is_empty() && missing == "id" {
                // Any id lets the rest of the rule be read.
                value["id"] = Value::String("x".to_owned());
                taken = None;
                continue;
            }
            // A nested object without a field it needs: what follows from it is not told.
            break;
        }
        let field = display(&original);
        let written = lookup(item, &original);
        mistakes.push(Mistake {
            field: (!original.is_empty()).then(|| field.clone()),
            reason: shape::explain(&field, &reason, written),
        });
        let Some((last, parent)) = steps.split_last() else { break };
        match take_out(&mut value, parent, last) {
            Some(Step::Index(index)) => removed.push((parent.to_vec(), index)),
            Some(Step::Key(_)) => {}
            None => break,
        }
        taken = Some(steps);
    }
    Err(mistakes)
}

/// serde_path_to_error's path as steps; `None` where it could not tell a step.
fn steps(path: &serde_path_to_error::Path) -> Option<Vec<Step>> {
    path.iter()
        .map(|segment| match segment {
            Segment::Seq { index } => Some(Step::Index(*index)),
            Segment::Map { key } => Some(Step::Key(key.clone())),
            Segment::Enum { variant } => Some(Step::Key(variant.clone())),
            Segment::Unknown => None,
        })
        .collect()
}

/// Steps in the copy (items taken out) as steps in the rule as written: each removal, last
/// first, moves the later items of its list back to where they were.
fn to_original(steps: &[Step], removed: &[(Vec<Step>, usize)]) -> Vec<Step> {
    let mut steps = steps.to_vec();
    for (list, gone) in removed.iter().rev() {
        if steps.len() > list.len()
            && steps.starts_with(list)
            && let Step::Index(index) = &mut steps[list.len()]
            && *index >= *gone
        {
            *index += 1;
        }
    }
    steps
}

/// `when.geo.country`, `actions[0].prepend`: as serde_path_to_error and every message write it.
fn display(steps: &[Step]) -> String {
    let mut text = String::new();
    for step in steps {
        match step {
            Step::Index(index) => text.push_str(&format!("[{index}]")),
            Step::Key(key) if text.is_empty() => text.push_str(key),
            Step::Key(key) => text.push_str(&format!(".{key}")),
        }
    }
    text
}

fn lookup<'v>(value: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    steps.iter().try_fold(value, |value, step| match step {
        Step::Index(index) => value.get(index),
        Step::Key(key) => value.get(key),
    })
}

/// Takes `last` out of the value at `parent`; returns what it took out.
fn take_out(value: &mut Value, parent: &[Step], last: &Step) -> Option<Step> {
    let container = parent.iter().try_fold(value, |value, step| match step {
        Step::Index(index) => value.get_mut(index),
        Step::Key(key) => value.get_mut(key),
    })?;
    match (container, last) {
        (Value::Object(fields), Step::Key(key)) => fields.remove(key).map(|_| last.clone()),
        (Value::Array(items), Step::Index(index)) if *index < items.len() => {
            items.remove(*index);
            Some(last.clone())
        }
        _ => None,
    }
}

/// The field a "missing field `x`" is about.
fn missing_field(reason: &str) -> Option<&str> {
    reason.strip_prefix("missing field `")?.split('`').next()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn positions_are_told_as_written_after_items_were_taken_out() {
        let rule = json!({"id": "x", "selector": "p", "actions": [{"bad": 1}, "remove", {"worse": 2}]});
        let mistakes = read(&rule).unwrap_err();
        let fields: Vec<&str> = mistakes.iter().filter_map(|m| m.field.as_deref()).collect();
        assert_eq!(fields, ["actions[0]", "actions[2]"], "{mistakes:?}");
    }

    #[test]
    fn a_missing_id_is_told_and_the_rest_still_read() {
        let mistakes = read(&json!({"selectr": "p", "actions": ["remove"]})).unwrap_err();
        let mut fields: Vec<&str> = mistakes.iter().filter_map(|m| m.field.as_deref()).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["id", "selectr"], "{mistakes:?}");
    }

    #[test]
    fn a_good_rule_reads_and_a_hostile_one_is_bounded() {
        assert!(read(&json!({"id": "x", "selector": "p", "actions": ["remove"]})).is_ok());
        let many: Vec<Value> = (0..100).map(|i| json!({ format!("bad{i}"): 1 })).collect();
        let mistakes = read(&json!({"id": "x", "selector": "p", "actions": many})).unwrap_err();
        assert_eq!(mistakes.len(), MAX_MISTAKES);
    }
}
