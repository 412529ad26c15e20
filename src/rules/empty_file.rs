//! ## What it does
//! Checks that a file inside a layout folder is not empty (no bytes, or only comments).
//!
//! ## Why is this bad?
//! Nautes' loader fails the whole repository on it: "invalid file, content is empty in %s". A
//! `.gitkeep` that keeps a folder in git is the usual culprit.
//!
//! ## Example
//! ```text
//! envs/.gitkeep   (0 bytes)
//! ```
//!
//! ## How to fix
//! Remove the file. Folders without resources need not exist.

use super::{FileCtx, Rule, RuleMeta};
use crate::diagnostic::Finding;
use crate::yaml::{Span, YamlIssue};

super::meta!(
    "empty-file",
    Error,
    Tree,
    "a file in a layout folder is not empty"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_file(&self, ctx: &FileCtx<'_>, out: &mut Vec<Finding>) {
        let syntax_error = ctx
            .parsed
            .issues
            .iter()
            .any(|i| matches!(i, YamlIssue::Syntax { .. }));
        if ctx.parsed.documents.is_empty() && !syntax_error {
            let what = if ctx.text.is_empty() {
                "the file is empty"
            } else {
                "the file holds no YAML document"
            };
            out.push(
                Finding::new(
                    &META,
                    ctx.file,
                    Span::file_start(),
                    "",
                    format!("{what}; Nautes refuses to load the repository (\"content is empty\")"),
                )
                .help("remove the file: every file under the layout folders must be one resource"),
            );
        }
    }
}
