//! Helpers the engine's tests share.

use edge_rewriter::{RuleSet, Streamed};

/// The rule set of one entry, which must compile without errors.
pub fn rules(entry: &str) -> RuleSet {
    let (rules, errors) = RuleSet::from_entries(&[("test".to_owned(), entry.to_owned())]);
    assert!(errors.is_empty(), "{}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
    rules
}

/// Runs `run(read_buffer)` for each of `read_buffers`, the first being the reference (usually
/// the whole page in one read): every run must succeed, and any chunking must give the same
/// bytes and the same counts of hits and shadow hits. Returns the first run.
pub fn rewrite_every_chunking(read_buffers: &[usize], run: impl Fn(usize) -> Streamed<Vec<u8>>) -> Streamed<Vec<u8>> {
    let (&first, others) = read_buffers.split_first().expect("at least one chunking");
    let reference = run(first);
    if let Err(error) = &reference.result {
        panic!("{first}-byte reads: {error}");
    }
    for &read_buffer in others {
        let other = run(read_buffer);
        if let Err(error) = &other.result {
            panic!("{read_buffer}-byte reads: {error}");
        }
        assert_eq!(
            String::from_utf8_lossy(&other.sink),
            String::from_utf8_lossy(&reference.sink),
            "chunking changed the output: {read_buffer}-byte reads against {first}-byte reads"
        );
        assert_eq!(other.report.hits, reference.report.hits, "chunking changed the hits: {read_buffer}-byte reads");
        assert_eq!(
            other.report.shadow_hits, reference.report.shadow_hits,
            "chunking changed the shadow hits: {read_buffer}-byte reads"
        );
    }
    reference
}
