//! Output formats. Each renders the same [`Report`](crate::Report); none of them checks anything.

pub mod gitlab;
pub mod human;
pub mod json;
pub mod junit;
pub mod reviewdog;
pub mod sarif;

use crate::diagnostic::{Diagnostic, Severity};
use crate::engine::Report;
use std::collections::HashMap;

/// Errors that the base revision did not have (all errors when nothing was compared).
/// `1 error`, `2 errors`: every count a person reads goes through here.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub fn new_errors(report: &Report) -> usize {
    report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error && d.new != Some(false))
        .count()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Format {
    /// Text for people, rustc-style.
    Human,
    /// The JSON contract the webhook and the tests use.
    Json,
    /// SARIF 2.1.0 (code scanning).
    Sarif,
    /// JUnit XML (GitLab `artifacts:reports:junit`).
    Junit,
    /// GitLab Code Quality JSON (`artifacts:reports:codequality`).
    Gitlab,
    /// reviewdog's diagnostics as JSON Lines (`reviewdog -f=rdjsonl`).
    Reviewdog,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Human => "human",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Junit => "junit",
            Format::Gitlab => "gitlab",
            Format::Reviewdog => "reviewdog",
        }
    }
}

/// One fingerprint per diagnostic, unique within the report and stable across runs.
///
/// [`Diagnostic::fingerprint`] is already stable (rule, path, resource, node, message); two
/// findings can share it only when they say the same thing about the same node. The second and
/// later of those get the fingerprint hashed with their rank, which is stable too because the
/// diagnostics are sorted.
pub fn unique_fingerprints(diags: &[Diagnostic]) -> Vec<String> {
    use sha2::{Digest, Sha256};
    let mut seen: HashMap<&str, usize> = HashMap::new();
    diags
        .iter()
        .map(|d| {
            let n = seen.entry(d.fingerprint.as_str()).or_insert(0);
            *n += 1;
            if *n == 1 {
                d.fingerprint.clone()
            } else {
                let digest = Sha256::new()
                    .chain_update(d.fingerprint.as_bytes())
                    .chain_update([0])
                    .chain_update(n.to_string().as_bytes())
                    .finalize();
                digest[..12].iter().map(|b| format!("{b:02x}")).collect()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Severity;
    use crate::yaml::Span;

    pub(crate) fn diag(rule: &'static str, path: &str, fingerprint: &str) -> Diagnostic {
        Diagnostic {
            rule: crate::rules::find(rule).expect("a rule id"),
            severity: Severity::Error,
            path: path.into(),
            span: Span::file_start(),
            pointer: String::new(),
            message: "m".into(),
            help: None,
            resource: None,
            related: Vec::new(),
            new: None,
            fingerprint: fingerprint.into(),
            fix: None,
        }
    }

    #[test]
    fn repeated_fingerprints_are_made_unique_and_stay_stable() {
        let diags = [
            diag("empty-file", "x", "f1"),
            diag("empty-file", "x", "f1"),
            diag("yaml-syntax", "y", "f2"),
            diag("empty-file", "x", "f1"),
        ];
        let fps = unique_fingerprints(&diags);
        assert_eq!(fps[0], "f1");
        assert_eq!(fps[2], "f2");
        let set: std::collections::HashSet<_> = fps.iter().collect();
        assert_eq!(set.len(), 4);
        assert_eq!(fps, unique_fingerprints(&diags));
    }
}
