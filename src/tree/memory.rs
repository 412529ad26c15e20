use super::{MAX_FILE_BYTES, ReadError, Tree, TreeEntry, is_resource_path};

/// A tree held in memory: tests, git blobs and GitLab archives all end up here.
#[derive(Debug, Default, Clone)]
pub struct MemoryTree {
    entries: Vec<TreeEntry>,
    contents: Vec<Vec<u8>>,
}

impl MemoryTree {
    /// Builds a tree from `(path, contents)` pairs, keeping only the paths Nautes loads.
    pub fn new<P: Into<String>, C: Into<Vec<u8>>>(files: impl IntoIterator<Item = (P, C)>) -> Self {
        let mut files: Vec<(String, Vec<u8>)> = files
            .into_iter()
            .map(|(p, c)| (p.into(), c.into()))
            .filter(|(p, _)| is_resource_path(p))
            .collect();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        files.dedup_by(|a, b| a.0 == b.0);
        let (entries, contents) = files
            .into_iter()
            .map(|(path, c)| {
                (
                    TreeEntry {
                        path,
                        problem: None,
                    },
                    c,
                )
            })
            .unzip();
        MemoryTree { entries, contents }
    }

    /// Adds an entry that cannot be read (a symlink leaving the tree, say).
    pub fn with_problem(mut self, path: &str, problem: &str) -> Self {
        let at = self.entries.partition_point(|e| e.path.as_str() < path);
        self.entries.insert(
            at,
            TreeEntry {
                path: path.to_owned(),
                problem: Some(problem.to_owned()),
            },
        );
        self.contents.insert(at, Vec::new());
        self
    }
}

impl Tree for MemoryTree {
    fn entries(&self) -> &[TreeEntry] {
        &self.entries
    }

    fn read(&self, index: usize) -> Result<Vec<u8>, ReadError> {
        if let Some(problem) = &self.entries[index].problem {
            return Err(ReadError::Io(problem.clone()));
        }
        let c = &self.contents[index];
        if c.len() as u64 > MAX_FILE_BYTES {
            return Err(ReadError::TooLarge(c.len() as u64));
        }
        Ok(c.clone())
    }
}
