//! ## What it does
//! Checks that a DeploymentRuntime's `manifestSource.path` is relative, normalised and does not
//! climb out of the repository: no leading `/`, no `..`, no `.` or empty segments, no backslash.
//!
//! ## Why is this bad?
//! Argo CD resolves the path inside the manifest repository; `..` or an absolute path is refused
//! at sync time, and `a//b` or `./a` silently name the same folder twice, defeating the duplicate
//! check. **beyond**
//!
//! ## Example
//! ```yaml
//! spec:
//!   manifestSource:
//!     path: ../manifests/dev
//! ```
//!
//! ## How to fix
//! Write the path from the root of the manifest repository: `manifests/dev`.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "dr-manifest-path",
    Warning,
    Tree,
    "manifestSource.path is relative, normalised, without .."
);

/// Why `path` is not a clean relative path, if it is not.
fn problem(path: &str) -> Option<&'static str> {
    if path.starts_with('/') {
        return Some("is absolute");
    }
    if path.contains('\\') {
        return Some("contains a backslash");
    }
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if segments.contains(&"..") {
        return Some("climbs out with `..`");
    }
    if path != "." && segments.iter().any(|s| s.is_empty() || *s == ".") {
        return Some("is not normalised (`.` or empty segments)");
    }
    None
}

fn normalise(path: &str) -> String {
    let parts: Vec<&str> = path
        .split(['/', '\\'])
        .filter(|s| !s.is_empty() && *s != "." && *s != "..")
        .collect();
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        for r in ctx.model.of_kind(Kind::DeploymentRuntime) {
            let Some(path) = r.dr().and_then(|d| d.path.as_ref()) else {
                continue;
            };
            if let Some(why) = problem(&path.value) {
                out.push(
                    Finding::at(
                        &META,
                        r,
                        path,
                        format!("manifest path `{}` {why}", path.value),
                    )
                    .help(format!(
                        "write it relative to the manifest repository's root, e.g. `{}`",
                        normalise(&path.value)
                    )),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths() {
        assert_eq!(super::problem("manifests/dev"), None);
        assert_eq!(super::problem("manifests/dev/"), None);
        assert_eq!(super::problem("."), None);
        assert!(super::problem("../x").is_some());
        assert!(super::problem("/x").is_some());
        assert!(super::problem("a//b").is_some());
        assert!(super::problem("./a").is_some());
        assert_eq!(super::normalise("../manifests/./dev"), "manifests/dev");
    }
}
