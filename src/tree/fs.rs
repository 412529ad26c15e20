use super::{LAYOUT_FOLDERS, MAX_FILE_BYTES, ReadError, Tree, TreeEntry, is_resource_path};
use std::io::Read;
use std::path::{Path, PathBuf};

/// A working directory. Only the layout folders are walked; `.gitignore` is honoured; symlinks
/// are never followed out of the tree.
#[derive(Debug)]
pub struct FsTree {
    root: PathBuf,
    entries: Vec<TreeEntry>,
    /// The target of each entry that is a symlink inside the tree; other files are read at
    /// `root/path` (not stored twice: 170,000 absolute paths would cost ~15 MB).
    files: Vec<Option<PathBuf>>,
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
        let dirs: Vec<PathBuf> = LAYOUT_FOLDERS
            .iter()
            .map(|t| root.join(t))
            .filter(|d| d.is_dir())
            .collect();
        let Some((first, rest)) = dirs.split_first() else {
            return Ok(FsTree {
                root: root.to_path_buf(),
                entries: Vec::new(),
                files: Vec::new(),
            });
        };
        let mut builder = ignore::WalkBuilder::new(first);
        for d in rest {
            builder.add(d);
        }
        builder
            .hidden(false) // a `.gitkeep` breaks Nautes' loader: we must see it
            .follow_links(false)
            .require_git(false)
            .parents(true)
            .filter_entry(|e| e.file_name() != ".git");
        // Listing 170,000 files is a third of a bare read: walk on every core, each thread
        // collecting into its own vector.
        let found: std::sync::Mutex<Vec<Found>> = std::sync::Mutex::new(Vec::new());
        builder.build_parallel().run(|| {
            let mut local = Collector {
                root,
                canonical_root: &canonical_root,
                found: &found,
                local: Vec::new(),
            };
            Box::new(move |item| {
                local.visit(item);
                ignore::WalkState::Continue
            })
        });
        let mut found = found
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
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

/// `path` relative to `root` with `/` separators, and whether it is exactly that (a name that is
/// not UTF-8 is shown with U+FFFD in its place).
fn relative(root: &Path, path: &Path) -> Option<(String, bool)> {
    let rel = path.strip_prefix(root).ok()?;
    // Called for every file of the walk: the lossy copies only for a name that needs them.
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    if let Some(parts) = parts {
        return Some((parts.join("/"), true));
    }
    let lossy: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some((lossy.join("/"), false))
}

/// Where a walk error without a path is reported: it still means files were not seen, and a
/// gate must not pass what it did not see.
const UNLISTED: &str = "(a folder that could not be listed)";

fn walk_error(root: &Path, err: &ignore::Error) -> (Option<String>, String) {
    let path = match err {
        ignore::Error::WithPath { path, .. } => relative(root, path).map(|(p, _)| p),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            return walk_error(root, err);
        }
        ignore::Error::Loop { child, .. } => relative(root, child).map(|(p, _)| p),
        _ => None,
    };
    (path, format!("cannot be listed: {err}"))
}

const OUTSIDE: &str = "is a symlink that points outside the repository; it was not followed";

/// A symlink is read only when it resolves to a regular file inside the tree.
fn resolve_symlink(canonical_root: &Path, link: &Path, rel: &str) -> Result<PathBuf, String> {
    let target = link.canonicalize().map_err(|e| {
        // A dangling link that leaves the tree is reported as leaving it: whether its target
        // happens to exist on this machine must not change the verdict.
        if std::fs::read_link(link).is_ok_and(|t| leaves_tree(rel, &t, canonical_root)) {
            OUTSIDE.to_string()
        } else {
            format!("is a symlink that does not resolve ({e}); Nautes cannot load it")
        }
    })?;
    if !target.starts_with(canonical_root) {
        return Err(OUTSIDE.into());
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

/// Whether the link target `target` of the link at `rel` (relative to the root, `/`-separated)
/// leaves the tree, judged on the path text alone (the target need not exist).
fn leaves_tree(rel: &str, target: &Path, canonical_root: &Path) -> bool {
    use std::path::Component;
    if target.is_absolute() {
        return !target.starts_with(canonical_root);
    }
    // The folders between the root and the link; the link's own name is not one of them.
    let mut depth = rel.split('/').count() - 1;
    for part in target.components() {
        match part {
            Component::ParentDir if depth == 0 => return true,
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    false
}

impl Tree for FsTree {
    fn entries(&self) -> &[TreeEntry] {
        &self.entries
    }

    fn read(&self, index: usize) -> Result<Vec<u8>, ReadError> {
        // Never open an entry the listing refused: a FIFO blocks, a symlink leads out of the tree.
        if let Some(problem) = &self.entries[index].problem {
            return Err(ReadError::Io(problem.clone()));
        }
        let file = std::fs::File::open(
            self.files[index]
                .clone()
                .unwrap_or_else(|| self.root.join(&self.entries[index].path)),
        )
        .map_err(|e| ReadError::Io(e.to_string()))?;
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

type Found = (String, Option<PathBuf>, Option<String>);

/// One walker thread's findings, handed to the shared list when the thread is done.
struct Collector<'a> {
    root: &'a Path,
    canonical_root: &'a Path,
    found: &'a std::sync::Mutex<Vec<Found>>,
    local: Vec<Found>,
}

impl Drop for Collector<'_> {
    fn drop(&mut self) {
        let mut shared = self
            .found
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        shared.append(&mut self.local);
    }
}

impl Collector<'_> {
    fn visit(&mut self, item: Result<ignore::DirEntry, ignore::Error>) {
        let entry = match item {
            Ok(e) => e,
            Err(err) => {
                let (path, problem) = walk_error(self.root, &err);
                let path = path.unwrap_or_else(|| UNLISTED.to_owned());
                self.local.push((path, None, Some(problem)));
                return;
            }
        };
        let Some(ft) = entry.file_type() else { return };
        if ft.is_dir() {
            return;
        }
        let Some((rel, exact)) = relative(self.root, entry.path()) else {
            return;
        };
        if !is_resource_path(&rel) {
            return;
        }
        if !exact {
            // Skipping it would hide a file Nautes tries to load; reading it by its lossy name
            // would read nothing.
            let problem = "has a name that is not valid UTF-8; rename it";
            self.local.push((rel, None, Some(problem.into())));
            return;
        }
        if ft.is_symlink() {
            match resolve_symlink(self.canonical_root, entry.path(), &rel) {
                Ok(target) => self.local.push((rel, Some(target), None)),
                Err(problem) => self.local.push((rel, None, Some(problem))),
            }
        } else if ft.is_file() {
            self.local.push((rel, None, None));
        } else {
            // Opening a FIFO would block forever; devices and sockets are no resources.
            let problem = "is not a regular file (a FIFO, socket or device); it was not read";
            self.local.push((rel, None, Some(problem.into())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Collector, UNLISTED, leaves_tree};
    use std::path::Path;

    #[test]
    fn a_walk_error_without_a_path_is_an_entry_with_its_problem() {
        let found = std::sync::Mutex::new(Vec::new());
        let root = Path::new("/repo");
        let mut c = Collector {
            root,
            canonical_root: root,
            found: &found,
            local: Vec::new(),
        };
        c.visit(Err(ignore::Error::Io(std::io::Error::other(
            "disk on fire",
        ))));
        drop(c);
        let found = found.into_inner().expect("not poisoned");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, UNLISTED);
        assert!(
            found[0]
                .2
                .as_deref()
                .is_some_and(|p| p.contains("disk on fire"))
        );
    }

    #[test]
    fn leaving_the_tree_is_judged_on_the_link_text() {
        let root = Path::new("/repo");
        let leaves = |rel, target| leaves_tree(rel, Path::new(target), root);
        assert!(leaves("runtimes/a.yaml", "../../etc/hostname"));
        assert!(leaves("runtimes/a.yaml", "../../../../../../etc/hostname"));
        assert!(leaves("runtimes/a.yaml", "/etc/hostname"));
        assert!(leaves("runtimes/a.yaml", "x/../../../y"));
        assert!(!leaves("runtimes/a.yaml", "../envs/missing.yaml"));
        assert!(!leaves("runtimes/a.yaml", "./missing.yaml"));
        assert!(!leaves("runtimes/a.yaml", "/repo/envs/missing.yaml"));
        assert!(!leaves("runtimes/deep/a.yaml", "../../envs/x.yaml"));
    }
}
