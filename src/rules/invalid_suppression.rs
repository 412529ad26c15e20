//! ## What it does
//! Checks that a `lint.nautes.io/ignore` annotation names only rule ids that exist (or `all`).
//!
//! ## Why is this bad?
//! A misspelt rule id suppresses nothing, silently: the finding the author meant to accept keeps
//! failing, or worse, a later reader believes it is suppressed.
//!
//! ## Example
//! ```yaml
//! metadata:
//!   annotations:
//!     lint.nautes.io/ignore: dr-enviroment-not-found
//! ```
//!
//! ## How to fix
//! Correct the id (`nautes-lint rules` lists them) or remove the annotation.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;

super::meta!(
    "invalid-suppression",
    Warning,
    Tree,
    "a lint.nautes.io/ignore annotation names an unknown rule id"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        for r in &ctx.model.resources {
            let Some(ignore) = &r.ignore else { continue };
            for id in ignore.value.split(',').map(str::trim) {
                if id == "all" || super::find(id).is_some() {
                    continue;
                }
                let help = crate::suggest::did_you_mean(id, super::ids())
                    .unwrap_or_else(|| "`nautes-lint rules` lists the rule ids".into());
                out.push(
                    Finding::at(
                        META.id,
                        r,
                        ignore,
                        format!("`{id}` is not a rule id; it suppresses nothing"),
                    )
                    .help(help),
                );
            }
        }
    }
}
