//! ## What it does
//! Checks that each project in a DeploymentRuntime's `projectsRef` may use its manifest code repo:
//! the CodeRepo's `spec.project` is that project, or a CodeRepoBinding of the same product for that
//! code repo lists the project or lists no projects (a product-wide grant).
//!
//! ## Why is this bad?
//! Nautes: "project %s is illegal: not permitted to use repository %s".
//!
//! ## Example
//! ```yaml
//! spec:
//!   manifestSource: {codeRepo: repo-42, path: deploy}   # repo-42 belongs to api-server
//!   projectsRef: [web-portal]
//! ```
//!
//! ## How to fix
//! Add a CodeRepoBinding in `code-repos/repo-42/` with `codeRepo: repo-42` and
//! `projects: [web-portal]`, or drop the project from `projectsRef`.

use super::permission::{Permissions, Verdict};
use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "dr-project-not-permitted",
    Error,
    Tree,
    "each referenced project may use the manifest code repo"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        let perms = Permissions::new(ctx.model);
        for r in ctx.model.of_kind(Kind::DeploymentRuntime) {
            let Some(d) = r.dr() else { continue };
            let Some(repo) = &d.code_repo else { continue };
            let product = r.product.as_ref().map(|p| p.as_str()).or(ctx.product);
            for p in &d.projects_ref {
                if ctx.model.get(Kind::Project, &p.value).is_none() {
                    continue; // dr-project-not-found
                }
                if perms.check(&p.value, &repo.value, product) == Verdict::Denied {
                    out.push(
                        Finding::at(
                            &META,
                            r,
                            p,
                            format!(
                                "project `{}` is not permitted to use code repo `{}`",
                                p.value, repo.value
                            ),
                        )
                        .help(Permissions::help(&p.value, &repo.value))
                        .related(
                            &ctx.model.paths[r.file as usize],
                            repo.span,
                            "the manifest code repo",
                        ),
                    );
                }
            }
        }
    }
}
