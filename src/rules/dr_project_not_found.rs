//! ## What it does
//! Checks that each `projectsRef` entry of a DeploymentRuntime names a Project in the tree.
//!
//! ## Why is this bad?
//! Nautes: "the referenced project %s by the deployment runtime %s does not exist while verifying
//! the validity of the global template".
//!
//! ## Example
//! ```yaml
//! spec:
//!   projectsRef:
//!   - billing   # no projects/billing/billing.yaml
//! ```
//!
//! ## How to fix
//! Remove the entry, correct it, or add the Project.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "dr-project-not-found",
    Error,
    Tree,
    "each projectsRef entry names a Project in the tree"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        let refs = super::References {
            rule: &META,
            from: Kind::DeploymentRuntime,
            to: Kind::Project,
            what: "project",
            help: "add the Project under `projects/`, or remove the entry",
        };
        refs.check(ctx, out, |r| {
            r.dr()
                .map(|d| d.projects_ref.as_slice())
                .unwrap_or_default()
        });
    }
}
