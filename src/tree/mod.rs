//! Trees: the seam between the world and the validation core.
//!
//! A [`Tree`] is a sorted list of repository-relative paths (always `/`-separated) whose contents
//! can be read on demand. Reading on demand lets the core read and parse each file on the same
//! worker thread, so I/O and parsing overlap on every core instead of running as two phases.

mod fs;
#[cfg(feature = "git")]
pub mod git;
mod memory;
mod overlay;

pub use fs::FsTree;
#[cfg(feature = "git")]
pub use git::GitTree;
pub use memory::MemoryTree;
pub use overlay::Overlay;

/// Files larger than this are not parsed (`unreadable-file`). etcd refuses objects over 1.5 MiB,
/// so no real Nautes resource comes near it; the limit bounds the memory one file can take.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Top-level folders that Nautes loads resources from (api-server `resources_layout.yaml`).
pub const LAYOUT_FOLDERS: &[&str] = &[
    "projects",
    "envs",
    "code-repos",
    "runtimes",
    "artifact-repos",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    pub path: String,
    /// Set when the entry cannot be read as a file at all (a symlink leaving the tree, a loop).
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    TooLarge(u64),
    Io(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::TooLarge(n) => write!(
                f,
                "the file is {n} bytes, over the limit of {MAX_FILE_BYTES} bytes for one resource; it was not read"
            ),
            ReadError::Io(e) => write!(f, "cannot read the file: {e}"),
        }
    }
}

pub trait Tree: Sync {
    /// Entries in byte-wise path order.
    fn entries(&self) -> &[TreeEntry];
    /// The contents of entry `index`, at most [`MAX_FILE_BYTES`].
    fn read(&self, index: usize) -> Result<Vec<u8>, ReadError>;
    /// An id of entry `index`'s content (a git blob id), when the source has one. Two entries
    /// with the same path and the same id read the same bytes, so the engine checks such a file
    /// once when it compares a tree with its base.
    fn blob_id(&self, _index: usize) -> Option<&[u8]> {
        None
    }
    /// The id [`Tree::blob_id`] would give `bytes`, for a source whose ids are content hashes.
    /// It lets a tree without ids (a working directory) match its files against this one (a
    /// base revision) by hashing what it read.
    fn content_id(&self, _bytes: &[u8]) -> Option<Vec<u8>> {
        None
    }
}

/// Whether Nautes would try to load `path` as a resource: inside a layout folder, not `*.md` or
/// `*.txt`.
pub fn is_resource_path(path: &str) -> bool {
    let Some((top, rest)) = path.split_once('/') else {
        return false;
    };
    !rest.is_empty()
        && LAYOUT_FOLDERS.contains(&top)
        && !(path.ends_with(".md") || path.ends_with(".txt"))
}
