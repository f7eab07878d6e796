//! What a rule set's output can depend on besides the URL, so that a rewritten page is kept
//! and reused only where it is the same page: request headers and cookies (a downstream
//! cache can `Vary` on those), facts no downstream cache sees (the client's address for a
//! rollout, its country), and the clock (time windows and `{{date}}`).

use std::collections::BTreeSet;

/// What the output may depend on, gathered over a rule set's conditions and templates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dependence {
    /// Request headers read (names lower-cased; `cookie` for cookie conditions).
    pub headers: BTreeSet<String>,
    /// Something a downstream cache cannot see: the client's address, its country.
    pub unseen: bool,
    /// Instants (Unix seconds) at which some rule's window opens or closes.
    pub boundaries: BTreeSet<i64>,
    /// `{{date}}` is used: the output changes at each UTC midnight.
    pub daily: bool,
}

impl Dependence {
    /// The first instant after `now` at which the output may change with the clock alone.
    pub fn next_change_after(&self, now: i64) -> Option<i64> {
        let boundary = self.boundaries.range(now + 1..).next().copied();
        let midnight = self.daily.then(|| (now.div_euclid(86_400) + 1) * 86_400);
        boundary.into_iter().chain(midnight).min()
    }

    /// Whether a downstream cache could keep the page for anyone: only when all it depends
    /// on is the URL and headers the response can `Vary` on. The clock counts as unseen:
    /// a downstream cache would keep a page past a rule's window.
    pub fn downstream_cacheable(&self) -> bool {
        !self.unseen && self.boundaries.is_empty() && !self.daily
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_change_is_the_nearest_boundary_or_midnight() {
        let mut dependence = Dependence::default();
        assert_eq!(dependence.next_change_after(1_000), None);
        dependence.boundaries.extend([500, 2_000, 9_000]);
        assert_eq!(dependence.next_change_after(1_000), Some(2_000));
        dependence.daily = true;
        assert_eq!(dependence.next_change_after(1_000), Some(2_000));
        assert_eq!(dependence.next_change_after(10_000), Some(86_400));
        assert!(!dependence.downstream_cacheable());
        assert!(Dependence::default().downstream_cacheable());
    }
}
