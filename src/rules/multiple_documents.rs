//! ## What it does
//! Checks that a resource file holds exactly one YAML document.
//!
//! ## Why is this bad?
//! Nautes reads one resource per file; the documents after the first are never loaded, so the
//! resources in them silently do not exist.
//!
//! ## Example
//! ```yaml
//! kind: Environment
//! metadata: {name: env-dev}
//! ---
//! kind: Environment
//! metadata: {name: env-qa}
//! ```
//!
//! ## How to fix
//! Move each document after the first into a file of its own.

use super::{FileCtx, Rule, RuleMeta};
use crate::diagnostic::Finding;

super::meta!(
    "multiple-documents",
    Error,
    Tree,
    "a resource file holds exactly one YAML document"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_file(&self, ctx: &FileCtx<'_>, out: &mut Vec<Finding>) {
        let docs = &ctx.parsed.documents;
        if docs.len() > 1 {
            out.push(
                Finding::new(
                    &META,
                    ctx.file,
                    docs[1].start,
                    "",
                    format!(
                        "the file holds {} YAML documents; Nautes loads only the first",
                        docs.len()
                    ),
                )
                .help("move each further document into a file of its own"),
            );
        }
    }
}
