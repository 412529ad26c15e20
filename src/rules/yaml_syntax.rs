//! ## What it does
//! Checks that the file parses as YAML (and is UTF-8 text, nested at most 128 levels deep and
//! expanding to at most 200,000 nodes through aliases).
//!
//! ## Why is this bad?
//! Nautes fails the load of the whole repository on one file it cannot parse: every product
//! resource stops syncing, not just this one.
//!
//! ## Example
//! ```yaml
//! spec:
//!   projectsRef: - api-server   # a block sequence cannot start here
//! ```
//!
//! ## How to fix
//! Correct the YAML at the reported position: `projectsRef: [api-server]`, or the `- api-server`
//! entry on its own line.

use super::{FileCtx, Rule, RuleMeta};
use crate::diagnostic::Finding;
use crate::yaml::YamlIssue;

super::meta!("yaml-syntax", Error, Tree, "the file parses as YAML");

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_file(&self, ctx: &FileCtx<'_>, out: &mut Vec<Finding>) {
        for issue in &ctx.parsed.issues {
            if let YamlIssue::Syntax { span, message } = issue {
                out.push(
                    Finding::new(&META, ctx.file, *span, "", format!("invalid YAML: {message}"))
                        .help("fix the YAML at this position; Nautes refuses to load the repository until every file parses"),
                );
            }
        }
    }
}

/// The finding for file `file`, whose bytes are not UTF-8 from offset `valid_up_to` on (the
/// engine decodes the text before any rule sees it).
pub fn not_utf8(file: u32, valid_up_to: usize) -> Finding {
    Finding::new(
        &META,
        file,
        crate::yaml::Span::file_start(),
        "",
        format!("the file is not UTF-8 text (invalid byte at offset {valid_up_to}); is it binary?"),
    )
    .help("Nautes resources are UTF-8 YAML; remove the file or move it out of the layout folders")
}
