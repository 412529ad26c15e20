//! ## What it does
//! Flags a DeploymentRuntime whose `destination` is the pre-v0.3.6 plain string
//! (`destination: env-dev`) instead of `{environment: env-dev}`. A warning by default; an error
//! when the configured Nautes version (`--nautes-version`, `nautesVersion`) is 0.3.6 or later,
//! whose API no longer accepts the string.
//!
//! ## Why is this bad?
//! Nautes v0.3.6 (July 2023) changed the field to an object with `environment` and optional
//! `namespaces`. Clusters running a newer Nautes reject the old form.
//!
//! ## Example
//! ```yaml
//! spec:
//!   destination: env-dev
//! ```
//!
//! ## How to fix
//! `destination: {environment: env-dev}` (the namespaces default to the runtime's name).
//! `nautes-lint check --fix` rewrites it in the style of the mapping around it, editing only
//! the value: in a block mapping the value becomes a nested mapping one indentation step deeper,
//!
//! ```yaml
//! spec:
//!   destination:
//!     environment: env-dev
//! ```
//!
//! and in a flow mapping (`spec: {destination: env-dev}`) the flow mapping
//! `{environment: env-dev}`. Quotes around the value, comments and CRLF line ends are kept.

use super::{FileCtx, Rule, RuleMeta};
use crate::diagnostic::{Finding, Fix, Severity};
use crate::yaml::{self, Node, Span, Style};

super::meta!(
    "dr-legacy-destination",
    Warning,
    Tree,
    "destination is the pre-v0.3.6 plain string",
    true
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    // A file rule, though it reads only the resource: its fix needs the YAML tree.
    fn check_file(&self, ctx: &FileCtx<'_>, out: &mut Vec<Finding>) {
        let (Some(r), Some(root)) = (ctx.resource, ctx.root) else {
            return;
        };
        let Some(d) = r.dr() else { return };
        if !d.legacy_destination {
            return;
        }
        let Some(env) = &d.environment else { return };
        let mut f = Finding::at(
            &META,
            r,
            env,
            format!("`destination: {}` is the pre-v0.3.6 string form", env.value),
        )
        .help(format!(
            "write `destination: {{environment: {}}}`",
            env.value
        ))
        .fix(fix(ctx.text, root, &env.pointer, env.span));
        if ctx.nautes_version.is_some_and(|v| v >= (0, 3, 6)) {
            f.severity = Some(Severity::Error);
            f.message.push_str(", which Nautes 0.3.6 and later reject");
        }
        out.push(f);
    }
}

/// `destination: env-dev` -> `{environment: env-dev}` in the mapping's own style.
fn fix(text: &str, root: &Node, pointer: &str, span: Span) -> Option<Fix> {
    let (loc, range, style) = crate::fix::scalar_at(text, root, pointer, span)?;
    if style == Style::Block {
        return None;
    }
    let value = &text[range.clone()];
    let parent = loc.parent?;
    let key_span = loc.key_span?;
    let parent_start = yaml::char_to_byte(text, parent.span.start.index as usize);
    if text[parent_start..].starts_with('{') {
        return Some(Fix {
            range,
            replacement: format!("{{environment: {value}}}"),
        });
    }
    // Block style: from just after `destination:` to the end of the value, so no space is left
    // dangling at the end of the key's line; a comment after the value stays after it.
    let key_end = yaml::char_to_byte(text, key_span.end.index as usize);
    let between = text.get(key_end..range.start)?;
    let colon = between.find(':')?;
    let (before, after) = (&between[..colon], &between[colon + 1..]);
    if !before.chars().all(|c| c == ' ' || c == '\t') || !after.chars().all(char::is_whitespace) {
        return None;
    }
    let key_col = key_span.start.col as usize;
    let step = loc
        .parent_key_span
        .map(|p| key_col.saturating_sub(p.start.col as usize))
        .filter(|s| *s > 0)
        .unwrap_or(2);
    let newline = if line_ends_with_crlf(text, key_end) {
        "\r\n"
    } else {
        "\n"
    };
    let indent = " ".repeat(key_col + step);
    Some(Fix {
        range: key_end + colon + 1..range.end,
        replacement: format!("{newline}{indent}environment: {value}"),
    })
}

fn line_ends_with_crlf(text: &str, from: usize) -> bool {
    text[from..]
        .find('\n')
        .is_some_and(|nl| nl > 0 && text.as_bytes()[from + nl - 1] == b'\r')
}
