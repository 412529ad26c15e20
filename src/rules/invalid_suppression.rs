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
            for entry in entries(&ignore.value) {
                let Ignored::Unknown(id) = entry else {
                    continue;
                };
                let help = crate::suggest::did_you_mean(id, super::ids())
                    .unwrap_or_else(|| "`nautes-lint rules` lists the rule ids".into());
                out.push(
                    Finding::at(
                        &META,
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

/// One entry of a `lint.nautes.io/ignore` annotation (comma-separated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored<'a> {
    All,
    Rule(&'static RuleMeta),
    /// Suppresses nothing; this rule reports it.
    Unknown(&'a str),
}

pub fn entries(value: &str) -> impl Iterator<Item = Ignored<'_>> {
    value.split(',').map(str::trim).map(|id| match id {
        "all" => Ignored::All,
        _ => super::find(id).map_or(Ignored::Unknown(id), Ignored::Rule),
    })
}

/// Whether an annotation with these entries hides findings of `rule`. This rule's own findings
/// are never hidden: they say that the annotation itself does nothing.
pub fn suppresses(entries: &[Ignored<'_>], rule: &'static RuleMeta) -> bool {
    rule != &META
        && entries
            .iter()
            .any(|e| matches!(e, Ignored::All) || *e == Ignored::Rule(rule))
}
