//! The rule catalogue as people read it: `rules`, `explain` and the generated `docs/rules.md`
//! all come from each rule's metadata and its module doc comment, so they cannot disagree.

use crate::rules::{Needs, REGISTRY, RuleMeta};
use std::fmt::Write;

/// What a rule needs beyond the tree, in words; "" for nothing.
fn needs(m: &RuleMeta) -> &'static str {
    match m.needs {
        Needs::Tree => "",
        Needs::Clusters => " (needs --clusters or --context)",
        Needs::Context => " (needs --context)",
        Needs::Base => " (needs a base revision)",
    }
}

fn fixable(m: &RuleMeta) -> &'static str {
    if m.fixable { " [fixable]" } else { "" }
}

/// `nautes-lint rules`: one line per rule.
pub fn list() -> String {
    let mut out = String::new();
    let width = REGISTRY
        .iter()
        .map(|r| r.meta().id.len())
        .max()
        .unwrap_or(0);
    for r in REGISTRY {
        let m = r.meta();
        let _ = writeln!(
            out,
            "{:<width$} {:<8} {}{}{}",
            m.id,
            m.severity.as_str(),
            m.summary,
            needs(m),
            fixable(m)
        );
    }
    out
}

/// What the **beyond** marker in a rule's documentation means.
const BEYOND: &str = "**beyond** marks a check Nautes itself does not make: nautes-lint catches what \
Nautes would only find later, in the cluster, or never.";

/// `nautes-lint explain ID`: a title line, then the rule's documentation, and what **beyond**
/// means when the documentation uses it.
pub fn explain(id: &str) -> Option<String> {
    let doc = crate::rules::doc(id)?;
    let m = crate::rules::find(id)?;
    let beyond = if doc.contains("**beyond**") {
        format!("\n{BEYOND}\n")
    } else {
        String::new()
    };
    Some(format!(
        "# {} ({}, default severity {})\n\n{}\n{beyond}",
        m.id,
        m.summary,
        m.severity.as_str(),
        doc
    ))
}

/// The generated `docs/rules.md`: a table of every rule, then each rule's documentation, the
/// text `explain` prints, with its headings one level down. Only the doc test writes it
/// (`UPDATE_DOCS=1`) and compares it with the committed file.
#[cfg(test)]
pub(crate) fn markdown() -> String {
    let mut out = format!(
        "# Rules\n\n\
         <!-- Generated from each rule's documentation (the `//!` comment of src/rules/<rule>.rs,\n     \
         what `nautes-lint explain RULE` prints). Do not edit: change the rule's comment, then run\n     \
         `UPDATE_DOCS=1 cargo test --lib cli::doc_tests`. -->\n\n\
         `nautes-lint rules` lists these rules; `nautes-lint explain RULE` prints one of them. Severities\n\
         can be changed in `.nautes-lint.yaml` (`rules: {{RULE: off|warning|error}}`). {BEYOND}\n\n\
         | rule | default severity | what it checks |\n|---|---|---|\n",
    );
    for r in REGISTRY {
        let m = r.meta();
        let _ = writeln!(
            out,
            "| [`{}`](#{}) | {} | {}{}{} |",
            m.id,
            anchor(m.id),
            m.severity.as_str(),
            m.summary,
            needs(m),
            fixable(m),
        );
    }
    for r in REGISTRY {
        let m = r.meta();
        let doc = m.doc();
        let _ = write!(
            out,
            "\n## {}\n\nDefault severity: {}{}{}.\n\n{}\n",
            m.id,
            m.severity.as_str(),
            needs(m),
            fixable(m),
            demote_headings(doc.trim_end())
        );
    }
    out
}

/// The anchor GitHub and GitLab give a heading: lower case, punctuation other than `-` and `_`
/// dropped (`yaml-1.1-ambiguity` -> `yaml-11-ambiguity`).
#[cfg(test)]
fn anchor(heading: &str) -> String {
    heading
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Adds a `#` to every Markdown heading outside fenced code (a YAML comment in an example is
/// no heading).
#[cfg(test)]
fn demote_headings(doc: &str) -> String {
    let mut in_code = false;
    let mut out = String::new();
    for line in doc.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if !in_code && line.starts_with('#') {
            out.push('#');
        }
        out.push_str(line);
        out.push('\n');
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explain_says_what_beyond_means_where_a_rule_uses_it() {
        let beyond = explain("folder-count").expect("a rule");
        assert!(beyond.trim_end().ends_with(BEYOND), "{beyond}");
        let plain = explain("dr-environment-not-found").expect("a rule");
        assert!(!plain.contains("**beyond**"), "{plain}");
        assert!(markdown().contains(BEYOND));
    }

    #[test]
    fn the_list_keeps_its_columns_whatever_the_longest_id() {
        let list = list();
        let severity_at: Vec<usize> = list
            .lines()
            .map(|l| {
                let id = l.split(' ').next().expect("an id");
                id.len() + l[id.len()..].len() - l[id.len()..].trim_start().len()
            })
            .collect();
        assert!(severity_at.windows(2).all(|w| w[0] == w[1]), "{list}");
    }

    #[test]
    fn anchors_drop_dots() {
        assert_eq!(anchor("yaml-1.1-ambiguity"), "yaml-11-ambiguity");
        assert_eq!(anchor("dr-duplicate"), "dr-duplicate");
    }

    #[test]
    fn headings_go_down_a_level_but_code_stays() {
        let doc = "## What it does\ntext\n```yaml\n# a comment\n```\n## How to fix";
        assert_eq!(
            demote_headings(doc),
            "### What it does\ntext\n```yaml\n# a comment\n```\n### How to fix"
        );
    }

    #[test]
    fn every_rule_has_a_section_with_its_explain_text() {
        let md = markdown();
        for r in REGISTRY {
            let id = r.meta().id;
            assert!(md.contains(&format!("\n## {id}\n")), "{id}");
            let body = crate::rules::doc(id).expect("documented");
            let first = body.lines().nth(1).expect("a line after the heading");
            assert!(md.contains(first), "{id}: {first}");
        }
    }
}
