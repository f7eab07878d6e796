//! Fragments for includes on a laptop: files named on the command line (`--fragment
//! PATH=FILE`) or a directory standing in for the origin (`--fragments DIR`, and a fixtures
//! directory's `pages/` for `check`), so a page with includes looks as it will at the edge.
//!
//! A fragment may be given a delay (`--fragment /promo.html=promo.html@500ms`): it arrives
//! that long after the page was asked for, as a slow backend's would, so an include's
//! timeout can be tried. A fragment later than its include's `timeout_ms` is given up at the
//! timeout and its fallback takes its place, as at the edge; the wait is real.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use edge_rewriter::include::{Fragment, FragmentFrom, FragmentSource, PlannedInclude};

use crate::RequestArgs;

/// Where includes' fragments come from locally.
#[derive(Debug, Clone)]
pub struct LocalFragments {
    /// By include path, as the rule renders it (query included), with its delay.
    files: HashMap<String, (PathBuf, Duration)>,
    /// A directory served like the origin (`/a/b.html` is `DIR/a/b.html`), with its delay.
    dir: Option<(PathBuf, Duration)>,
    /// When the page was asked for: delays and timeouts count from here, as at the edge,
    /// where fragment requests leave with the page's.
    asked_at: Instant,
}

impl LocalFragments {
    /// The fragments `--fragment` and `--fragments` name.
    pub fn from_args(args: &RequestArgs) -> Result<Self, String> {
        let dir = match &args.fragments_dir {
            Some(dir) => {
                let (dir, delay) = with_delay(dir.to_str().unwrap_or_default())
                    .map_err(|why| format!("--fragments {}: {why}", dir.display()))?;
                Some((PathBuf::from(dir), delay))
            }
            None => None,
        };
        let mut fragments = LocalFragments { files: HashMap::new(), dir, asked_at: Instant::now() };
        for spec in &args.fragments {
            let (path, file) = spec
                .split_once('=')
                .filter(|(path, file)| path.starts_with('/') && !file.is_empty())
                .ok_or_else(|| {
                    format!(
                        "--fragment {spec:?}: write it as PATH=FILE, e.g. /fragments/sale.html=sale.html (or \
                             PATH=FILE@500ms for a fragment that takes 500 ms)"
                    )
                })?;
            let (file, delay) = with_delay(file).map_err(|why| format!("--fragment {spec:?}: {why}"))?;
            fragments.files.insert(path.to_owned(), (PathBuf::from(file), delay));
        }
        Ok(fragments)
    }

    /// The fragments a directory holds, served like the origin would, at once.
    pub fn in_dir(dir: &Path) -> Self {
        LocalFragments { files: HashMap::new(), dir: Some((dir.to_owned(), Duration::ZERO)), asked_at: Instant::now() }
    }

    fn file_for(&self, path: &str) -> Option<(PathBuf, Duration)> {
        let without_query = path.split(['?', '#']).next().unwrap_or(path);
        if let Some(file) = self.files.get(path).or_else(|| self.files.get(without_query)) {
            return Some(file.clone());
        }
        // The engine refuses paths with `.` or `..` segments before asking: the directory
        // cannot be left.
        let (dir, delay) = self.dir.as_ref()?;
        let relative = without_query.trim_start_matches('/');
        let file = if relative.is_empty() || relative.ends_with('/') {
            dir.join(relative).join("index.html")
        } else {
            dir.join(relative)
        };
        Some((file, *delay))
    }
}

/// `FILE@500ms` (or `@1.5s`): the file and its delay; without `@`, no delay. An `@` that
/// is not followed by a duration is part of the name.
fn with_delay(spec: &str) -> Result<(&str, Duration), String> {
    let Some((file, delay)) = spec.rsplit_once('@') else { return Ok((spec, Duration::ZERO)) };
    let seconds = if let Some(ms) = delay.strip_suffix("ms") {
        ms.parse::<f64>().map(|ms| ms / 1000.0)
    } else if let Some(s) = delay.strip_suffix('s') {
        s.parse::<f64>()
    } else {
        return Ok((spec, Duration::ZERO));
    };
    match seconds {
        Ok(seconds) if (0.0..=60.0).contains(&seconds) => Ok((file, Duration::from_secs_f64(seconds))),
        _ => Err(format!("{delay:?} is not a delay: write it like 500ms or 1.5s, at most 60s")),
    }
}

impl FragmentSource for LocalFragments {
    fn fragment(&mut self, _index: usize, include: &PlannedInclude) -> Fragment {
        let from = match &include.from {
            FragmentFrom::Origin => String::new(),
            FragmentFrom::Backend(name) => format!(" (backend {name})"),
            FragmentFrom::Site(site) => format!(" (site {site})"),
        };
        let Some((file, delay)) = self.file_for(&include.path) else {
            return Fragment::Unavailable(format!(
                "no local file for {}{from}: give --fragment {}=FILE or --fragments DIR",
                include.path, include.path
            ));
        };
        // As at the edge: wait for the fragment, no later than its timeout allows.
        let (arrives, deadline) = (self.asked_at + delay, self.asked_at + include.timeout);
        std::thread::sleep(arrives.min(deadline).saturating_duration_since(Instant::now()));
        if arrives > deadline {
            return Fragment::timed_out(include);
        }
        match std::fs::File::open(&file) {
            Ok(opened) => Fragment::Response {
                status: 200,
                content_type: Some("text/html; charset=utf-8".to_owned()),
                content_length: opened.metadata().ok().map(|metadata| metadata.len()),
                body: Box::new(opened),
            },
            Err(err) => {
                Fragment::Unavailable(format!("no local file for {}{from}: {}: {err}", include.path, file.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_read_after_the_last_at() {
        assert_eq!(with_delay("promo.html@500ms"), Ok(("promo.html", Duration::from_millis(500))));
        assert_eq!(with_delay("a@b/promo.html@1.5s"), Ok(("a@b/promo.html", Duration::from_millis(1500))));
        assert_eq!(with_delay("me@example.html"), Ok(("me@example.html", Duration::ZERO)));
        assert_eq!(with_delay("promo.html"), Ok(("promo.html", Duration::ZERO)));
        assert!(with_delay("promo.html@-5ms").unwrap_err().contains("write it like 500ms"));
        assert!(with_delay("promo.html@fastms").is_err());
    }
}
