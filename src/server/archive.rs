//! A GitLab repository archive (`archive.tar.gz`) read into a [`MemoryTree`], never unpacked to
//! disk, so no entry name can reach the file system.
//!
//! GitLab wraps the tree in one folder, `<project>-<sha>-<sha>/`; it is stripped. Only the paths
//! Nautes loads are kept in memory, plus the root `.nautes-lint.yaml`. Limits bound the cost of a
//! hostile archive: a gzip bomb stops at `max_uncompressed_bytes`, a million empty files at
//! `max_entries`, and one oversized file becomes an `unreadable-file` finding without being read.

use super::config::ArchiveLimits;
use crate::tree::{MAX_FILE_BYTES, MemoryTree, ReadError, is_resource_path};
use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

/// The tree of one revision, and its root configuration file if it has one.
#[derive(Debug)]
pub struct Archive {
    pub tree: MemoryTree,
    pub config: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveError {
    TooLarge(&'static str, u64),
    TooManyEntries(u64),
    Corrupt(String),
}

impl std::fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArchiveError::TooLarge(what, limit) => {
                write!(f, "the archive's {what} exceeds the limit of {limit} bytes")
            }
            ArchiveError::TooManyEntries(limit) => {
                write!(f, "the archive holds more than {limit} entries")
            }
            ArchiveError::Corrupt(e) => write!(f, "the archive cannot be read: {e}"),
        }
    }
}

impl std::error::Error for ArchiveError {}

/// Counts what the gzip decoder produces and fails once it passes the limit, so a small archive
/// that expands to gigabytes is stopped while streaming.
struct Capped<R> {
    inner: R,
    read: u64,
    limit: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(std::io::Error::other(CAP_MARKER));
        }
        Ok(n)
    }
}

const CAP_MARKER: &str = "nautes-lint: uncompressed size limit";

/// Reads a `.tar.gz` held in memory.
pub fn read_tar_gz(bytes: &[u8], limits: &ArchiveLimits) -> Result<Archive, ArchiveError> {
    if bytes.len() as u64 > limits.max_compressed_bytes {
        return Err(ArchiveError::TooLarge(
            "compressed size",
            limits.max_compressed_bytes,
        ));
    }
    let capped = Capped {
        inner: flate2::read::GzDecoder::new(bytes),
        read: 0,
        limit: limits.max_uncompressed_bytes,
    };
    let mut archive = tar::Archive::new(capped);
    let map_err = |e: std::io::Error| {
        if e.to_string().contains(CAP_MARKER) {
            ArchiveError::TooLarge("uncompressed size", limits.max_uncompressed_bytes)
        } else {
            ArchiveError::Corrupt(e.to_string())
        }
    };
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut config = None;
    let mut count = 0u64;
    for entry in archive.entries().map_err(map_err)? {
        let mut entry = entry.map_err(map_err)?;
        count += 1;
        if count > limits.max_entries {
            return Err(ArchiveError::TooManyEntries(limits.max_entries));
        }
        let kind = entry.header().entry_type();
        // `git archive` starts with a pax global header carrying the commit id; folders carry
        // nothing either.
        if kind.is_pax_global_extensions() || kind.is_dir() || kind.is_pax_local_extensions() {
            continue;
        }
        let raw = entry.path().map_err(map_err)?.into_owned();
        let Some(path) = strip_top(&raw) else {
            continue;
        };
        let is_config = path == crate::config::FILE_NAME;
        if !is_config && !is_resource_path(&path) {
            continue;
        }
        if kind.is_symlink() || kind.is_hard_link() {
            problems.push((
                path,
                "a link in the repository; the webhook service reads archives and does not follow links"
                    .to_owned(),
            ));
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let size = entry.header().size().map_err(map_err)?;
        if size > MAX_FILE_BYTES {
            // Not read at all: the reason is the same one the other sources give.
            problems.push((path, ReadError::TooLarge(size).to_string()));
            continue;
        }
        let mut data = Vec::with_capacity(size as usize);
        entry.read_to_end(&mut data).map_err(map_err)?;
        if is_config {
            config = Some(String::from_utf8_lossy(&data).into_owned());
        } else {
            files.push((path, data));
        }
    }
    let mut tree = MemoryTree::new(files);
    for (path, problem) in problems {
        tree = tree.with_problem(&path, &problem);
    }
    // The base and the head of a push are two archives: ids let the head reuse the base's
    // results for every file the push did not touch.
    Ok(Archive {
        tree: tree.with_content_ids(),
        config,
    })
}

/// `<project>-<sha>-<sha>/runtimes/a.yaml` -> `runtimes/a.yaml`. Entries outside one top folder,
/// or with `..`, absolute or non-UTF-8 components, are dropped: GitLab never produces them.
fn strip_top(path: &std::path::Path) -> Option<String> {
    use std::path::Component;
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?),
            Component::CurDir => {}
            _ => return None,
        }
    }
    if parts.len() < 2 {
        return None;
    }
    Some(parts[1..].join("/"))
}

/// Archives read recently, by project and commit id, within a budget of bytes.
///
/// A push's base is usually the previous push's head: with the head kept, each push of a branch
/// downloads one archive instead of two (gitlab.com allows five archive downloads a minute). Only
/// full commit ids are kept: a commit's tree never changes, a branch name's does.
pub struct ArchiveCache {
    budget: usize,
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    entries: HashMap<(i64, String), CacheEntry>,
    bytes: usize,
    clock: u64,
}

struct CacheEntry {
    archive: Arc<Archive>,
    bytes: usize,
    used: u64,
}

impl ArchiveCache {
    pub fn new(budget: usize) -> ArchiveCache {
        ArchiveCache {
            budget,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, project: i64, rev: &str) -> Option<Arc<Archive>> {
        let mut g = self.lock();
        g.clock += 1;
        let now = g.clock;
        let e = g.entries.get_mut(&(project, rev.to_owned()))?;
        e.used = now;
        Some(e.archive.clone())
    }

    /// Keeps `archive` when `rev` is a commit id and it fits the budget, dropping the least
    /// recently used ones to make room. The entries are few (a budget holds a handful of
    /// repositories), so finding the oldest by a scan is cheap.
    pub fn put(&self, project: i64, rev: &str, archive: Arc<Archive>) {
        let bytes = archive.tree.content_bytes();
        if !is_commit_id(rev) || bytes > self.budget {
            return;
        }
        let mut g = self.lock();
        g.clock += 1;
        let used = g.clock;
        let entry = CacheEntry {
            archive,
            bytes,
            used,
        };
        if let Some(old) = g.entries.insert((project, rev.to_owned()), entry) {
            g.bytes -= old.bytes;
        }
        g.bytes += bytes;
        while g.bytes > self.budget {
            let Some(oldest) = g
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = g.entries.remove(&oldest) {
                g.bytes -= e.bytes;
            }
        }
    }
}

/// A full SHA-1 or SHA-256 commit id, in lower-case hex as GitLab sends them.
fn is_commit_id(rev: &str) -> bool {
    matches!(rev.len(), 40 | 64) && rev.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Tree;
    use std::io::Write;

    fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        for (path, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, path, *data).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn strips_the_top_folder_and_keeps_resource_paths() {
        let bytes = tar_gz(&[
            ("p-abc-abc/runtimes/dr.yaml", b"kind: DeploymentRuntime\n"),
            ("p-abc-abc/README.md", b"hi"),
            ("p-abc-abc/.nautes-lint.yaml", b"strict: true\n"),
            ("p-abc-abc/envs/notes.md", b"x"),
        ]);
        let a = read_tar_gz(&bytes, &ArchiveLimits::default()).unwrap();
        let paths: Vec<_> = a.tree.entries().iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["runtimes/dr.yaml"]);
        assert_eq!(a.tree.read(0).unwrap(), b"kind: DeploymentRuntime\n");
        assert_eq!(a.config.as_deref(), Some("strict: true\n"));
    }

    #[test]
    fn gzip_bomb_stops_at_the_uncompressed_limit() {
        let zeros = vec![0u8; 4 * 1024 * 1024];
        let bytes = tar_gz(&[("p/runtimes/big.yaml", &zeros)]);
        assert!(bytes.len() < 64 * 1024, "compresses well");
        let limits = ArchiveLimits {
            max_uncompressed_bytes: 1024 * 1024,
            ..ArchiveLimits::default()
        };
        assert!(matches!(
            read_tar_gz(&bytes, &limits),
            Err(ArchiveError::TooLarge("uncompressed size", _))
        ));
    }

    #[test]
    fn entry_count_is_capped() {
        let entries: Vec<(String, &[u8])> = (0..20)
            .map(|i| (format!("p/runtimes/{i}.yaml"), &b"a: 1\n"[..]))
            .collect();
        let refs: Vec<(&str, &[u8])> = entries.iter().map(|(p, d)| (p.as_str(), *d)).collect();
        let limits = ArchiveLimits {
            max_entries: 10,
            ..ArchiveLimits::default()
        };
        assert_eq!(
            read_tar_gz(&tar_gz(&refs), &limits).unwrap_err(),
            ArchiveError::TooManyEntries(10)
        );
    }

    #[test]
    fn oversized_file_is_a_problem_not_a_read() {
        let big = vec![b'a'; (MAX_FILE_BYTES + 1) as usize];
        let a = read_tar_gz(
            &tar_gz(&[("p/runtimes/big.yaml", &big)]),
            &ArchiveLimits::default(),
        )
        .unwrap();
        let e = &a.tree.entries()[0];
        assert!(e.problem.as_deref().unwrap().contains("over the limit"));
    }

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"definitely not a tar stream, but long enough to be read as a header? no")
            .unwrap();
        let bytes = gz.finish().unwrap();
        assert!(read_tar_gz(&bytes, &ArchiveLimits::default()).is_err());
        assert!(read_tar_gz(b"not gzip", &ArchiveLimits::default()).is_err());
    }

    #[test]
    fn the_cache_keeps_commits_within_its_budget_least_recently_used_first() {
        let archive = |size: usize| {
            Arc::new(Archive {
                tree: MemoryTree::new([("envs/a.yaml", vec![b'x'; size])]),
                config: None,
            })
        };
        let (a, b, c) = ("a".repeat(40), "b".repeat(40), "c".repeat(40));
        let cache = ArchiveCache::new(250);
        cache.put(1, &a, archive(100));
        cache.put(1, &b, archive(100));
        assert!(cache.get(1, &a).is_some(), "a is now the most recent");
        cache.put(1, &c, archive(100));
        assert!(cache.get(1, &b).is_none(), "b was the least recently used");
        assert!(cache.get(1, &a).is_some() && cache.get(1, &c).is_some());
        assert!(cache.get(2, &a).is_none(), "another project");
        // Branch names move; an archive larger than the budget is not kept.
        cache.put(1, "main", archive(10));
        assert!(cache.get(1, "main").is_none());
        cache.put(1, &"d".repeat(40), archive(300));
        assert!(cache.get(1, &"d".repeat(40)).is_none());
        assert!(cache.get(1, &a).is_some(), "nothing evicted for it");
    }

    #[test]
    fn traversal_is_dropped() {
        let bytes = tar_gz(&[("p/runtimes/ok.yaml", b"a: 1\n")]);
        // The tar builder refuses `..` itself, so test the path function directly.
        assert_eq!(strip_top(std::path::Path::new("p/../etc/passwd")), None);
        assert_eq!(strip_top(std::path::Path::new("/p/runtimes/x.yaml")), None);
        assert!(read_tar_gz(&bytes, &ArchiveLimits::default()).is_ok());
    }
}
