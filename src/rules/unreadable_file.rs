//! ## What it does
//! Reports a file in a layout folder that cannot be read: a symlink that points outside the
//! repository, to a folder or nowhere; a file larger than the limit (1 MiB); an I/O error.
//!
//! ## Why is this bad?
//! Nautes' loader reads every file under `envs/`, `runtimes/`, `projects/` and `code-repos/` and
//! fails the whole product when one cannot be read. A symlink out of the tree is also a way to make
//! a tool read files it should not. **beyond**
//!
//! ## Example
//! ```text
//! runtimes/outside.yaml -> ../../../etc/hostname
//! ```
//!
//! ## How to fix
//! Replace the symlink by the file itself, or remove it; split or shrink a file over the limit.
//!
//! The engine emits this finding itself while reading the tree.

use super::{Rule, RuleMeta};
use crate::diagnostic::Finding;

super::meta!(
    "unreadable-file",
    Error,
    Tree,
    "a file in a layout folder cannot be read (symlink out of the tree, too large, I/O error)"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }
}

/// The finding for file `file` at `path`, which cannot be read for the reason `problem`.
pub fn finding(file: u32, path: &str, problem: &str) -> Finding {
    Finding::new(
        &META,
        file,
        crate::yaml::Span::file_start(),
        "",
        format!("`{path}` {problem}"),
    )
}
