//! ## What it does
//! Checks that no mapping has the same key twice.
//!
//! ## Why is this bad?
//! Go's YAML decoder silently keeps the last value, so the first one, which the author may have
//! meant, is thrown away without a word. **beyond**
//!
//! ## Example
//! ```yaml
//! spec:
//!   envType: development
//!   envType: test
//! ```
//!
//! ## How to fix
//! Keep one of the two keys.

use super::{FileCtx, Rule, RuleMeta};
use crate::diagnostic::Finding;
use crate::yaml::YamlIssue;

super::meta!(
    "yaml-duplicate-key",
    Error,
    Tree,
    "no mapping has the same key twice"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_file(&self, ctx: &FileCtx<'_>, out: &mut Vec<Finding>) {
        // A key repeated three times is two findings on one pointer: the occurrence tells them
        // apart without a line number.
        let mut seen: std::collections::HashMap<&str, usize> = Default::default();
        for issue in &ctx.parsed.issues {
            if let YamlIssue::DuplicateKey {
                key,
                pointer,
                first,
                second,
            } = issue
            {
                let nth = seen.entry(pointer).or_default();
                *nth += 1;
                let path: std::sync::Arc<str> = ctx.path.into();
                out.push(
                    Finding::new(
                        &META,
                        ctx.file,
                        *second,
                        match *nth {
                            1 => pointer.clone(),
                            n => format!("{pointer}#{n}"),
                        },
                        format!("key `{key}` appears twice in this mapping"),
                    )
                    .help("Kubernetes keeps only the last value; remove one of them")
                    .related(&path, *first, "first defined here"),
                );
            }
        }
    }
}
