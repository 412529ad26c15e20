use super::{Kind, Resource};
use rustc_hash::FxHashMap;

type SuggestionCache = FxHashMap<(Kind, Box<str>), Option<Box<str>>>;

/// All resources of one tree and where they came from.
#[derive(Debug, Default)]
pub struct Model {
    /// Paths of the tree's files, by file index.
    pub paths: Vec<std::sync::Arc<str>>,
    pub resources: Vec<Resource>,
    pub index: Index,
    /// "Did you mean" answers by (kind, wrong name): a deleted environment referenced by
    /// thousands of runtimes costs one search, not thousands.
    suggestions: std::sync::Mutex<SuggestionCache>,
    /// The names of each kind in a trie, built the first time a name of that kind is missing.
    name_index: [std::sync::OnceLock<crate::suggest::NameIndex>; 6],
    /// CodeRepos by `spec.repoName` (the first in path order), built on first use.
    by_repo_name: std::sync::OnceLock<FxHashMap<Box<str>, u32>>,
}

/// (kind, name) -> resources, built once in linear time. One map per kind, keyed by name, so a
/// lookup by `&str` is one hash probe and allocates nothing (rules do one per reference).
#[derive(Debug, Default)]
pub struct Index {
    by_kind: [FxHashMap<Box<str>, Vec<u32>>; 6],
    /// Every resource of each kind, in path order.
    of_kind: [Vec<u32>; 6],
}

fn slot(kind: Kind) -> usize {
    Kind::ALL
        .iter()
        .position(|k| *k == kind)
        .expect("every kind is in Kind::ALL")
}

impl Model {
    pub fn new(paths: Vec<std::sync::Arc<str>>, mut resources: Vec<Resource>) -> Model {
        // Deterministic order whatever order the parallel parse finished in.
        resources.sort_by_key(|r| r.file);
        let mut index = Index::default();
        for (i, r) in resources.iter().enumerate() {
            index.by_kind[slot(r.kind)]
                .entry(r.name.value.as_str().into())
                .or_default()
                .push(i as u32);
            index.of_kind[slot(r.kind)].push(i as u32);
        }
        Model {
            paths,
            resources,
            index,
            suggestions: Default::default(),
            name_index: Default::default(),
            by_repo_name: Default::default(),
        }
    }

    pub fn path(&self, r: &Resource) -> &str {
        &self.paths[r.file as usize]
    }

    /// The first resource (in path order) of `kind` named `name`.
    pub fn get(&self, kind: Kind, name: &str) -> Option<&Resource> {
        self.all(kind, name).next()
    }

    pub fn all<'a>(&'a self, kind: Kind, name: &str) -> impl Iterator<Item = &'a Resource> + 'a {
        self.index.by_kind[slot(kind)]
            .get(name)
            .map(|v| v.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|&i| &self.resources[i as usize])
    }

    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Resource> {
        self.index.of_kind[slot(kind)]
            .iter()
            .map(|&i| &self.resources[i as usize])
    }

    /// The CodeRepo whose `spec.repoName` is `name` (the first in path order).
    pub fn code_repo_by_repo_name(&self, name: &str) -> Option<&Resource> {
        let map = self.by_repo_name.get_or_init(|| {
            let mut map = FxHashMap::default();
            for &i in &self.index.of_kind[slot(Kind::CodeRepo)] {
                let r = &self.resources[i as usize];
                if let Some(n) = r.code_repo().and_then(|c| c.repo_name.as_deref()) {
                    map.entry(n.into()).or_insert(i);
                }
            }
            map
        });
        map.get(name).map(|&i| &self.resources[i as usize])
    }

    /// The cluster a DeploymentRuntime deploys to: the `spec.cluster` of the Environment its
    /// destination names. `None` when that Environment or its cluster is missing.
    pub fn cluster_of(&self, runtime: &Resource) -> Option<&super::SpStr> {
        let env = runtime.dr()?.environment.as_ref()?;
        self.get(Kind::Environment, &env.value)?
            .env()?
            .cluster
            .as_ref()
    }

    /// Names of every resource of `kind`, for "did you mean" suggestions.
    pub fn names(&self, kind: Kind) -> impl Iterator<Item = &str> {
        self.index.by_kind[slot(kind)].keys().map(|n| &**n)
    }

    /// The closest existing name of `kind` within a small edit distance.
    pub fn suggest(&self, kind: Kind, wrong: &str) -> Option<String> {
        let key = (kind, Box::<str>::from(wrong));
        if let Some(hit) = self
            .suggestions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
        {
            return hit.as_deref().map(str::to_owned);
        }
        let found = self.name_index[slot(kind)]
            .get_or_init(|| crate::suggest::NameIndex::new(self.names(kind)))
            .closest(wrong)
            .map(Box::<str>::from);
        let answer = found.as_deref().map(str::to_owned);
        self.suggestions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, found);
        answer
    }
}
