//! ## What it does
//! Flags a DeploymentRuntime whose `destination` is the pre-v0.3.6 plain string
//! (`destination: env-dev`) instead of `{environment: env-dev}`. A warning by default; an error
//! when the configured Nautes version (`--nautes-version`, `nautesVersion`) is 0.3.6 or later,
//! whose API no longer accepts the string.
//!
//! ## Why is this bad?
//! Nautes v0.3.6 (July 2023) changed the field to an object with `environment` and optional
//! `namespaces`. Clusters running a newer Nautes reject the old form.
//!
//! ## Example
//! ```yaml
//! spec:
//!   destination: env-dev
//! ```
//!
//! ## How to fix
//! `destination: {environment: env-dev}` (the namespaces default to the runtime's name).
//! `nautes-lint check --fix` rewrites it in the style of the mapping around it, editing only
//! the value: in a block mapping the value becomes a nested mapping one indentation step deeper,
//!
//! ```yaml
//! spec:
//!   destination:
//!     environment: env-dev
//! ```
//!
//! and in a flow mapping (`spec: {destination: env-dev}`) the flow mapping
//! `{environment: env-dev}`. Quotes around the value, comments and CRLF line ends are kept.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::{Finding, Severity};

super::meta!(
    "dr-legacy-destination",
    Warning,
    Tree,
    "destination is the pre-v0.3.6 plain string",
    true
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        let newer = ctx.nautes_version.is_some_and(|v| v >= (0, 3, 6));
        for r in ctx.model.of_kind(crate::model::Kind::DeploymentRuntime) {
            let Some(d) = r.dr() else { continue };
            if !d.legacy_destination {
                continue;
            }
            let Some(env) = &d.environment else { continue };
            let mut f = Finding::at(
                &META,
                r,
                env,
                format!("`destination: {}` is the pre-v0.3.6 string form", env.value),
            )
            .help(format!(
                "write `destination: {{environment: {}}}`",
                env.value
            ));
            if newer {
                f.severity = Some(Severity::Error);
                f.message.push_str(", which Nautes 0.3.6 and later reject");
            }
            out.push(f);
        }
    }
}
