//! ## What it does
//! Checks that a Project's and a CodeRepo's folder is named like the resource, that a
//! ProjectPipelineRuntime sits in the folder of its `spec.project`, and that a CodeRepoBinding sits
//! in the folder of its `spec.codeRepo`.
//!
//! ## Why is this bad?
//! Nautes refuses the repository: "the resource directory name is inconsistent, the subdirectory
//! name of %s resource should be %s, but now it is %s".
//!
//! ## Example
//! ```yaml
//! # projects/api-server/pr-web.yaml
//! kind: ProjectPipelineRuntime
//! spec:
//!   project: web-portal
//! ```
//!
//! ## How to fix
//! Move the file into the right folder (`projects/web-portal/`), or correct the name. A second
//! Project or CodeRepo in a folder that already has the right one is reported as `folder-count`.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;
use rustc_hash::FxHashSet as HashSet;

super::meta!(
    "directory-name-mismatch",
    Error,
    Tree,
    "folder names match the Project, CodeRepo, or the referenced project / code repo"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        let m = ctx.model;
        // Folders that already hold a correctly named Project / CodeRepo: an extra one there is a
        // folder-count finding, not a second complaint about the name.
        let well_named: HashSet<(Kind, &str)> = m
            .resources
            .iter()
            .filter_map(|r| {
                let folder = super::folder_of(r.kind, m.path(r))?;
                (matches!(r.kind, Kind::Project | Kind::CodeRepo) && folder == r.name.value)
                    .then_some((r.kind, folder))
            })
            .collect();
        for r in &m.resources {
            let Some(folder) = super::folder_of(r.kind, m.path(r)) else {
                continue;
            };
            let (at, what) = match r.kind {
                Kind::Project | Kind::CodeRepo => {
                    if well_named.contains(&(r.kind, folder)) {
                        continue;
                    }
                    (Some(&r.name), format!("{} `{}`", r.kind, r.name.value))
                }
                Kind::ProjectPipelineRuntime => match r.ppr().and_then(|p| p.project.as_ref()) {
                    Some(p) => (
                        Some(p),
                        format!("the pipeline runtime's project `{}`", p.value),
                    ),
                    None => (None, String::new()),
                },
                Kind::CodeRepoBinding => match r.binding().and_then(|b| b.code_repo.as_ref()) {
                    Some(c) => (Some(c), format!("the binding's code repo `{}`", c.value)),
                    None => (None, String::new()),
                },
                _ => (None, String::new()),
            };
            let Some(at) = at else { continue };
            if at.value != folder {
                let top = r.kind.layout().0;
                out.push(
                    Finding::at(
                        META.id,
                        r,
                        at,
                        format!("{what} does not match its folder `{top}/{folder}/`"),
                    )
                    .help(format!(
                        "move the file to `{top}/{}/`, or correct the name",
                        at.value
                    )),
                );
            }
        }
    }
}
