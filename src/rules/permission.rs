//! Who may use a code repo: Nautes' permission rule, shared by `dr-project-not-permitted` and
//! `ppr-coderepo-not-permitted`.
//!
//! A project may use a code repo when the CodeRepo's `spec.project` is that project, or when a
//! CodeRepoBinding of the same product for that code repo lists the project, or lists no project
//! at all (a product-wide grant).

use crate::model::{Kind, Model, Resource};
use rustc_hash::FxHashMap as HashMap;

pub struct Permissions<'a> {
    model: &'a Model,
    bindings: HashMap<&'a str, Vec<&'a Resource>>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Permitted,
    /// The code repo does not exist (its own `*-not-found` rule reports that).
    NoSuchRepo,
    Denied,
}

impl<'a> Permissions<'a> {
    pub fn new(model: &'a Model) -> Self {
        let mut bindings: HashMap<&str, Vec<&Resource>> = HashMap::default();
        for r in model.of_kind(Kind::CodeRepoBinding) {
            if let Some(repo) = r.binding().and_then(|b| b.code_repo.as_ref()) {
                bindings.entry(repo.as_str()).or_default().push(r);
            }
        }
        Permissions { model, bindings }
    }

    /// May `project` use `repo`, for a resource of `product`?
    pub fn check(&self, project: &str, repo: &str, product: Option<&str>) -> Verdict {
        let Some(code_repo) = self.model.get(Kind::CodeRepo, repo) else {
            return Verdict::NoSuchRepo;
        };
        if code_repo
            .code_repo()
            .and_then(|c| c.project.as_ref())
            .is_some_and(|p| p.value == project)
        {
            return Verdict::Permitted;
        }
        let granted = self.bindings.get(repo).into_iter().flatten().any(|b| {
            let same_product = match (b.product.as_ref(), product) {
                (Some(bp), Some(p)) => bp.value == p,
                _ => true,
            };
            let projects = &b.binding().expect("indexed as a binding").projects;
            same_product && (projects.is_empty() || projects.iter().any(|p| p.value == project))
        });
        if granted {
            Verdict::Permitted
        } else {
            Verdict::Denied
        }
    }

    /// The help line for a denied use.
    pub fn help(project: &str, repo: &str) -> String {
        format!(
            "set the CodeRepo's `spec.project: {project}`, or add a CodeRepoBinding in `code-repos/{repo}/` with `codeRepo: {repo}` that lists `{project}`"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Settings;
    use crate::tree::MemoryTree;

    fn yaml(kind: &str, name: &str, spec: &str) -> String {
        format!(
            "apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\nspec: {spec}\n"
        )
    }

    /// A product with projects a, b and c, and repo-1 owned by a; `extra` adds files.
    fn verdicts(extra: &[(&str, String)]) -> (Verdict, Verdict) {
        let mut files = vec![
            (
                "projects/a/a.yaml",
                yaml("Project", "a", "{product: product-7, language: Go}"),
            ),
            (
                "projects/b/b.yaml",
                yaml("Project", "b", "{product: product-7, language: Go}"),
            ),
            (
                "projects/c/c.yaml",
                yaml("Project", "c", "{product: product-7, language: Go}"),
            ),
            (
                "code-repos/repo-1/repo-1.yaml",
                yaml(
                    "CodeRepo",
                    "repo-1",
                    "{product: product-7, project: a, codeRepoProvider: gitlab}",
                ),
            ),
        ];
        files.extend(extra.iter().map(|(p, t)| (*p, t.clone())));
        let tree = MemoryTree::new(files);
        let checked = crate::engine::model_of(&tree, &Settings::default());
        let p = Permissions::new(&checked);
        (
            p.check("a", "repo-1", Some("product-7")),
            p.check("b", "repo-1", Some("product-7")),
        )
    }

    #[test]
    fn the_owning_project_may_use_its_repo() {
        assert_eq!(verdicts(&[]), (Verdict::Permitted, Verdict::Denied));
    }

    #[test]
    fn a_binding_that_lists_the_project_grants_it() {
        let b = yaml(
            "CodeRepoBinding",
            "bind",
            "{codeRepo: repo-1, product: product-7, projects: [b], permissions: readonly}",
        );
        assert_eq!(
            verdicts(&[("code-repos/repo-1/bind.yaml", b)]).1,
            Verdict::Permitted
        );
        let b = yaml(
            "CodeRepoBinding",
            "bind",
            "{codeRepo: repo-1, product: product-7, projects: [c], permissions: readonly}",
        );
        assert_eq!(
            verdicts(&[("code-repos/repo-1/bind.yaml", b)]).1,
            Verdict::Denied
        );
    }

    #[test]
    fn a_binding_without_projects_is_product_wide() {
        let b = yaml(
            "CodeRepoBinding",
            "bind",
            "{codeRepo: repo-1, product: product-7, projects: [], permissions: readonly}",
        );
        assert_eq!(
            verdicts(&[("code-repos/repo-1/bind.yaml", b)]).1,
            Verdict::Permitted
        );
        let b = yaml(
            "CodeRepoBinding",
            "bind",
            "{codeRepo: repo-1, product: product-7, permissions: readonly}",
        );
        assert_eq!(
            verdicts(&[("code-repos/repo-1/bind.yaml", b)]).1,
            Verdict::Permitted
        );
    }

    #[test]
    fn a_binding_of_another_product_grants_nothing() {
        let b = yaml(
            "CodeRepoBinding",
            "bind",
            "{codeRepo: repo-1, product: product-8, projects: [], permissions: readonly}",
        );
        assert_eq!(
            verdicts(&[("code-repos/repo-1/bind.yaml", b)]).1,
            Verdict::Denied
        );
    }

    #[test]
    fn a_missing_repo_is_not_a_permission_question() {
        let tree = MemoryTree::new(Vec::<(String, String)>::new());
        let m = crate::engine::model_of(&tree, &Settings::default());
        assert_eq!(
            Permissions::new(&m).check("a", "repo-9", None),
            Verdict::NoSuchRepo
        );
    }
}
