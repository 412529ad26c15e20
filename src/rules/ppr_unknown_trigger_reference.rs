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
            // Sets and suggestion indexes: a runtime with thousands of triggers stays linear.
            let known: [rustc_hash::FxHashSet<&str>; 2] = [
                sources.iter().copied().collect(),
                pipelines.iter().copied().collect(),
            ];
            let indexes: [std::cell::OnceCell<crate::suggest::NameIndex>; 2] = Default::default();
            for t in &p.triggers {
                for (k, at, names, what) in [
                    (0, &t.event_source, &sources, "event source"),
                    (1, &t.pipeline, &pipelines, "pipeline"),
                ] {
                    let Some(at) = at else { continue };
                    if !known[k].contains(at.as_str()) {
                        let help = indexes[k]
                            .get_or_init(|| crate::suggest::NameIndex::new(names.iter().copied()))
                            .did_you_mean(&at.value)
                            .unwrap_or_else(|| match names.len() {
                                0 => format!("this runtime defines no {what}s"),
                                1..=10 => format!(
                                    "this runtime defines the {what}s: {}",
                                    names.join(", ")
                                ),
                                n => format!("this runtime defines {n} {what}s; none is close"),
                            });
                        out.push(
                            Finding::at(
                                &META,
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
