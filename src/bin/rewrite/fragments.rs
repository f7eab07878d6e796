//! Fragments for includes on a laptop: files named on the command line (`--fragment
//! PATH=FILE`) or a directory standing in for the origin (`--fragments DIR`, and a fixtures
//! directory's `pages/` for `check`), so a page with includes looks as it will at the edge.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use edge_rewriter::{Fragment, FragmentFrom, FragmentSource, PlannedInclude};

use crate::RequestArgs;

/// Where includes' fragments come from locally.
#[derive(Debug, Clone, Default)]
pub struct LocalFragments {
    /// By include path, as the rule renders it (query included).
    files: HashMap<String, PathBuf>,
    /// A directory served like the origin: `/a/b.html` is `DIR/a/b.html`.
    dir: Option<PathBuf>,
}

impl LocalFragments {
    /// The fragments `--fragment` and `--fragments` name.
    pub fn from_args(args: &RequestArgs) -> Result<Self, String> {
        let mut fragments = LocalFragments { files: HashMap::new(), dir: args.fragments_dir.clone() };
        for spec in &args.fragments {
            let (path, file) =
                spec.split_once('=').filter(|(path, file)| path.starts_with('/') && !file.is_empty()).ok_or_else(
                    || format!("--fragment {spec:?}: write it as PATH=FILE, e.g. /fragments/sale.html=sale.html"),
                )?;
            fragments.files.insert(path.to_owned(), PathBuf::from(file));
        }
        Ok(fragments)
    }

    /// The fragments a directory holds, served like the origin would.
    pub fn in_dir(dir: &Path) -> Self {
        LocalFragments { files: HashMap::new(), dir: Some(dir.to_owned()) }
    }

    fn file_for(&self, path: &str) -> Option<PathBuf> {
        let without_query = path.split(['?', '#']).next().unwrap_or(path);
        if let Some(file) = self.files.get(path).or_else(|| self.files.get(without_query)) {
            return Some(file.clone());
        }
        // The engine refuses paths with `.` or `..` segments before asking: the directory
        // cannot be left.
        let dir = self.dir.as_ref()?;
        let relative = without_query.trim_start_matches('/');
        let file = if relative.is_empty() || relative.ends_with('/') {
            dir.join(relative).join("index.html")
        } else {
            dir.join(relative)
        };
        Some(file)
    }
}

impl FragmentSource for LocalFragments {
    fn fragment(&mut self, _index: usize, include: &PlannedInclude) -> Fragment {
        let from = match &include.from {
            FragmentFrom::Origin => String::new(),
            FragmentFrom::Backend(name) => format!(" (backend {name})"),
            FragmentFrom::Site(site) => format!(" (site {site})"),
        };
        let Some(file) = self.file_for(&include.path) else {
            return Fragment::Unavailable(format!(
                "no local file for {}{from}: give --fragment {}=FILE or --fragments DIR",
                include.path, include.path
            ));
        };
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
