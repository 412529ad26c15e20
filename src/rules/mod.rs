//! The rule catalogue. One file per rule; its module doc comment is what `explain` prints (the
//! build script collects them). Adding a rule: a file here, a line in the `catalogue!` list, a
//! fixture in `fixtures/invalid/<id>/` (ARCHITECTURE.md, "Adding a rule").
//!
//! A rule's identity is its `&'static RuleMeta`: findings, diagnostics, levels and suppressions
//! carry it, not a string. Only a rule module can make a `RuleMeta` (its `_sealed` field is private
//! to this module and its children), and a rule module exists only through the `catalogue!`
//! list, which also builds [`REGISTRY`]: a finding of a rule the engine does not know cannot be
//! written.

use crate::diagnostic::{Finding, Severity};
use crate::model::{Cluster, Kind, Model, Resource};
use crate::yaml::{Node, Parsed};
use std::collections::HashMap;

/// Declares a rule's metadata in one line.
macro_rules! meta {
    ($id:literal, $sev:ident, $needs:ident, $summary:literal) => {
        $crate::rules::meta!($id, $sev, $needs, $summary, false);
    };
    ($id:literal, $sev:ident, $needs:ident, $summary:literal, $fixable:literal) => {
        pub static META: $crate::rules::RuleMeta = $crate::rules::RuleMeta {
            id: $id,
            severity: $crate::diagnostic::Severity::$sev,
            summary: $summary,
            needs: $crate::rules::Needs::$needs,
            fixable: $fixable,
            _sealed: (),
        };
        pub struct Check;
    };
}
pub(crate) use meta;

/// The one list of rules: declares each rule's module and builds [`REGISTRY`] in this order.
macro_rules! catalogue {
    ($($rule:ident),* $(,)?) => {
        $(pub(crate) mod $rule;)*

        /// Every rule, in catalogue order.
        pub static REGISTRY: &[&dyn Rule] = &[$(&$rule::Check),*];

        /// One test per rule: its fixture, in-process.
        #[cfg(test)]
        mod fixtures {
            $(
                #[test]
                fn $rule() {
                    super::fixture_tests::check(&super::$rule::META);
                }
            )*
        }
    };
}

catalogue! {
    unreadable_file,
    yaml_syntax,
    yaml_duplicate_key,
    empty_file,
    multiple_documents,
    unknown_kind,
    misplaced_resource,
    directory_name_mismatch,
    folder_count,
    duplicate_name,
    schema_violation,
    invalid_name,
    yaml_1_1_ambiguity,
    invalid_suppression,
    product_mismatch,
    dr_legacy_destination,
    dr_environment_not_found,
    dr_coderepo_not_found,
    dr_project_not_found,
    dr_project_not_permitted,
    dr_duplicate,
    dr_invalid_namespace,
    dr_manifest_path,
    dr_cluster_not_deployment,
    dr_component_namespace,
    dr_namespace_used_by_other_product,
    dr_destination_changed,
    env_cluster_not_found,
    env_duplicate_cluster,
    coderepo_project_not_found,
    coderepo_invalid_webhook_event,
    coderepo_invalid_url,
    coderepo_missing_provider,
    binding_coderepo_not_found,
    binding_project_not_found,
    ppr_project_not_found,
    ppr_environment_not_found,
    ppr_coderepo_not_found,
    ppr_coderepo_not_permitted,
    ppr_duplicate_item,
    ppr_unknown_trigger_reference,
    ppr_duplicate,
}

pub mod permission;

#[cfg(test)]
mod fixture_tests;

/// What a rule needs beyond the tree itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Tree,
    /// A cluster inventory (`--clusters`, or a tenant context's); skipped without one.
    Clusters,
    /// Other products' namespace claims (`--context`); skipped without them.
    Context,
    /// A base revision (`--base`, hooks); skipped without one.
    Base,
}

/// A rule's identity and metadata. Compared, hashed and ordered by id (ids are unique), so the
/// output's order by rule is the order of the ids.
#[derive(Debug)]
#[expect(clippy::manual_non_exhaustive)]
pub struct RuleMeta {
    pub id: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    pub needs: Needs,
    /// Whether `--fix` can repair it.
    pub fixable: bool,
    /// Keeps the construction of a `RuleMeta` to the rule modules (see the module doc); not
    /// `#[non_exhaustive]`, which would only keep it to this crate.
    _sealed: (),
}

impl RuleMeta {
    /// The rule's documentation, from its module doc comment.
    pub fn doc(&self) -> &'static str {
        doc(self.id).unwrap_or_default()
    }
}

impl PartialEq for RuleMeta {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for RuleMeta {}

impl std::hash::Hash for RuleMeta {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl PartialOrd for RuleMeta {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RuleMeta {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.id.cmp(other.id)
    }
}

/// A rule is written out as its id.
impl serde::Serialize for RuleMeta {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id)
    }
}

impl std::fmt::Display for RuleMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id)
    }
}

/// A file on its own, while its YAML tree is still alive.
pub struct FileCtx<'a> {
    pub file: u32,
    pub path: &'a str,
    pub text: &'a str,
    pub parsed: &'a Parsed,
    /// The single document's root, when the file has exactly one.
    pub root: Option<&'a Node>,
    pub kind: Option<Kind>,
    pub resource: Option<&'a Resource>,
    pub schema_errors: &'a [crate::schema::SchemaError],
    pub strict: bool,
    pub nautes_version: Option<(u32, u32, u32)>,
}

/// The whole tree, after every file was parsed.
pub struct TreeCtx<'a> {
    pub model: &'a Model,
    pub product: Option<&'a str>,
    pub clusters: Option<&'a HashMap<String, Cluster>>,
    /// Other products' namespace claims, from a tenant context.
    pub namespaces: Option<&'a crate::context::NamespaceIndex>,
    /// The model of the base revision, when one is compared.
    pub base: Option<&'a Model>,
    pub nautes_version: Option<(u32, u32, u32)>,
}

pub trait Rule: Sync {
    fn meta(&self) -> &'static RuleMeta;
    /// Per-file checks, run in parallel while the file's YAML tree exists.
    fn check_file(&self, _ctx: &FileCtx<'_>, _out: &mut Vec<Finding>) {}
    /// Cross-resource checks over the indexed tree.
    fn check_tree(&self, _ctx: &TreeCtx<'_>, _out: &mut Vec<Finding>) {}
}

/// The rule with this id (a user's word: `explain`, `rules:` of the config, an ignore annotation).
pub fn find(id: &str) -> Option<&'static RuleMeta> {
    REGISTRY.iter().map(|r| r.meta()).find(|m| m.id == id)
}

pub fn ids() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().map(|r| r.meta().id)
}

/// The rule's documentation, from its module doc comment.
pub fn doc(id: &str) -> Option<&'static str> {
    DOCS.iter().find(|(i, _)| *i == id).map(|(_, d)| *d)
}

include!(concat!(env!("OUT_DIR"), "/rule_docs.rs"));

/// "did you mean `x`?" for a name of `kind` that does not exist.
pub fn did_you_mean(model: &Model, kind: Kind, wrong: &str) -> Option<String> {
    model
        .suggest(kind, wrong)
        .as_deref()
        .map(crate::suggest::phrase)
}

/// What a `*-not-found` rule checks: the references of resources of kind `from` to resources of
/// kind `to`, each of which must exist.
pub struct References {
    pub rule: &'static RuleMeta,
    pub from: Kind,
    pub to: Kind,
    /// The target in words, for the message ("environment").
    pub what: &'static str,
    /// The help line when no close name exists.
    pub help: &'static str,
}

impl References {
    /// Reports every reference `refs` yields (per resource of `from`) that names no resource.
    pub fn check<'m, I>(
        &self,
        ctx: &TreeCtx<'m>,
        out: &mut Vec<Finding>,
        refs: impl Fn(&'m Resource) -> I,
    ) where
        I: IntoIterator<Item = &'m crate::model::SpStr>,
    {
        for r in ctx.model.of_kind(self.from) {
            for at in refs(r) {
                if ctx.model.get(self.to, &at.value).is_none() {
                    out.push(not_found(
                        self.rule, ctx, r, at, self.to, self.what, self.help,
                    ));
                }
            }
        }
    }
}

/// Where a DeploymentRuntime lands: the environment it names, that Environment, the cluster
/// reference in it and the Cluster of the inventory. `None` when any link is missing (other rules
/// report those) or no inventory was given.
pub struct Placement<'m> {
    pub env_ref: &'m crate::model::SpStr,
    pub env: &'m Resource,
    pub cluster_ref: &'m crate::model::SpStr,
    pub cluster: &'m Cluster,
}

pub fn placement<'m>(ctx: &TreeCtx<'m>, r: &'m Resource) -> Option<Placement<'m>> {
    let env_ref = r.dr()?.environment.as_ref()?;
    let env = ctx.model.get(Kind::Environment, &env_ref.value)?;
    let cluster_ref = env.env()?.cluster.as_ref()?;
    let cluster = ctx.clusters?.get(&cluster_ref.value)?;
    Some(Placement {
        env_ref,
        env,
        cluster_ref,
        cluster,
    })
}

/// Code repos are referenced by id (`repo-42`) but people write the GitLab name (`api-server`),
/// which the CodeRepo keeps in `spec.repoName`.
fn by_repo_name(model: &Model, kind: Kind, wrong: &str) -> Option<String> {
    if kind != Kind::CodeRepo {
        return None;
    }
    let repo = model.code_repo_by_repo_name(wrong)?;
    Some(format!(
        "code repos are referenced by id: `{wrong}` is `{}`",
        repo.name.value
    ))
}

/// A reference of `from` to a `kind` named `name` that does not exist: the finding, with a
/// "did you mean" when a close name exists, and the deleted resource when the base revision had it.
pub fn not_found(
    rule: &'static RuleMeta,
    ctx: &TreeCtx<'_>,
    from: &Resource,
    at: &crate::model::SpStr,
    kind: Kind,
    what: &str,
    fallback_help: &str,
) -> Finding {
    let mut f = Finding::at(
        rule,
        from,
        at,
        format!("{what} `{}` does not exist", at.value),
    )
    .maybe_help(
        by_repo_name(ctx.model, kind, &at.value)
            .or_else(|| did_you_mean(ctx.model, kind, &at.value))
            .or_else(|| Some(fallback_help.to_owned())),
    );
    if let Some(base) = ctx.base
        && let Some(gone) = base.get(kind, &at.value)
    {
        f.message = format!(
            "{what} `{}` does not exist: this change deletes it",
            at.value
        );
        f = f.related_base(
            &base.paths[gone.file as usize],
            gone.name.span,
            format!("{kind} `{}` was defined here before this change", at.value),
        );
        f.help = Some(format!(
            "restore {what} `{}` or remove this reference",
            at.value
        ));
    }
    f
}

pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// Whether `path` is where the layout puts `kind` (`runtimes/x.yaml`, `projects/p/x.yaml`).
pub fn placed_right(kind: Kind, path: &str) -> bool {
    let (top, depth) = kind.layout();
    let parts: Vec<&str> = path.split('/').collect();
    parts.len() == depth && parts[0] == top
}

/// The resource's folder under `projects/` or `code-repos/` when it is placed right.
pub fn folder_of(kind: Kind, path: &str) -> Option<&str> {
    if !placed_right(kind, path) || kind.layout().1 != 3 {
        return None;
    }
    path.split('/').nth(1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_rule_is_documented_once_with_the_four_sections() {
        let mut ids: Vec<&str> = super::ids().collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "rule ids are unique");
        assert_eq!(super::DOCS.len(), n, "one documented file per rule");
        for id in ids {
            let doc = super::doc(id).unwrap_or_else(|| panic!("{id} has no doc comment"));
            for section in [
                "## What it does",
                "## Why is this bad?",
                "## Example",
                "## How to fix",
            ] {
                assert!(doc.contains(section), "{id} lacks {section}");
            }
        }
    }
}
