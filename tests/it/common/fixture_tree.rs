//! The rule fixtures as whole trees: the one place that knows how a fixture folder is laid over
//! `fixtures/base/`. Shared by the integration tests (a module of `common`) and, with `#[path]`,
//! by the library's in-process fixture tests (`src/rules/fixture_tests.rs`);
//! `scripts/fixture.sh` does the same for a reader.
//!
//! A tree folder holding [`WITHOUT`] is the base's files, minus the paths that file lists (and
//! the folders they leave empty), with the folder's own files (minus [`WITHOUT`]) written over
//! them. A folder without it is used as
//! it is, old-style, except that its sub-folders are looked at the same way (so
//! `dr-destination-changed/base/` and `head/` can each be laid over the base).

use std::path::{Path, PathBuf};

/// The file that lays a fixture folder over `fixtures/base/`; it lists the base's files the
/// fixture removes, one path per line (`#` starts a comment line).
pub const WITHOUT: &str = "without.txt";

/// `fixtures/base/`: the files most fixtures share.
pub fn base() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/base")
}

/// `fixtures/invalid/<rel>`, as stored (not composed).
pub fn invalid_folder(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/invalid")
        .join(rel)
}

/// The base's files `folder` removes, or `None` when it is not laid over the base.
pub fn without(folder: &Path) -> Option<Vec<String>> {
    let path = folder.join(WITHOUT);
    if !path.is_file() {
        return None;
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Some(
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect(),
    )
}

/// Copies the folder `from` into `to`, creating it. A symlink is copied as a link (not
/// followed), so a fixture's link that leaves the tree still does in the copy.
pub fn copy_dir(from: &Path, to: &Path) {
    copy_entries(from, to, None, copy_dir);
}

/// Copies the entries of `from` but `skip` into `to`, files and links as they are, folders
/// with `dir`.
fn copy_entries(from: &Path, to: &Path, skip: Option<&str>, dir: fn(&Path, &Path)) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        if skip.is_some_and(|s| entry.file_name() == s) {
            continue;
        }
        let target = to.join(entry.file_name());
        let ft = entry.file_type().expect("file type");
        if ft.is_dir() {
            dir(&entry.path(), &target);
        } else if ft.is_symlink() {
            let link = std::fs::read_link(entry.path()).expect("read_link");
            // A fixture's link may replace a base file.
            let _ = std::fs::remove_file(&target);
            std::os::unix::fs::symlink(link, &target).expect("symlink");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Writes the whole tree of the fixture folder `src` into `to` (see the module doc).
pub fn write_tree(src: &Path, to: &Path) {
    let Some(removed) = without(src) else {
        return copy_entries(src, to, None, write_tree);
    };
    copy_dir(&base(), to);
    for path in &removed {
        std::fs::remove_file(to.join(path)).unwrap_or_else(|e| {
            panic!(
                "{}: `{path}` is not a file of fixtures/base/ ({e})",
                src.join(WITHOUT).display()
            )
        });
        // Git holds no empty folder, so the tree of a checkout has none either.
        let mut dir = Path::new(path).parent();
        while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
            if std::fs::remove_dir(to.join(d)).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
    // The fixture's own files replace the base's at the same path.
    copy_entries(src, to, Some(WITHOUT), copy_dir);
}

/// The whole tree of `fixtures/invalid/<rel>` (a rule id, or `<id>/base` and `<id>/head`) in a
/// temporary folder, removed when dropped. It derefs to the folder's path.
pub struct Fixture(pub tempfile::TempDir);

pub fn invalid_fixture(rel: &str) -> Fixture {
    let src = invalid_folder(rel);
    assert!(src.is_dir(), "no fixture folder {}", src.display());
    let tmp = tempfile::tempdir().expect("tempdir");
    write_tree(&src, tmp.path());
    Fixture(tmp)
}

impl AsRef<Path> for Fixture {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

impl std::ops::Deref for Fixture {
    type Target = Path;

    fn deref(&self) -> &Path {
        self.0.path()
    }
}
