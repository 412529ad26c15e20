use super::{LAYOUT_FOLDERS, MAX_FILE_BYTES, ReadError, Tree, TreeEntry, is_resource_path};
use std::io::Read;
use std::path::{Path, PathBuf};

/// A working directory. Only the layout folders are walked; `.gitignore` is honoured; symlinks
/// are never followed out of the tree.
#[derive(Debug)]
pub struct FsTree {
    root: PathBuf,
    entries: Vec<TreeEntry>,
    /// The real file behind each entry (a symlink inside the tree resolves to its target).
    files: Vec<PathBuf>,
}

impl FsTree {
    /// Lists the tree. Fails only when `root` itself is not a readable directory; problems with
    /// single entries become entries with a `problem`.
    pub fn open(root: &Path) -> std::io::Result<FsTree> {
        let meta = std::fs::metadata(root)?;
        if !meta.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "not a directory",
            ));
        }
        let canonical_root = root.canonicalize()?;
        let mut found: Vec<(String, PathBuf, Option<String>)> = Vec::new();
        for top in LAYOUT_FOLDERS {
            let dir = root.join(top);
            if !dir.is_dir() {
                continue;
            }
            let walker = ignore::WalkBuilder::new(&dir)
                .hidden(false) // a `.gitkeep` breaks Nautes' loader: we must see it
                .follow_links(false)
                .require_git(false)
                .parents(true)
                .filter_entry(|e| e.file_name() != ".git")
                .build();
            for item in walker {
                let entry = match item {
                    Ok(e) => e,
                    Err(err) => {
                        let (path, problem) = walk_error(root, &err);
                        if let Some(path) = path {
                            found.push((path, PathBuf::new(), Some(problem)));
                        }
                        continue;
                    }
                };
                let Some(ft) = entry.file_type() else {
                    continue;
                };
                if ft.is_dir() {
                    continue;
                }
                let Some(rel) = relative(root, entry.path()) else {
                    continue;
                };
                if !is_resource_path(&rel) {
                    continue;
                }
                if ft.is_symlink() {
                    match resolve_symlink(&canonical_root, entry.path()) {
                        Ok(target) => found.push((rel, target, None)),
                        Err(problem) => found.push((rel, PathBuf::new(), Some(problem))),
                    }
                } else if ft.is_file() {
                    found.push((rel, entry.path().to_path_buf(), None));
                } else {
                    // Opening a FIFO would block forever; devices and sockets are no resources.
                    found.push((
                        rel,
                        PathBuf::new(),
                        Some(
                            "is not a regular file (a FIFO, socket or device); it was not read"
                                .into(),
                        ),
                    ));
                }
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let (entries, files) = found
            .into_iter()
            .map(|(path, file, problem)| (TreeEntry { path, problem }, file))
            .unzip();
        Ok(FsTree {
            root: root.to_path_buf(),
            entries,
            files,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

fn walk_error(root: &Path, err: &ignore::Error) -> (Option<String>, String) {
    let path = match err {
        ignore::Error::WithPath { path, .. } => relative(root, path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            return walk_error(root, err);
        }
        ignore::Error::Loop { child, .. } => relative(root, child),
        _ => None,
    };
    (path, format!("cannot be listed: {err}"))
}

/// A symlink is read only when it resolves to a regular file inside the tree.
fn resolve_symlink(canonical_root: &Path, link: &Path) -> Result<PathBuf, String> {
    let target = link
        .canonicalize()
        .map_err(|e| format!("is a symlink that does not resolve ({e}); Nautes cannot load it"))?;
    if !target.starts_with(canonical_root) {
        return Err("is a symlink that points outside the repository; it was not followed".into());
    }
    if target.is_dir() {
        return Err(
            "is a symlink to a folder; Nautes' loader would try to read it as a file".into(),
        );
    }
    if !target.is_file() {
        return Err(
            "is a symlink to something that is not a regular file; it was not followed".into(),
        );
    }
    Ok(target)
}

impl Tree for FsTree {
    fn entries(&self) -> &[TreeEntry] {
        &self.entries
    }

    fn read(&self, index: usize) -> Result<Vec<u8>, ReadError> {
        let file =
            std::fs::File::open(&self.files[index]).map_err(|e| ReadError::Io(e.to_string()))?;
        let len = file
            .metadata()
            .map_err(|e| ReadError::Io(e.to_string()))?
            .len();
        if len > MAX_FILE_BYTES {
            return Err(ReadError::TooLarge(len));
        }
        let mut buf = Vec::with_capacity(len as usize);
        // `take` guards against a file that grows between the size check and the read.
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| ReadError::Io(e.to_string()))?;
        if buf.len() as u64 > MAX_FILE_BYTES {
            return Err(ReadError::TooLarge(buf.len() as u64));
        }
        Ok(buf)
    }
}
