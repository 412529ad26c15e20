use super::{MAX_FILE_BYTES, ReadError, Tree, TreeEntry, is_resource_path};

/// A tree held in memory: tests, git blobs and GitLab archives all end up here.
#[derive(Debug, Default, Clone)]
pub struct MemoryTree {
    entries: Vec<TreeEntry>,
    contents: Vec<Vec<u8>>,
    /// Content ids (SHA-256), when asked for: two trees built from archives then share the
    /// work on their unchanged files, as git trees do through blob ids.
    ids: Option<Vec<Option<[u8; 32]>>>,
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
        MemoryTree {
            entries,
            contents,
            ids: None,
        }
    }

    /// The bytes of all contents held.
    pub fn content_bytes(&self) -> usize {
        self.contents.iter().map(Vec::len).sum()
    }

    /// Gives every readable entry a content id, so that a comparison of two such trees checks
    /// each unchanged file once. Call it last: entries added afterwards get no id.
    pub fn with_content_ids(mut self) -> Self {
        let ids = self
            .entries
            .iter()
            .zip(&self.contents)
            .map(|(e, c)| e.problem.is_none().then(|| content_hash(c)))
            .collect();
        self.ids = Some(ids);
        self
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
        if let Some(ids) = &mut self.ids {
            ids.insert(at, None);
        }
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

    fn blob_id(&self, index: usize) -> Option<&[u8]> {
        self.ids.as_ref()?[index].as_ref().map(|id| &id[..])
    }

    fn content_id(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        self.ids.as_ref().map(|_| content_hash(bytes).to_vec())
    }
}

fn content_hash(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ids_name_contents_and_only_when_asked() {
        let files = [
            ("envs/a.yaml", &b"same"[..]),
            ("envs/b.yaml", b"same"),
            ("envs/c.yaml", b"other"),
        ];
        let plain = MemoryTree::new(files);
        assert!(plain.blob_id(0).is_none() && plain.content_id(b"same").is_none());
        let tree = MemoryTree::new(files)
            .with_problem("envs/bad.yaml", "is a symlink")
            .with_content_ids();
        let path = |i: usize| tree.entries()[i].path.as_str();
        assert_eq!(path(2), "envs/bad.yaml");
        assert_eq!(tree.blob_id(0), tree.blob_id(1));
        assert_ne!(tree.blob_id(0), tree.blob_id(3));
        assert!(tree.blob_id(2).is_none());
        assert_eq!(tree.content_id(b"other").as_deref(), tree.blob_id(3));
    }
}
