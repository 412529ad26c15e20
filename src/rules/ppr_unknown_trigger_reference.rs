//! ## What it does
//! Checks that every trigger of a ProjectPipelineRuntime names an event source and a pipeline of
//! the same runtime.
//!
//! ## Why is this bad?
//! Nautes: "found non-existent event source %s in trigger"; the trigger never fires.
//!
//! ## Example
//! ```yaml
//! eventSources: [{name: webhook, ...}]
//! pipelineTriggers:
//! - {eventSource: webhok, pipeline: ci}
//! ```
//!
//! ## How to fix
//! Name an event source and a pipeline defined in the same runtime.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "ppr-unknown-trigger-reference",
    Error,
    Tree,
    "every trigger names an existing event source and pipeline"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        for r in ctx.model.of_kind(Kind::ProjectPipelineRuntime) {
            let Some(p) = r.ppr() else { continue };
            let sources: Vec<&str> = p.event_sources.iter().map(|e| e.name.as_str()).collect();
            let pipelines: Vec<&str> = p.pipelines.iter().map(|e| e.name.as_str()).collect();
            for t in &p.triggers {
                for (at, names, what) in [
                    (&t.event_source, &sources, "event source"),
                    (&t.pipeline, &pipelines, "pipeline"),
                ] {
                    let Some(at) = at else { continue };
                    if !names.contains(&at.as_str()) {
                        let help = crate::suggest::did_you_mean(&at.value, names.iter().copied())
                            .unwrap_or_else(|| {
                                format!("this runtime defines the {what}s: {}", names.join(", "))
                            });
                        out.push(
                            Finding::at(
                                META.id,
                                r,
                                at,
                                format!("found non-existent {what} `{}` in trigger", at.value),
                            )
                            .help(help),
                        );
                    }
                }
            }
        }
    }
}
