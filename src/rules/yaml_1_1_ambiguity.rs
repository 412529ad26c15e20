//! ## What it does
//! Flags a plain (unquoted) scalar that Go's YAML 1.1 decoder, used by Kubernetes, reads as a
//! boolean or a number where the field is a string: `yes`, `no`, `on`, `off`, `y`, `n`, `0755`,
//! `1e3`, `1_000`, `1:30`.
//!
//! ## Why is this bad?
//! This tool (YAML 1.2) and a human read `envType: yes` as the string "yes"; the cluster reads
//! the boolean `true` and rejects the resource, or stores something else than was written. **beyond**
//!
//! ## Example
//! ```yaml
//! spec:
//!   envType: yes
//! ```
//!
//! ## How to fix
//! Quote the value: `envType: "yes"`. `nautes-lint check --fix` does it: it wraps the plain
//! scalar in double quotes and touches nothing else, so the cluster reads the same string this
//! tool (and the schema) already reads.

use super::{FileCtx, Rule, RuleMeta};
use crate::diagnostic::{Finding, Fix};
use crate::schema::SchemaErrorKind;
use crate::yaml::{Node, NodeKind, Scalar, Style, yaml11_reading};
use std::collections::HashSet;

super::meta!(
    "yaml-1.1-ambiguity",
    Warning,
    Tree,
    "a plain scalar in a string field that YAML 1.1 reads as a bool or number",
    true
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_file(&self, ctx: &FileCtx<'_>, out: &mut Vec<Finding>) {
        let Some(root) = ctx.root else { return };
        if ctx.kind.is_none() {
            return;
        }
        let mut flagged = HashSet::new();
        // Numbers YAML 1.2 already reads as numbers where a string belongs (0755, 1e3).
        for e in ctx
            .schema_errors
            .iter()
            .filter(|e| e.kind == SchemaErrorKind::ExpectedString)
        {
            if super::schema_violation::is_plain_scalar(root, &e.pointer)
                && flagged.insert(e.pointer.clone())
            {
                let span = root.pointer_span(&e.pointer).unwrap_or(root.span);
                let text = &ctx.text[span.byte_range(ctx.text)];
                out.push(finding(ctx, span, &e.pointer, text, "a number"));
            }
        }
        // Strings in YAML 1.2 that YAML 1.1 reads otherwise (yes, on, 1_000).
        let errors: HashSet<&str> = ctx
            .schema_errors
            .iter()
            .map(|e| e.pointer.as_str())
            .collect();
        let mut stack: Vec<(&Node, String)> = vec![(root, String::new())];
        while let Some((node, ptr)) = stack.pop() {
            match &node.kind {
                NodeKind::Map(entries) => {
                    for e in entries {
                        let key = crate::yaml::pointer_token(&e.key);
                        stack.push((&e.value, format!("{ptr}/{key}")));
                    }
                }
                NodeKind::Seq(items) => {
                    for (i, n) in items.iter().enumerate() {
                        stack.push((n, format!("{ptr}/{i}")));
                    }
                }
                NodeKind::Scalar {
                    value: Scalar::Str(s),
                    style: Style::Plain,
                    ..
                } => {
                    if let Some(reading) = yaml11_reading(s)
                        && !errors.contains(ptr.as_str())
                        && !flagged.contains(&ptr)
                    {
                        out.push(finding(ctx, node.span, &ptr, s, reading));
                    }
                }
                NodeKind::Scalar { .. } => {}
            }
        }
    }
}

fn finding(
    ctx: &FileCtx<'_>,
    span: crate::yaml::Span,
    pointer: &str,
    text: &str,
    reading: &str,
) -> Finding {
    let mut f = Finding::new(
        &META,
        ctx.file,
        span,
        pointer,
        format!("`{text}` is read as {reading} by Kubernetes' YAML 1.1 decoder, not as the string it looks like"),
    )
    .help(format!("quote it: \"{text}\""))
    .fix(ctx.root.and_then(|root| fix(ctx.text, root, pointer, span)));
    if let Some(r) = ctx.resource {
        f = f.resource(r);
    }
    f
}

/// `envType: yes` -> `envType: "yes"`.
fn fix(text: &str, root: &Node, pointer: &str, span: crate::yaml::Span) -> Option<Fix> {
    let (_, range, style) = crate::fix::scalar_at(text, root, pointer, span)?;
    if style != Style::Plain {
        return None;
    }
    let value = &text[range.clone()];
    // The values this rule flags are words and numbers; anything that would need escaping is not
    // what the finding was about.
    if value.contains(['"', '\\']) || value.chars().any(char::is_control) {
        return None;
    }
    Some(Fix {
        range,
        replacement: format!("\"{value}\""),
    })
}
