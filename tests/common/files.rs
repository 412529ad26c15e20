//! File helpers shared by the integration tests (also included on its own, with `#[path]`, by
//! the test binaries that do not use `common`).
#![allow(dead_code)]

use std::path::Path;

/// Copies the folder `from` into `to`, creating it. A symlink is copied as a link (not
/// followed), so a fixture's link that leaves the tree still does in the copy.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        let ft = entry.file_type().expect("file type");
        if ft.is_dir() {
            copy_dir(&entry.path(), &target);
        } else if ft.is_symlink() {
            let link = std::fs::read_link(entry.path()).expect("read_link");
            std::os::unix::fs::symlink(link, &target).expect("symlink");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A copy of `fixtures/invalid/<id>` in a temporary folder, to edit.
pub fn copy_invalid_fixture(id: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/invalid")
            .join(id),
        tmp.path(),
    );
    tmp
}
