//! What running a fixture case gave: what `check` prints and the report shows.

use edge_rewriter::{Report, RequestContext};

use crate::check::Case;

/// What running a case gave.
pub struct Outcome {
    pub case: Case,
    pub original: Vec<u8>,
    pub rewritten: Vec<u8>,
    pub context: RequestContext,
    pub report: Option<Report>,
    pub verdict: Verdict,
    /// The time windows, rollouts and experiments that affect the page (`schedule::lines`).
    pub schedule: Vec<String>,
}

/// How a case's output compares with its expected output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Same,
    Different,
    NoExpected,
    Blessed,
}
