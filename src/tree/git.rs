//! Trees from git's object database: a revision, the staged index, a pre-receive quarantine.
//!
//! Everything is read eagerly into memory, blobs on all cores through per-thread handles
//! (`gix` handles are not `Sync`, and the engine reads files from its worker threads). A
//! default.project tree of 20,000 runtimes is some 30 MB of YAML, so that costs little.

use super::{LAYOUT_FOLDERS, MAX_FILE_BYTES, ReadError, Tree, TreeEntry, is_resource_path};
use gix::ObjectId;
use gix::bstr::{BStr, ByteSlice};
use gix::objs::Kind;
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A failure to read the repository itself (a missing object, a broken index): the tool cannot
/// give an answer, which is different from a finding.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// No object database holds the object (a shallow clone, a broken repository).
    #[error("object {0} is missing from the repository")]
    Missing(ObjectId),
    /// The object is of another kind than its place needs.
    #[error("{id} is a {found}, not a {wanted}")]
    WrongKind {
        id: ObjectId,
        found: Kind,
        wanted: &'static str,
    },
    /// A revision that names a file.
    #[error("{0} is a file, not a commit or tree")]
    NotARevision(ObjectId),
    #[error("{0}: tags nested too deeply")]
    TagsTooDeep(ObjectId),
    /// A revision that names no single object; `ambiguous` when it could name several (an
    /// abbreviated id), as opposed to none.
    #[error("revision `{rev}`: {source}")]
    Revision {
        rev: String,
        ambiguous: bool,
        source: gix::Error,
    },
    /// A file of the revision over the size limit.
    #[error("{path}: {}", ReadError::TooLarge(*.size))]
    TooLarge { path: String, size: u64 },
    /// A path or a variable of git's that is not UTF-8.
    #[error("{0} is not valid UTF-8")]
    NotUtf8(&'static str),
    #[error("{}: the path is not UTF-8", .0.display())]
    PathNotUtf8(PathBuf),
    /// What the object store, the index or the file system reported, and what was being read.
    #[error("{context}: {source}")]
    Read {
        context: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn err(
    context: impl std::fmt::Display,
    e: impl std::error::Error + Send + Sync + 'static,
) -> GitError {
    GitError::Read {
        context: context.to_string(),
        source: Box::new(e),
    }
}

/// The object databases to read from, searched in order. The stores are thread-safe; every
/// thread reads through handles of its own (a `gix` handle is not `Sync`).
pub struct Objects {
    stores: Vec<Arc<gix::odb::Store>>,
    /// This thread's handles, for the sequential walk over commits and trees.
    local: Handles,
    hash: gix::hash::Kind,
}

impl Objects {
    /// The objects git's environment makes visible, as git itself resolves them.
    ///
    /// During `pre-receive` the pushed objects sit in a quarantine directory that git names in
    /// `GIT_OBJECT_DIRECTORY`, with the repository's real object directory listed in
    /// `GIT_ALTERNATE_OBJECT_DIRECTORIES`. gix reads neither variable, so a plain `gix::open`
    /// cannot see the pushed commit. The quarantine is searched first, then each alternate from
    /// the environment, then the repository's own database (whose store also follows the
    /// alternates in its `objects/info/alternates`, as GitLab's object pools use). Nothing is
    /// written: the quarantine belongs to git, which migrates or deletes it after the hook.
    /// Replace refs (`git replace`) are not applied: a revision is checked as stored.
    ///
    /// `var` reads an environment variable (a parameter so tests can pass their own).
    pub fn from_env(
        repo: &gix::Repository,
        var: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Objects, GitError> {
        let hash = repo.object_hash();
        let mut dirs: Vec<PathBuf> = Vec::new();
        if let Some(dir) = var("GIT_OBJECT_DIRECTORY").filter(|d| !d.is_empty()) {
            dirs.push(PathBuf::from(dir));
        }
        if let Some(list) = var("GIT_ALTERNATE_OBJECT_DIRECTORIES") {
            dirs.extend(alternate_dirs(&list)?);
        }
        dirs.push(repo.objects.store_ref().path().to_path_buf());
        let mut stores = Vec::new();
        let mut seen = Vec::new();
        for dir in dirs {
            let context = || format!("object directory {}", dir.display());
            let canonical = dir.canonicalize().map_err(|e| err(context(), e))?;
            if seen.contains(&canonical) {
                continue;
            }
            let store = gix::odb::Store::at_opts(
                canonical.clone(),
                hash,
                &mut std::iter::empty(),
                gix::odb::store::init::Options::default(),
            )
            .map_err(|e| err(context(), e))?;
            stores.push(Arc::new(store));
            seen.push(canonical);
        }
        let local = Handles::new(&stores);
        Ok(Objects {
            stores,
            local,
            hash,
        })
    }

    /// Whether any of the databases has `id`.
    pub fn contains(&self, id: &gix::oid) -> Result<bool, GitError> {
        match self.local.header(id) {
            Ok(_) => Ok(true),
            Err(Missing::No) => Ok(false),
            Err(Missing::Failed(e)) => Err(e),
        }
    }

    fn read(&self, id: &gix::oid, buf: &mut Vec<u8>) -> Result<Kind, GitError> {
        self.local.read(id, buf)
    }

    /// Reads blobs on all cores, in the order of `ids`.
    fn read_blobs(&self, ids: &[ObjectId]) -> Result<Vec<Content>, GitError> {
        use rayon::prelude::*;
        // Only the stores cross threads; this thread's handles stay here.
        let stores = &self.stores;
        ids.par_iter()
            .with_min_len(64)
            .map_init(
                move || Handles::new(stores),
                |handles, id| handles.read_blob(id),
            )
            .collect()
    }

    /// The commit `id` names, peeling tags; `None` when it names a tree (no history to walk).
    pub fn commit_of(&self, id: ObjectId) -> Result<Option<ObjectId>, GitError> {
        let mut buf = Vec::new();
        Ok(match self.peel_tags(id, &mut buf)? {
            (id, Kind::Commit) => Some(id),
            _ => None,
        })
    }

    /// The object `id` names once tags are followed, with its kind; `buf` holds its data.
    fn peel_tags(&self, id: ObjectId, buf: &mut Vec<u8>) -> Result<(ObjectId, Kind), GitError> {
        let mut id = id;
        // Tags can point at tags; a bound keeps a crafted cycle from spinning forever.
        for _ in 0..64 {
            match self.read(&id, buf)? {
                Kind::Tag => {
                    let t = gix::objs::TagRef::from_bytes(buf, self.hash)
                        .map_err(|e| err(format!("tag {id}"), e))?;
                    id = t.target();
                }
                kind => return Ok((id, kind)),
            }
        }
        Err(GitError::TagsTooDeep(id))
    }

    /// The parents of commit `id`.
    pub fn parents(&self, id: &gix::oid) -> Result<Vec<ObjectId>, GitError> {
        let mut buf = Vec::new();
        match self.read(id, &mut buf)? {
            Kind::Commit => {
                let c = gix::objs::CommitRef::from_bytes(&buf, self.hash)
                    .map_err(|e| err(format!("commit {id}"), e))?;
                Ok(c.parents().collect())
            }
            found => Err(GitError::WrongKind {
                id: id.to_owned(),
                found,
                wanted: "commit",
            }),
        }
    }

    /// The tree of a commit, tag or tree, peeling tags and commits.
    pub fn tree_of(&self, id: ObjectId) -> Result<ObjectId, GitError> {
        let mut buf = Vec::new();
        match self.peel_tags(id, &mut buf)? {
            (id, Kind::Tree) => Ok(id),
            (id, Kind::Commit) => {
                let c = gix::objs::CommitRef::from_bytes(&buf, self.hash)
                    .map_err(|e| err(format!("commit {id}"), e))?;
                Ok(c.tree())
            }
            (id, _) => Err(GitError::NotARevision(id)),
        }
    }
}

/// Why an object was not found.
enum Missing {
    No,
    Failed(GitError),
}

/// One thread's handles on the stores, each with a small cache of decoded pack entries: the
/// blobs of a default.project are mostly deltas against each other.
struct Handles {
    dbs: Vec<gix::odb::HandleArc>,
}

impl Handles {
    fn new(stores: &[Arc<gix::odb::Store>]) -> Handles {
        let last = stores.len().saturating_sub(1);
        let dbs = stores
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut h = s.to_cache_arc();
                // Most lookups miss the quarantine (it holds only the pushed objects). By
                // default a miss rescans the object directory for new packs, once per object:
                // thousands of directory listings. Nothing writes there while the hook runs.
                if i < last {
                    h.refresh_never();
                }
                h.set_pack_cache(|| {
                    Box::new(gix::odb::pack::cache::lru::StaticLinkedList::<64>::new(
                        16 * 1024 * 1024,
                    ))
                });
                h
            })
            .collect();
        Handles { dbs }
    }

    /// The database holding `id` and the object's header (kind, size), without reading it.
    fn header(&self, id: &gix::oid) -> Result<(usize, gix::objs::Header), Missing> {
        use gix::objs::FindHeader;
        for (i, db) in self.dbs.iter().enumerate() {
            if let Some(h) = db
                .try_header(id)
                .map_err(|e| Missing::Failed(err(format!("object {id}"), e)))?
            {
                return Ok((i, h));
            }
        }
        Err(Missing::No)
    }

    fn located(&self, id: &gix::oid) -> Result<(usize, gix::objs::Header), GitError> {
        self.header(id).map_err(|m| match m {
            Missing::No => GitError::Missing(id.to_owned()),
            Missing::Failed(e) => e,
        })
    }

    /// Reads object `id` into `buf`, returning its kind.
    fn read(&self, id: &gix::oid, buf: &mut Vec<u8>) -> Result<Kind, GitError> {
        let (db, _) = self.located(id)?;
        self.read_from(db, id, buf)
    }

    fn read_from(&self, db: usize, id: &gix::oid, buf: &mut Vec<u8>) -> Result<Kind, GitError> {
        use gix::objs::Find;
        let data = self.dbs[db]
            .try_find(id, buf)
            .map_err(|e| err(format!("object {id}"), e))?
            .ok_or_else(|| GitError::Missing(id.to_owned()))?;
        Ok(data.kind)
    }

    /// A blob, sized from its header first: one over the limit is never loaded.
    fn read_blob(&self, id: &gix::oid) -> Result<Content, GitError> {
        let (db, header) = self.located(id)?;
        if header.kind != Kind::Blob {
            return Err(GitError::WrongKind {
                id: id.to_owned(),
                found: header.kind,
                wanted: "file",
            });
        }
        if header.size > MAX_FILE_BYTES {
            return Ok(Content::TooLarge(header.size));
        }
        let mut buf = Vec::with_capacity(header.size as usize);
        self.read_from(db, id, &mut buf)?;
        Ok(Content::Bytes(buf.into()))
    }
}

/// `GIT_ALTERNATE_OBJECT_DIRECTORIES`: separated like `PATH`; git quotes an entry C-style when it
/// contains the separator.
fn alternate_dirs(list: &std::ffi::OsStr) -> Result<Vec<PathBuf>, GitError> {
    let text = list
        .to_str()
        .ok_or(GitError::NotUtf8("GIT_ALTERNATE_OBJECT_DIRECTORIES"))?;
    let sep = if cfg!(windows) { ';' } else { ':' };
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let entry;
        if rest.starts_with('"') {
            let (unquoted, used) = gix::quote::ansi_c::undo(BStr::new(rest.as_bytes()))
                .map_err(|e| err("GIT_ALTERNATE_OBJECT_DIRECTORIES", e))?;
            entry = unquoted.to_str_lossy().into_owned();
            rest = &rest[used.min(rest.len())..];
            rest = rest.strip_prefix(sep).unwrap_or(rest);
        } else {
            let (e, r) = rest.split_once(sep).unwrap_or((rest, ""));
            entry = e.to_owned();
            rest = r;
        }
        if !entry.is_empty() {
            out.push(PathBuf::from(entry));
        }
    }
    Ok(out)
}

/// What is behind one path of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Blob(ObjectId),
    /// Mode 120000: git stores the link text, not a file.
    Symlink,
    /// Stages 1-3 of the index: a merge left the file unresolved.
    Conflict,
}

/// A state of the repository's files: a tree (of a commit) or the staged index.
pub enum Snapshot {
    Tree(ObjectId),
    Index(Box<gix::index::File>),
}

/// Files read from a snapshot: `(path, contents)`, sorted by path.
pub type Files = Vec<(String, Arc<[u8]>)>;

impl Snapshot {
    /// The staged index: what `git commit` would record. Honours `GIT_INDEX_FILE` when the
    /// repository was opened with environment overrides (git sets it for `commit -a` and
    /// `commit <paths>`). No index file yet means nothing is staged.
    pub fn index(repo: &gix::Repository) -> Result<Snapshot, GitError> {
        let path = repo.index_path();
        if !path.exists() {
            return Ok(Snapshot::Index(Box::new(gix::index::File::from_state(
                gix::index::State::new(repo.object_hash()),
                path,
            ))));
        }
        repo.open_index()
            .map(|i| Snapshot::Index(Box::new(i)))
            .map_err(|e| err(format!("the index {}", path.display()), e))
    }

    /// The files at `path` (a file, or every file below a folder), `/`-separated, relative to
    /// the snapshot root, in no particular order. `path` is relative to the root too.
    fn files_at(&self, objects: &Objects, path: &str) -> Result<Vec<(String, Item)>, GitError> {
        let mut out = Vec::new();
        match self {
            Snapshot::Tree(root) => {
                if let Some((kind, id)) = lookup(objects, *root, path)? {
                    match kind {
                        Entry::Tree => walk(objects, id, path, &mut out)?,
                        Entry::Blob => out.push((path.to_owned(), Item::Blob(id))),
                        Entry::Link => out.push((path.to_owned(), Item::Symlink)),
                        Entry::Submodule => {}
                    }
                }
            }
            Snapshot::Index(index) => {
                let dir = format!("{path}/");
                for e in index.entries() {
                    let p = e.path(index);
                    if p != path.as_bytes() && !p.starts_with(dir.as_bytes()) {
                        continue;
                    }
                    // `git add -N` records only the intention; commit leaves the file out.
                    if e.flags.contains(gix::index::entry::Flags::INTENT_TO_ADD) {
                        continue;
                    }
                    let item = if e.stage_raw() != 0 {
                        Item::Conflict
                    } else if e.mode == gix::index::entry::Mode::SYMLINK {
                        Item::Symlink
                    } else if e.mode == gix::index::entry::Mode::FILE
                        || e.mode == gix::index::entry::Mode::FILE_EXECUTABLE
                    {
                        Item::Blob(e.id)
                    } else {
                        // Submodules and sparse directories hold no file Nautes could load.
                        continue;
                    };
                    let p = p.to_str_lossy().into_owned();
                    // Conflicts appear once per stage; one entry is enough.
                    if item == Item::Conflict && out.last().is_some_and(|(l, _)| *l == p) {
                        continue;
                    }
                    out.push((p, item));
                }
            }
        }
        Ok(out)
    }

    /// The contents of the file at `path`, if the snapshot has a readable one there.
    pub fn read_file(&self, objects: &Objects, path: &str) -> Result<Option<Arc<[u8]>>, GitError> {
        match self.files_at(objects, path)?.as_slice() {
            [(p, Item::Blob(id))] if p == path => match objects.local.read_blob(id)? {
                Content::Bytes(b) => Ok(Some(b)),
                Content::TooLarge(n) => Err(GitError::TooLarge {
                    path: path.to_owned(),
                    size: n,
                }),
            },
            _ => Ok(None),
        }
    }

    /// Whether `path` is a file or folder in the snapshot.
    pub fn contains(&self, objects: &Objects, path: &str) -> Result<bool, GitError> {
        Ok(!self.files_at(objects, path)?.is_empty())
    }

    /// Every readable file at or below `path` with one of `extensions`, sorted by path.
    pub fn read_files(
        &self,
        objects: &Objects,
        path: &str,
        extensions: &[&str],
    ) -> Result<Files, GitError> {
        let mut files: Vec<(String, ObjectId)> = self
            .files_at(objects, path)?
            .into_iter()
            .filter_map(|(p, item)| match item {
                Item::Blob(id) if extensions.iter().any(|e| p.ends_with(e)) => Some((p, id)),
                _ => None,
            })
            .collect();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let ids: Vec<ObjectId> = files.iter().map(|(_, id)| *id).collect();
        let contents = objects.read_blobs(&ids)?;
        files
            .into_iter()
            .zip(contents)
            .map(|((p, _), c)| match c {
                Content::Bytes(b) => Ok((p, b)),
                Content::TooLarge(n) => Err(GitError::TooLarge {
                    path: p.to_string(),
                    size: n,
                }),
            })
            .collect()
    }
}

enum Entry {
    Tree,
    Blob,
    Link,
    Submodule,
}

fn entry_of(mode: gix::objs::tree::EntryMode) -> Entry {
    use gix::objs::tree::EntryKind;
    match mode.kind() {
        EntryKind::Tree => Entry::Tree,
        EntryKind::Blob | EntryKind::BlobExecutable => Entry::Blob,
        EntryKind::Link => Entry::Link,
        EntryKind::Commit => Entry::Submodule,
    }
}

/// What `path` ("" for the root) names in `tree`.
fn lookup(
    objects: &Objects,
    tree: ObjectId,
    path: &str,
) -> Result<Option<(Entry, ObjectId)>, GitError> {
    let mut current = (Entry::Tree, tree);
    let mut buf = Vec::new();
    for name in path.split('/').filter(|c| !c.is_empty()) {
        let (Entry::Tree, id) = current else {
            return Ok(None);
        };
        read_tree(objects, &id, &mut buf)?;
        let tree = gix::objs::TreeRef::from_bytes(&buf, objects.hash)
            .map_err(|e| err(format!("tree {id}"), e))?;
        match tree.entries.iter().find(|e| e.filename == name.as_bytes()) {
            Some(e) => current = (entry_of(e.mode), e.oid.to_owned()),
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

fn read_tree(objects: &Objects, id: &gix::oid, buf: &mut Vec<u8>) -> Result<(), GitError> {
    match objects.read(id, buf)? {
        Kind::Tree => Ok(()),
        found => Err(GitError::WrongKind {
            id: id.to_owned(),
            found,
            wanted: "tree",
        }),
    }
}

/// Every file below tree `id`, whose path is `base`.
fn walk(
    objects: &Objects,
    id: ObjectId,
    base: &str,
    out: &mut Vec<(String, Item)>,
) -> Result<(), GitError> {
    let mut buf = Vec::new();
    read_tree(objects, &id, &mut buf)?;
    let tree = gix::objs::TreeRef::from_bytes(&buf, objects.hash)
        .map_err(|e| err(format!("tree {id}"), e))?;
    for e in &tree.entries {
        let name = e.filename.to_str_lossy();
        let path = if base.is_empty() {
            name.into_owned()
        } else {
            format!("{base}/{name}")
        };
        match entry_of(e.mode) {
            Entry::Tree => walk(objects, e.oid.to_owned(), &path, out)?,
            Entry::Blob => out.push((path, Item::Blob(e.oid.to_owned()))),
            Entry::Link => out.push((path, Item::Symlink)),
            Entry::Submodule => {}
        }
    }
    Ok(())
}

/// A blob as the tree holds it.
#[derive(Debug, Clone)]
enum Content {
    Bytes(Arc<[u8]>),
    /// Over [`MAX_FILE_BYTES`]: the size from the object header; the blob was never loaded.
    TooLarge(u64),
}

/// Blobs already read, by id: the base and the new tree of a push share most of their files,
/// and so do the refs of one push.
#[derive(Default)]
pub struct BlobCache {
    blobs: HashMap<ObjectId, Content>,
}

impl BlobCache {
    /// Reads the blobs of `ids` that are not cached yet, in parallel.
    fn fill(&mut self, objects: &Objects, ids: &[ObjectId]) -> Result<(), GitError> {
        let mut missing: Vec<ObjectId> = ids
            .iter()
            .filter(|id| !self.blobs.contains_key(*id))
            .copied()
            .collect();
        missing.sort_unstable();
        missing.dedup();
        let contents = objects.read_blobs(&missing)?;
        self.blobs.extend(missing.into_iter().zip(contents));
        Ok(())
    }
}

/// The layout folders of a snapshot, read into memory.
#[derive(Debug, Default)]
pub struct GitTree {
    entries: Vec<TreeEntry>,
    contents: Vec<Option<Content>>,
    ids: Vec<Option<ObjectId>>,
    /// How `ids` were computed, to name other content the same way.
    hash: Option<gix::hash::Kind>,
}

impl GitTree {
    /// Reads the resource files of `snapshot` below `prefix` ("" for the repository root; the
    /// paths of the tree are relative to it).
    pub fn load(
        objects: &Objects,
        snapshot: &Snapshot,
        prefix: &str,
        cache: &mut BlobCache,
    ) -> Result<GitTree, GitError> {
        let mut files = Vec::new();
        for folder in LAYOUT_FOLDERS {
            files.extend(snapshot.files_at(objects, &join(prefix, folder))?);
        }
        let mut listed: Vec<(String, Item)> = files
            .into_iter()
            .filter_map(|(p, item)| {
                let rel = strip(prefix, &p)?.to_owned();
                is_resource_path(&rel).then_some((rel, item))
            })
            .collect();
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        let ids: Vec<ObjectId> = listed
            .iter()
            .filter_map(|(_, item)| match item {
                Item::Blob(id) => Some(*id),
                _ => None,
            })
            .collect();
        cache.fill(objects, &ids)?;
        let mut tree = GitTree {
            hash: Some(objects.hash),
            ..GitTree::default()
        };
        for (path, item) in listed {
            let (problem, content, id) = match item {
                Item::Blob(id) => (None, cache.blobs.get(&id).cloned(), Some(id)),
                Item::Symlink => (
                    Some(
                        "is a symbolic link in git; links are not followed, commit the file itself"
                            .to_owned(),
                    ),
                    None,
                    None,
                ),
                Item::Conflict => (
                    Some("has an unresolved merge conflict".to_owned()),
                    None,
                    None,
                ),
            };
            tree.entries.push(TreeEntry { path, problem });
            tree.contents.push(content);
            tree.ids.push(id);
        }
        Ok(tree)
    }
}

/// `prefix/path`, or `path` at the root.
pub fn join(prefix: &str, path: &str) -> String {
    if prefix.is_empty() {
        path.to_owned()
    } else {
        format!("{prefix}/{path}")
    }
}

fn strip<'a>(prefix: &str, path: &'a str) -> Option<&'a str> {
    if prefix.is_empty() {
        Some(path)
    } else {
        path.strip_prefix(prefix)?.strip_prefix('/')
    }
}

impl Tree for GitTree {
    fn entries(&self) -> &[TreeEntry] {
        &self.entries
    }

    fn read(&self, index: usize) -> Result<Vec<u8>, ReadError> {
        match &self.contents[index] {
            Some(Content::Bytes(b)) => Ok(b.to_vec()),
            Some(Content::TooLarge(n)) => Err(ReadError::TooLarge(*n)),
            None => Err(ReadError::Io("not a file".to_owned())),
        }
    }

    fn blob_id(&self, index: usize) -> Option<&[u8]> {
        self.ids[index].as_ref().map(|id| id.as_bytes())
    }

    fn content_id(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        gix::objs::compute_hash(self.hash?, gix::objs::Kind::Blob, bytes)
            .ok()
            .map(|id| id.as_bytes().to_vec())
    }
}

/// Resolves a revision (`HEAD`, `main~2`, a full or abbreviated id) to an object id. A full id is
/// taken as it is, so objects that only `objects` can see (a quarantine) resolve too.
pub fn resolve(repo: &gix::Repository, rev: &str) -> Result<ObjectId, GitError> {
    if rev.len() == repo.object_hash().len_in_hex()
        && let Ok(id) = ObjectId::from_hex(rev.as_bytes())
    {
        return Ok(id);
    }
    repo.rev_parse_single(BStr::new(rev))
        .map(|id| id.detach())
        .map_err(|e| GitError::Revision {
            rev: rev.to_owned(),
            ambiguous: is_ambiguous(&e),
            source: e,
        })
}

/// Whether gix refused the revision because it could name several objects.
fn is_ambiguous(e: &gix::Error) -> bool {
    use gix::revision::spec::parse::Error;
    e.iter_errors().any(|e| {
        matches!(
            e.downcast_ref::<Error>(),
            Some(Error::AmbiguousPrefix { .. } | Error::AmbiguousRefAndObject { .. })
        )
    })
}

/// `dir` relative to the repository's working tree, `/`-separated ("" for the root, and for a
/// bare repository).
pub fn prefix_of(repo: &gix::Repository, dir: &Path) -> Result<String, GitError> {
    let Some(workdir) = repo.workdir() else {
        return Ok(String::new());
    };
    let canon = |p: &Path| p.canonicalize().map_err(|e| err(p.display(), e));
    let (dir, workdir) = (canon(dir)?, canon(workdir)?);
    let Ok(rel) = dir.strip_prefix(&workdir) else {
        return Ok(String::new());
    };
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    parts
        .map(|p| p.join("/"))
        .ok_or_else(|| GitError::PathNotUtf8(rel.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternates_are_split_and_unquoted() {
        let dirs = alternate_dirs(std::ffi::OsStr::new("/a/objects:\"/b:c/objects\":/d")).unwrap();
        assert_eq!(
            dirs,
            vec![
                PathBuf::from("/a/objects"),
                PathBuf::from("/b:c/objects"),
                PathBuf::from("/d")
            ]
        );
        assert!(alternate_dirs(std::ffi::OsStr::new("")).unwrap().is_empty());
    }

    #[test]
    fn content_ids_are_git_blob_ids() {
        let tree = GitTree {
            hash: Some(gix::hash::Kind::Sha1),
            ..GitTree::default()
        };
        // What `printf 'hello\n' | git hash-object --stdin` prints.
        let id = tree.content_id(b"hello\n").unwrap();
        assert_eq!(
            ObjectId::from_bytes_or_panic(&id).to_string(),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert!(GitTree::default().content_id(b"hello\n").is_none());
    }

    #[test]
    fn prefixes_join_and_strip() {
        assert_eq!(join("", "runtimes"), "runtimes");
        assert_eq!(join("sub", "runtimes"), "sub/runtimes");
        assert_eq!(strip("sub", "sub/runtimes/a.yaml"), Some("runtimes/a.yaml"));
        assert_eq!(strip("sub", "subway/a.yaml"), None);
        assert_eq!(strip("", "a"), Some("a"));
    }
}
