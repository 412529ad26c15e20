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
//! Project or CodeRepo in a folder that already has the right one is this error too (Nautes refuses
//! it the same way), and `folder-count` says which one belongs there.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

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
        for r in &m.resources {
            let Some(folder) = super::folder_of(r.kind, m.path(r)) else {
                continue;
            };
            let (at, what) = match r.kind {
                Kind::Project | Kind::CodeRepo => {
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
                        &META,
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
