//! `rewrite check` as JUnit XML, the format CI dashboards read: one test case per fixture,
//! a failure with the diff for each case whose output differs.

use edge_rewriter::language::escape_html;

use crate::outcome::Outcome;

/// The outcomes as a JUnit XML document.
pub fn xml(outcomes: &[Outcome]) -> String {
    let failures = outcomes.iter().filter(|outcome| outcome.verdict.failed()).count();
    let seconds: f64 = outcomes.iter().map(|outcome| outcome.elapsed.as_secs_f64()).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let counts = format!("tests=\"{}\" failures=\"{failures}\" time=\"{seconds:.3}\"", outcomes.len());
    xml.push_str(&format!("<testsuites name=\"rewrite check\" {counts}>\n"));
    xml.push_str(&format!("  <testsuite name=\"fixtures\" {counts} errors=\"0\" skipped=\"0\">\n"));
    for outcome in outcomes {
        let case = &outcome.case;
        xml.push_str(&format!(
            "    <testcase classname=\"fixtures\" name=\"{}\" file=\"{}\" time=\"{:.3}\"",
            text(&case.name),
            text(&case.file.display().to_string()),
            outcome.elapsed.as_secs_f64()
        ));
        match outcome.failure() {
            None => xml.push_str("/>\n"),
            Some(failure) => {
                xml.push_str(">\n");
                xml.push_str(&format!(
                    "      <failure type=\"{}\" message=\"{}\">{}</failure>\n",
                    text(outcome.verdict.label()),
                    text(&failure),
                    text(&outcome.diff(false))
                ));
                xml.push_str("    </testcase>\n");
            }
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// `value` escaped for XML text and attributes; characters XML 1.0 cannot hold at all (most
/// control characters) become U+FFFD.
fn text(value: &str) -> String {
    let allowed = |c: char| !c.is_control() || matches!(c, '\t' | '\n' | '\r') || u32::from(c) >= 0x7f;
    let cleaned: String = value.chars().map(|c| if allowed(c) { c } else { '\u{fffd}' }).collect();
    escape_html(&cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_cleaned_for_xml() {
        assert_eq!(text("a<b & \"c\"\u{1b}[31m"), "a&lt;b &amp; &quot;c&quot;\u{fffd}[31m");
    }
}
