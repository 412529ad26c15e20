//! ## What it does
//! Checks that a CodeRepo's `url`, when set, is an SSH git URL: `git@host:path.git` or
//! `ssh://git@host:path.git`.
//!
//! ## Why is this bad?
//! Nautes: "the url %s is illegal". Nautes clones with SSH deploy keys; an HTTPS URL cannot be
//! used.
//!
//! ## Example
//! ```yaml
//! spec:
//!   url: https://gitlab.example.com/group/api.git
//! ```
//!
//! ## How to fix
//! Use the SSH form: `git@gitlab.example.com:group/api.git`.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "coderepo-invalid-url",
    Error,
    Tree,
    "url is an SSH git URL (git@host:path.git)"
);

/// `^(ssh://)?git@host:path.git$`, with a host of letters, digits, `.`, `-` and an optional port.
pub fn is_ssh_git_url(url: &str) -> bool {
    let rest = url.strip_prefix("ssh://").unwrap_or(url);
    let Some(rest) = rest.strip_prefix("git@") else {
        return false;
    };
    let Some((host, path)) = rest.split_once(':') else {
        return false;
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    let path_ok =
        path.len() > 4 && path.ends_with(".git") && !path.chars().any(char::is_whitespace);
    host_ok && path_ok
}

/// The SSH form of an HTTPS clone URL, for the help line.
fn ssh_form(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    let path = if path.ends_with(".git") {
        path.to_owned()
    } else {
        format!("{path}.git")
    };
    Some(format!("git@{host}:{path}"))
}

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        for r in ctx.model.of_kind(Kind::CodeRepo) {
            let Some(url) = r.code_repo().and_then(|c| c.url.as_ref()) else {
                continue;
            };
            if !url.value.is_empty() && !is_ssh_git_url(&url.value) {
                let help = ssh_form(&url.value)
                    .map(|s| format!("use the SSH form: `{s}`"))
                    .unwrap_or_else(|| "use the SSH form `git@host:group/project.git`".into());
                out.push(
                    Finding::at(
                        &META,
                        r,
                        url,
                        format!(
                            "the url `{}` is illegal: Nautes needs an SSH git URL",
                            url.value
                        ),
                    )
                    .help(help),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls() {
        assert!(super::is_ssh_git_url(
            "git@gitlab.example.com:group/api.git"
        ));
        assert!(super::is_ssh_git_url(
            "ssh://git@gitlab.example.com:group/sub/api.git"
        ));
        assert!(!super::is_ssh_git_url(
            "https://gitlab.example.com/group/api.git"
        ));
        assert!(!super::is_ssh_git_url("git@gitlab.example.com:group/api"));
        assert_eq!(
            super::ssh_form("https://h.io/g/p.git").as_deref(),
            Some("git@h.io:g/p.git")
        );
    }
}
