//! GitLab Code Quality JSON, for `artifacts:reports:codequality`: an array of
//! `{description, check_name, fingerprint, severity, location: {path, lines: {begin}}}`.
//!
//! GitLab compares the fingerprints of the merge request's report with the target branch's to
//! show new and resolved findings, so a fingerprint must be unique in a report and identical for
//! the same finding in the next run: it is the finding's stable fingerprint (never a line number),
//! made unique by [`super::unique_fingerprints`]. serde_json never writes a byte-order mark, which
//! GitLab's parser rejects.

use crate::diagnostic::Severity;
use crate::engine::Report;
use serde_json::{Value, json};

/// Code Quality severities are `info`, `minor`, `major`, `critical`, `blocker`. An error is
/// `major`: it fails the job (and Nautes would refuse the repository or the resource), but the
/// scale keeps `critical` and `blocker` for security tools. A warning is `minor`.
pub fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "major",
        Severity::Warning => "minor",
    }
}

pub fn render(report: &Report) -> String {
    let fingerprints = super::unique_fingerprints(&report.diagnostics);
    let issues: Vec<Value> = report
        .diagnostics
        .iter()
        .zip(fingerprints)
        .map(|(d, fingerprint)| {
            let (line, _, end_line, _) = d.line_col();
            let mut description = d.message.clone();
            if let Some(h) = &d.help {
                description.push_str(" (help: ");
                description.push_str(h);
                description.push(')');
            }
            json!({
                "type": "issue",
                "engine_name": "nautes-lint",
                "check_name": d.rule,
                "description": description,
                "severity": severity(d.severity),
                "fingerprint": fingerprint,
                "location": {
                    "path": &*d.path,
                    "lines": {"begin": line, "end": end_line},
                },
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&issues).expect("a JSON value serialises");
    s.push('\n');
    s
}
