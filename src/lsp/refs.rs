//! The reference graph as the editor sees it: which fields of a resource name another resource,
//! and the resource one open document holds.

use crate::model::{self, Kind, Resource, SpStr};
use crate::yaml;

/// Every reference `r` makes, with the kind it names: the same fields the `*-not-found` rules
/// check.
pub fn references(r: &Resource) -> Vec<(&SpStr, Kind)> {
    let mut out: Vec<(&SpStr, Kind)> = Vec::new();
    if let Some(d) = r.dr() {
        out.extend(d.environment.iter().map(|s| (s, Kind::Environment)));
        out.extend(d.code_repo.iter().map(|s| (s, Kind::CodeRepo)));
        out.extend(d.projects_ref.iter().map(|s| (s, Kind::Project)));
    }
    if let Some(c) = r.code_repo() {
        out.extend(c.project.iter().map(|s| (s, Kind::Project)));
    }
    if let Some(b) = r.binding() {
        out.extend(b.code_repo.iter().map(|s| (s, Kind::CodeRepo)));
        out.extend(b.projects.iter().map(|s| (s, Kind::Project)));
    }
    if let Some(p) = r.ppr() {
        out.extend(p.project.iter().map(|s| (s, Kind::Project)));
        out.extend(p.environment.iter().map(|s| (s, Kind::Environment)));
        out.extend(p.pipeline_source.iter().map(|s| (s, Kind::CodeRepo)));
        out.extend(
            p.event_sources
                .iter()
                .filter_map(|e| e.gitlab_repo.as_ref())
                .map(|s| (s, Kind::CodeRepo)),
        );
        out.extend(p.additional_repo.iter().map(|s| (s, Kind::CodeRepo)));
    }
    out
}

/// The resource of one file's text, as the engine reads it (first document, byte-order mark
/// stripped), with spans of that text.
pub fn resource_of(text: &str) -> Option<Resource> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let parsed = yaml::parse(text);
    let root = &parsed.documents.first()?.root;
    if root.get("apiVersion").and_then(|v| v.as_str()) != Some(model::API_VERSION) {
        return None;
    }
    let kind = Kind::parse(root.get("kind")?.as_str()?)?;
    let kind_span = root.get("kind").map_or(root.span, |k| k.span);
    model::extract(root, kind, kind_span, 0)
}

/// The resource a reference names: by name, and a code repo also by its GitLab name, as the
/// `*-not-found` rules explain it.
pub fn target<'m>(model: &'m model::Model, kind: Kind, name: &str) -> Option<&'m Resource> {
    model.get(kind, name).or_else(|| match kind {
        Kind::CodeRepo => model.code_repo_by_repo_name(name),
        _ => None,
    })
}

/// The kind of the names a reference field takes, by its YAML key, for completion. `None` for a
/// key that names no resource.
pub fn kind_of_key(key: &str, holder: Option<Kind>) -> Option<Kind> {
    Some(match key {
        "environment" => Kind::Environment,
        "codeRepo" | "pipelineSource" => Kind::CodeRepo,
        // A GitLab event source names its code repo by `repoName`, as ppr-coderepo-not-found reads it.
        "repoName" if holder == Some(Kind::ProjectPipelineRuntime) => Kind::CodeRepo,
        "project" | "projectsRef" => Kind::Project,
        "projects" if holder == Some(Kind::CodeRepoBinding) => Kind::Project,
        _ => return None,
    })
}

/// The reference key a cursor stands in, from the lines up to it: `key: <cursor>` or a list item
/// `- <cursor>` under `key:`. Returns the key and the value typed so far.
pub fn key_at<'t>(lines_above: &[&'t str], before: &'t str) -> Option<(&'t str, &'t str)> {
    let trimmed = before.trim_start();
    if let Some(item) = trimmed.strip_prefix("- ") {
        if let Some((key, value)) = key_value(item) {
            return Some((key, value));
        }
        // A list item: the key is the nearest line above that is less indented and ends in `:`.
        let indent = before.len() - trimmed.len();
        for line in lines_above.iter().rev() {
            let t = line.trim_start();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let li = line.len() - t.len();
            if li < indent || (li == indent && !t.starts_with('-')) {
                let key = t
                    .strip_prefix("- ")
                    .unwrap_or(t)
                    .trim_end()
                    .strip_suffix(':')?;
                return Some((key.trim(), value_part(item)));
            }
        }
        return None;
    }
    key_value(trimmed)
}

fn key_value(s: &str) -> Option<(&str, &str)> {
    let (key, value) = s.split_once(':')?;
    let key = key.trim();
    if key.is_empty() || key.contains([' ', '"', '\'']) {
        return None;
    }
    Some((key, value_part(value)))
}

/// The value typed so far, without leading space and an opening quote.
fn value_part(s: &str) -> &str {
    s.trim_start().trim_start_matches(['"', '\''])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_values_and_list_items() {
        assert_eq!(
            key_at(&[], "    environment: env-d"),
            Some(("environment", "env-d"))
        );
        assert_eq!(key_at(&[], "  codeRepo: "), Some(("codeRepo", "")));
        assert_eq!(key_at(&[], "  codeRepo: \"re"), Some(("codeRepo", "re")));
        let above = ["spec:", "  projectsRef:", "  - api-server"];
        assert_eq!(key_at(&above, "  - web"), Some(("projectsRef", "web")));
        let above = ["spec:", "  projectsRef:"];
        assert_eq!(key_at(&above, "    - "), Some(("projectsRef", "")));
        assert_eq!(key_at(&[], "plain text"), None);
    }

    #[test]
    fn reference_keys_name_kinds() {
        assert_eq!(kind_of_key("environment", None), Some(Kind::Environment));
        assert_eq!(
            kind_of_key("projects", Some(Kind::CodeRepoBinding)),
            Some(Kind::Project)
        );
        assert_eq!(kind_of_key("projects", Some(Kind::DeploymentRuntime)), None);
        assert_eq!(kind_of_key("namespaces", None), None);
    }
}
