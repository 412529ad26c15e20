//! JUnit XML, for GitLab's `artifacts:reports:junit` (and any JUnit viewer): one test suite, one
//! test case per checked file, a `<failure>` per error finding with its location in the text.
//! Warnings do not fail a test case; they are listed in its `<system-out>`.
//!
//! Written by hand rather than with `quick-junit`: the format is a few elements, and that crate
//! brings chrono, uuid, quick-xml and an ANSI stripper for them.
//!
//! GitLab (its Nokogiri parser) shows the text of a test case's first `<failure>` only, so the
//! first failure of a file also lists the file's other errors; the MR widget counts failed test
//! cases, i.e. files with errors. Test cases are named by path with the classname `nautes-lint`,
//! which keeps GitLab's key (suite, classname, name) stable between the source and target
//! branches, so the widget can say which files newly fail.

use crate::diagnostic::{Diagnostic, Severity};
use crate::engine::Report;
use std::collections::BTreeMap;
use std::fmt::Write;

const SUITE: &str = "nautes-lint";

pub fn render(report: &Report) -> String {
    // Every checked file, plus any file a finding points at outside them (a cluster inventory).
    let mut files: BTreeMap<&str, Vec<&Diagnostic>> =
        report.paths.iter().map(|p| (&**p, Vec::new())).collect();
    for d in &report.diagnostics {
        files.entry(&*d.path).or_default().push(d);
    }
    let failures = files
        .values()
        .filter(|ds| ds.iter().any(|d| d.severity == Severity::Error))
        .count();
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let counts = format!(
        "tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"0\"",
        files.len()
    );
    let _ = writeln!(out, "<testsuites name=\"{SUITE}\" {counts}>");
    let _ = writeln!(out, "  <testsuite name=\"{SUITE}\" {counts}>");
    for (path, diags) in &files {
        testcase(&mut out, path, diags);
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn testcase(out: &mut String, path: &str, diags: &[&Diagnostic]) {
    let p = attr(path);
    let _ = write!(
        out,
        "    <testcase name=\"{p}\" classname=\"{SUITE}\" file=\"{p}\" time=\"0\""
    );
    if diags.is_empty() {
        out.push_str("/>\n");
        return;
    }
    out.push_str(">\n");
    let errors: Vec<&Diagnostic> = diags
        .iter()
        .copied()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    for (i, d) in errors.iter().enumerate() {
        let mut body = one(d);
        if i == 0 && errors.len() > 1 {
            body.push_str("\n\nother errors in this file:");
            for other in &errors[1..] {
                let (line, col, _, _) = other.line_col();
                let _ = write!(
                    body,
                    "\n{}:{line}:{col}: [{}] {}",
                    other.path, other.rule, other.message
                );
            }
        }
        let _ = writeln!(
            out,
            "      <failure type=\"{}\" message=\"{}\">{}</failure>",
            attr(d.rule.id),
            attr(&d.message),
            text(&body)
        );
    }
    let warnings: Vec<String> = diags
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| one(d))
        .collect();
    if !warnings.is_empty() {
        let _ = writeln!(
            out,
            "      <system-out>{}</system-out>",
            text(&warnings.join("\n\n"))
        );
    }
    out.push_str("    </testcase>\n");
}

/// A finding as a few lines of text: where, what, the help and related places.
fn one(d: &Diagnostic) -> String {
    let (line, col, _, _) = d.line_col();
    let mut s = format!(
        "{}:{line}:{col}: {}[{}] {}",
        d.path,
        d.severity.as_str(),
        d.rule,
        d.message
    );
    if let Some(h) = &d.help {
        let _ = write!(s, "\nhelp: {h}");
    }
    for r in &d.related {
        let (line, col, _, _) = crate::diagnostic::line_col(r.span);
        let _ = write!(
            s,
            "\nnote: {}: {}:{line}:{col}{}",
            r.message,
            r.path,
            r.origin.note()
        );
    }
    s
}

/// Escapes element text. Characters XML 1.0 cannot carry at all (most control characters) become
/// U+FFFD: a finding may quote a file's bytes, and one stray byte must not make the whole report
/// unparsable.
fn text(s: &str) -> String {
    escape(s, false)
}

/// Escapes an attribute value; line breaks and tabs are written as references so they survive
/// attribute-value normalisation.
fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' | '\t' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::diagnostic::{Diagnostic, Severity};
    use crate::engine::Report;
    use crate::yaml::{Pos, Span};

    fn diag(rule: &'static str, severity: Severity, line: u32, message: &str) -> Diagnostic {
        let start = Pos {
            index: 0,
            line,
            col: 2,
        };
        Diagnostic {
            rule: crate::rules::find(rule).expect("a rule id"),
            severity,
            path: "runtimes/dr-dev.yaml".into(),
            span: Span { start, end: start },
            pointer: String::new(),
            message: message.into(),
            help: Some("do <this>".into()),
            resource: None,
            related: Vec::new(),
            new: None,
            fingerprint: format!("{rule}{line}"),
            fix: None,
        }
    }

    #[test]
    fn several_findings_in_one_file() {
        let report = Report {
            paths: vec!["envs/env-dev.yaml".into(), "runtimes/dr-dev.yaml".into()],
            diagnostics: vec![
                diag("dr-duplicate", Severity::Error, 3, "first & <one>"),
                diag("dr-manifest-path", Severity::Warning, 4, "a warning"),
                diag(
                    "dr-invalid-namespace",
                    Severity::Error,
                    7,
                    "second \u{1b}[31m",
                ),
            ],
            ..Report::default()
        };
        let xml = super::render(&report);
        assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
        assert!(xml.contains("<testcase name=\"envs/env-dev.yaml\" classname=\"nautes-lint\" file=\"envs/env-dev.yaml\" time=\"0\"/>"), "{xml}");
        assert_eq!(xml.matches("<failure ").count(), 2, "{xml}");
        // The first failure also lists the file's other errors: GitLab shows only the first.
        assert!(
            xml.contains("runtimes/dr-dev.yaml:3:3: error[dr-duplicate] first &amp; &lt;one&gt;\nhelp: do &lt;this&gt;\n\nother errors in this file:\nruntimes/dr-dev.yaml:7:3: [dr-invalid-namespace] second \u{fffd}[31m</failure>"),
            "{xml}"
        );
        assert!(
            xml.contains("<system-out>runtimes/dr-dev.yaml:4:3: warning[dr-manifest-path] a warning\nhelp: do &lt;this&gt;</system-out>"),
            "{xml}"
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(super::text("a<b & \"c\"\n"), "a&lt;b &amp; \"c\"\n");
        assert_eq!(super::attr("a\"b\nc\td"), "a&quot;b&#10;c&#9;d");
        assert_eq!(super::text("x\u{1}y\u{ffff}"), "x\u{fffd}y\u{fffd}");
        assert_eq!(super::text("é日本"), "é日本");
    }
}
