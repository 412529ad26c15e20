//! ## What it does
//! Checks that `metadata.name` is a DNS-1123 subdomain (lower case letters, digits, `-` and `.`,
//! starting and ending with a letter or digit, at most 253 characters), and that a CodeRepo is
//! named `repo-<number>`.
//!
//! ## Why is this bad?
//! The Kubernetes API rejects the resource; for a CodeRepo Nautes fails with "the codeRepo name
//! %s is illegal and must be in the format 'repo-ID'" because the number is the GitLab project id.
//!
//! ## Example
//! ```yaml
//! kind: Environment
//! metadata: {name: Env-QA}
//! ```
//!
//! ## How to fix
//! Use a lower-case name (`env-qa`) and update its references; name a CodeRepo after its GitLab
//! project id (`repo-42`).

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "invalid-name",
    Error,
    Tree,
    "metadata.name is a DNS-1123 subdomain; a CodeRepo is named repo-<number>"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        for r in &ctx.model.resources {
            let name = r.name.as_str();
            if !super::is_dns1123_subdomain(name) {
                let lower = name.to_ascii_lowercase().replace('_', "-");
                let help = if super::is_dns1123_subdomain(&lower) {
                    format!("use `{lower}`: lower case letters, digits, `-` and `.` only")
                } else {
                    "use lower case letters, digits, `-` and `.`, starting and ending with a letter or digit".to_owned()
                };
                out.push(
                    Finding::at(
                        &META,
                        r,
                        &r.name,
                        format!("`{name}` is not a valid Kubernetes name (DNS-1123 subdomain)"),
                    )
                    .help(help),
                );
            } else if r.kind == Kind::CodeRepo
                && !name
                    .strip_prefix("repo-")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            {
                out.push(
                    Finding::at(&META, r, &r.name, format!("the code repo name `{name}` is illegal: it must be `repo-<GitLab project id>`"))
                        .help("name the CodeRepo (and its folder) after the GitLab project id, e.g. `repo-42`"),
                );
            }
        }
    }
}
