//! ## What it does
//! Checks that no two resources of one kind share `metadata.name` anywhere in the tree.
//!
//! ## Why is this bad?
//! Nautes refuses the repository: "duplicate names are not allowed for resources, duplicate files
//! are %s and %s". References by name become ambiguous.
//!
//! ## Example
//! ```text
//! envs/env-dev.yaml        # Environment env-dev
//! envs/env-dev-copy.yaml   # Environment env-dev
//! ```
//!
//! ## How to fix
//! Rename one of them (and its references), or delete the copy.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;

super::meta!(
    "duplicate-name",
    Error,
    Tree,
    "no two resources of one kind share metadata.name"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        let m = ctx.model;
        for r in &m.resources {
            // The index lists same-named resources in path order: report every one after the first.
            let first = m
                .get(r.kind, &r.name.value)
                .expect("a resource is in the index under its own name");
            if first.file != r.file {
                out.push(
                    Finding::at(
                        &META,
                        r,
                        &r.name,
                        format!("another {} is already named `{}`", r.kind, r.name.value),
                    )
                    .help("names are unique per kind in a product; rename one of them")
                    .related(
                        &m.paths[first.file as usize],
                        first.name.span,
                        "first defined here",
                    ),
                );
            }
        }
    }
}
