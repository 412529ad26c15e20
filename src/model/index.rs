use super::{Kind, Resource};
use std::collections::HashMap;

/// All resources of one tree and where they came from.
#[derive(Debug, Default)]
pub struct Model {
    /// Paths of the tree's files, by file index.
    pub paths: Vec<std::sync::Arc<str>>,
    pub resources: Vec<Resource>,
    pub index: Index,
}

/// (kind, name) -> resources, built once in linear time; every lookup is a hash probe.
#[derive(Debug, Default)]
pub struct Index {
    by_name: HashMap<(Kind, String), Vec<u32>>,
}

impl Model {
    pub fn new(paths: Vec<std::sync::Arc<str>>, mut resources: Vec<Resource>) -> Model {
        // Deterministic order whatever order the parallel parse finished in.
        resources.sort_by_key(|r| r.file);
        let mut by_name: HashMap<(Kind, String), Vec<u32>> =
            HashMap::with_capacity(resources.len());
        for (i, r) in resources.iter().enumerate() {
            by_name
                .entry((r.kind, r.name.value.clone()))
                .or_default()
                .push(i as u32);
        }
        Model {
            paths,
            resources,
            index: Index { by_name },
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
        self.index
            .by_name
            .get(&(kind, name.to_owned()))
            .map(|v| v.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|&i| &self.resources[i as usize])
    }

    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Resource> {
        self.resources.iter().filter(move |r| r.kind == kind)
    }

    /// Names of every resource of `kind`, for "did you mean" suggestions.
    pub fn names(&self, kind: Kind) -> impl Iterator<Item = &str> {
        self.index
            .by_name
            .keys()
            .filter(move |(k, _)| *k == kind)
            .map(|(_, n)| n.as_str())
    }

    /// The closest existing name of `kind` within a small edit distance.
    pub fn suggest(&self, kind: Kind, wrong: &str) -> Option<&str> {
        crate::suggest::closest(wrong, self.names(kind))
    }
}
