//! The cluster inventory (`--clusters`): Cluster YAML from the tenant repository, a file or a folder.

use crate::model::{Cluster, extract_cluster};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why the inventory cannot be loaded. Any of these fails the check: a broken inventory would make
/// every cluster rule lie.
#[derive(Debug, thiserror::Error)]
pub enum ClustersError {
    #[error("{}: no such file or folder", .0.display())]
    NotFound(PathBuf),
    /// Listing the folder failed.
    #[error("{}: {source}", .path.display())]
    Walk {
        path: PathBuf,
        source: ignore::Error,
    },
    #[error("{}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file that does not parse; `path` as shown in reports, `line` and `column` 1-based.
    #[error("{path}:{line}:{column}: invalid YAML: {message}")]
    Yaml {
        path: String,
        line: u32,
        column: u32,
        message: String,
    },
}

/// The inventory and the texts it came from (for rendering related locations).
#[derive(Debug, Default)]
pub struct Inventory {
    pub clusters: HashMap<String, Cluster>,
    pub sources: HashMap<Arc<str>, Arc<str>>,
}

/// Loads every `*.yaml` / `*.yml` below `path` (or the file itself). A file that is not valid YAML
/// or holds no Cluster is an error: a broken inventory would make every cluster rule lie.
/// Files are named relative to `relative_to` (the repository root) when they lie below it, so
/// reports show `clusters/x.yaml` rather than a machine's absolute path.
pub fn load(path: &Path, relative_to: Option<&Path>) -> Result<Inventory, ClustersError> {
    let mut files = Vec::new();
    if path.is_dir() {
        for entry in ignore::WalkBuilder::new(path)
            .hidden(true)
            .follow_links(false)
            .require_git(false)
            .build()
        {
            let entry = entry.map_err(|source| ClustersError::Walk {
                path: path.to_path_buf(),
                source,
            })?;
            let p = entry.path();
            if p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(p.to_path_buf());
            }
        }
    } else if path.is_file() {
        files.push(path.to_path_buf());
    } else {
        return Err(ClustersError::NotFound(path.to_path_buf()));
    }
    files.sort();
    // Read on every core: a generated inventory has one file per environment (20,001 at the
    // largest benchmark), and reading them one by one cost a third of a second.
    use rayon::prelude::*;
    let texts = files
        .into_par_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).map_err(|source| ClustersError::Read {
                path: f.clone(),
                source,
            })?;
            // `./clusters/x.yaml` is shown as `clusters/x.yaml`, as a revision shows it.
            let shown: PathBuf = relative_to
                .and_then(|root| f.strip_prefix(root).ok())
                .unwrap_or(&f)
                .components()
                .filter(|c| *c != std::path::Component::CurDir)
                .collect();
            Ok((shown.display().to_string(), text))
        })
        .collect::<Result<Vec<_>, ClustersError>>()?;
    parse(texts)
}

/// Builds the inventory from `(shown path, text)` pairs: files read from disk or from a git
/// revision.
pub fn parse(files: Vec<(String, String)>) -> Result<Inventory, ClustersError> {
    use rayon::prelude::*;
    // Parsed on all cores (a large inventory has thousands of files), merged in order so a
    // later file wins a duplicate name, as before.
    let parsed: Vec<(String, String, Vec<Cluster>)> = files
        .into_par_iter()
        .map(|(shown, text)| {
            let parsed = crate::yaml::parse(&text);
            if let Some(crate::yaml::YamlIssue::Syntax { span, message }) = parsed.issues.first() {
                return Err(ClustersError::Yaml {
                    path: shown,
                    line: span.start.line,
                    column: span.start.col + 1,
                    message: message.clone(),
                });
            }
            let clusters = parsed
                .documents
                .iter()
                .filter_map(|doc| extract_cluster(&doc.root, &shown))
                .collect();
            Ok((shown, text, clusters))
        })
        .collect::<Result<_, ClustersError>>()?;
    let mut inv = Inventory::default();
    for (shown, text, clusters) in parsed {
        if clusters.is_empty() {
            continue;
        }
        for c in clusters {
            inv.clusters.insert(c.name.clone(), c);
        }
        inv.sources
            .insert(Arc::from(shown.as_str()), Arc::from(text.as_str()));
    }
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_can_tell_a_missing_inventory_from_a_broken_one() {
        let missing = load(Path::new("/no/such/inventory"), None).unwrap_err();
        assert!(matches!(missing, ClustersError::NotFound(_)), "{missing:?}");
        assert_eq!(
            missing.to_string(),
            "/no/such/inventory: no such file or folder"
        );
        let broken = parse(vec![(
            "clusters/c.yaml".into(),
            "kind: Cluster\nspec: [\n".into(),
        )])
        .unwrap_err();
        let ClustersError::Yaml { path, line, .. } = &broken else {
            panic!("{broken:?}");
        };
        assert_eq!((path.as_str(), *line), ("clusters/c.yaml", 3));
        assert!(
            broken
                .to_string()
                .starts_with("clusters/c.yaml:3:1: invalid YAML: "),
            "{broken}"
        );
    }
}
