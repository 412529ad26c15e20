//! ## What it does
//! Checks that each kind sits in its layout folder at its level: DeploymentRuntimes directly in
//! `runtimes/`, Environments directly in `envs/`, Projects and ProjectPipelineRuntimes in
//! `projects/<project>/`, CodeRepos and CodeRepoBindings in `code-repos/<repo>/`.
//!
//! ## Why is this bad?
//! Nautes refuses the repository: "this %s resource belongs to a directory that is not consistent
//! with the template layout, expected is %s, but now is %s in %s".
//!
//! ## Example
//! ```text
//! runtimes/env-qa.yaml   # kind: Environment
//! ```
//!
//! ## How to fix
//! Move the file to the folder of its kind (`envs/env-qa.yaml`).

use super::{FileCtx, Rule, RuleMeta};
use crate::diagnostic::Finding;

super::meta!(
    "misplaced-resource",
    Error,
    Tree,
    "the kind sits in its layout folder at its level"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_file(&self, ctx: &FileCtx<'_>, out: &mut Vec<Finding>) {
        let (Some(kind), Some(root)) = (ctx.kind, ctx.root) else {
            return;
        };
        if super::placed_right(kind, ctx.path) {
            return;
        }
        let expected = match kind.layout() {
            (top, 2) => format!("{top}/<file>.yaml"),
            (top, _) => format!(
                "{top}/<{}>/<file>.yaml",
                if top == "projects" { "project" } else { "repo" }
            ),
        };
        let span = root.pointer_span("/kind").unwrap_or(root.span);
        let mut f = Finding::new(
            &META,
            ctx.file,
            span,
            "/kind",
            format!(
                "a {kind} does not belong in `{}`; the layout expects `{expected}`",
                ctx.path
            ),
        )
        .help(format!("move the file to `{expected}`"));
        if let Some(r) = ctx.resource {
            f = f.resource(r);
        }
        out.push(f);
    }
}
