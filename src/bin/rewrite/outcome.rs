//! What running a fixture case gave: what `check` prints and the reports show.

use std::time::Duration;

use edge_rewriter::{Report, RequestContext};

use crate::check::Case;
use crate::diff::{display_text, unified};

/// What running a case gave.
pub struct Outcome {
    pub case: Case,
    pub original: Vec<u8>,
    pub rewritten: Vec<u8>,
    /// The expected output as it was before the run (`None` when there was none).
    pub expected: Option<Vec<u8>>,
    pub context: RequestContext,
    /// What the rewrite did; `None` when the service would pass the response through.
    pub report: Option<Report>,
    pub verdict: Verdict,
    /// How long the rewrite took.
    pub elapsed: Duration,
    /// The time windows, rollouts and experiments that affect the page (`schedule::lines`).
    pub schedule: Vec<String>,
}

/// How a case's output compares with its expected output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Same,
    Different,
    NoExpected,
    Blessed,
}

impl Verdict {
    /// Whether the case fails the check.
    pub fn failed(self) -> bool {
        matches!(self, Verdict::Different | Verdict::NoExpected)
    }

    /// The verdict in a word or two, for reports.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Same => "ok",
            Verdict::Different => "differs from expected",
            Verdict::NoExpected => "no expected output",
            Verdict::Blessed => "blessed",
        }
    }
}

impl Outcome {
    /// Why the case failed, in one line; `None` when it did not.
    pub fn failure(&self) -> Option<String> {
        let expected = self.case.expected.display();
        match self.verdict {
            Verdict::Different => Some(format!("output differs from {expected}")),
            Verdict::NoExpected => Some(format!("no expected output at {expected}")),
            Verdict::Same | Verdict::Blessed => None,
        }
    }

    /// The expected and the actual output as text, decoded in the page's charset.
    pub fn expected_and_actual(&self) -> Option<(String, String)> {
        let expected = self.expected.as_ref()?;
        Some((display_text(expected, &self.context), display_text(&self.rewritten, &self.context)))
    }

    /// The unified diff of expected against actual; empty when they are the same.
    pub fn diff(&self, color: bool) -> String {
        match self.expected_and_actual() {
            Some((expected, actual)) => unified(
                &expected,
                &actual,
                &format!("{} (expected)", self.case.expected.display()),
                &format!("{} (actual)", self.case.name),
                color,
            ),
            None => String::new(),
        }
    }
}
