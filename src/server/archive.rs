//! A GitLab repository archive (`archive.tar.gz`) read into a [`MemoryTree`], never unpacked to
//! disk, so no entry name can reach the file system.
//!
//! GitLab wraps the tree in one folder, `<project>-<sha>-<sha>/`; it is stripped. Only the paths
//! Nautes loads are kept in memory, plus the root `.nautes-lint.yaml`. Limits bound the cost of a
//! hostile archive: a gzip bomb stops at `max_uncompressed_bytes`, a million empty files at
//! `max_entries`, and one oversized file becomes an `unreadable-file` finding without being read.
//! A long-name or PAX record over [`MAX_RECORD_BYTES`] stops the read, and the YAML a job keeps
//! is bounded by its share of the process's [`YamlBudget`].

use super::config::ArchiveLimits;
use crate::tree::{MAX_FILE_BYTES, MemoryTree, ReadError, Tree, is_resource_path};
use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Largest GNU long-name or PAX extended-header record read. A path never needs more (Linux's
/// `PATH_MAX` is 4 KiB), and such a record is held whole in memory, so a larger one is refused
/// rather than read: a 0.4 MB archive can otherwise carry a 400 MiB name.
pub const MAX_RECORD_BYTES: u64 = 8 * 1024;

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
    /// The resource files need more memory than one job may hold (the per-job YAML limit).
    OverBudget(u64),
    /// Not one resource file: no layout folder under the top folder, an empty tar, a tree
    /// without GitLab's top folder. Never a clean result: a `default.project` has its layout
    /// folders, so a tree without them was not read as one.
    NoResources,
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
            ArchiveError::OverBudget(limit) => write!(
                f,
                "the resource files exceed the {limit} bytes of YAML one job may hold \
                 (--max-job-yaml-bytes)"
            ),
            ArchiveError::NoResources => f.write_str(
                "the archive holds no resource files: no folder of the default.project layout \
                 under GitLab's top folder",
            ),
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

/// The YAML one read may keep: what is left of the job's share, and the share itself (for the
/// message).
#[derive(Debug, Clone, Copy)]
pub struct Allowance {
    pub left: u64,
    pub job_limit: u64,
}

impl Allowance {
    /// No bound beyond the archive limits (unit tests of the reader).
    pub const UNBOUNDED: Allowance = Allowance {
        left: u64::MAX,
        job_limit: u64::MAX,
    };
}

/// Reads a `.tar.gz` held in memory, keeping at most `allowance.left` bytes of files.
pub fn read_tar_gz(
    bytes: &[u8],
    limits: &ArchiveLimits,
    allowance: Allowance,
) -> Result<Archive, ArchiveError> {
    let is_config = |path: &str| path == crate::config::FILE_NAME;
    let (mut files, problems) = read_entries(bytes, limits, allowance, &|path| {
        is_config(path) || is_resource_path(path)
    })?;
    let config = files
        .iter()
        .position(|(p, _)| is_config(p))
        .map(|i| String::from_utf8_lossy(&files.swap_remove(i).1).into_owned());
    let mut tree = MemoryTree::new(files);
    for (path, problem) in problems {
        tree = tree.with_problem(&path, &problem);
    }
    if tree.entries().is_empty() {
        return Err(ArchiveError::NoResources);
    }
    // The base and the head of a push are two archives: ids let the head reuse the base's
    // results for every file the push did not touch.
    Ok(Archive {
        tree: tree.with_content_ids(),
        config,
    })
}

/// The YAML files below `folder` of a `.tar.gz` (GitLab's `path=` archive of one folder), as
/// (path in the repository, text). A link or an oversized file there is an error: a cluster
/// inventory missing one file would make the cluster rules lie.
pub fn read_folder_tar_gz(
    bytes: &[u8],
    limits: &ArchiveLimits,
    folder: &str,
) -> Result<Vec<(String, String)>, ArchiveError> {
    let prefix = format!("{}/", folder.trim_matches('/'));
    let (files, problems) = read_entries(bytes, limits, Allowance::UNBOUNDED, &|path| {
        path.starts_with(&prefix) && (path.ends_with(".yaml") || path.ends_with(".yml"))
    })?;
    if let Some((path, problem)) = problems.into_iter().next() {
        return Err(ArchiveError::Corrupt(format!("{path}: {problem}")));
    }
    files
        .into_iter()
        .map(|(path, data)| match String::from_utf8(data) {
            Ok(text) => Ok((path, text)),
            Err(_) => Err(ArchiveError::Corrupt(format!("{path}: not UTF-8"))),
        })
        .collect()
}

/// A file kept from an archive, and a path that could not be read (with the reason).
type Entries = (Vec<(String, Vec<u8>)>, Vec<(String, String)>);

/// The regular files of the archive whose path (below GitLab's top folder) `keep` accepts.
fn read_entries(
    bytes: &[u8],
    limits: &ArchiveLimits,
    allowance: Allowance,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Entries, ArchiveError> {
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
    let mut count = 0u64;
    let mut kept = 0u64;
    // The name a GNU long-name or PAX record gives the next entry. The tar crate would read
    // those records whole, whatever their size, so they are handled here, raw.
    let mut long_name: Option<Vec<u8>> = None;
    for entry in archive.entries().map_err(map_err)?.raw(true) {
        let mut entry = entry.map_err(map_err)?;
        count += 1;
        if count > limits.max_entries {
            return Err(ArchiveError::TooManyEntries(limits.max_entries));
        }
        let kind = entry.header().entry_type();
        let long_name_record = kind.is_gnu_longname() || kind.is_gnu_longlink();
        if long_name_record || kind.is_pax_local_extensions() || kind.is_pax_global_extensions() {
            let what = if long_name_record {
                "long-name record"
            } else {
                "PAX record"
            };
            if entry.size() > MAX_RECORD_BYTES {
                return Err(ArchiveError::TooLarge(what, MAX_RECORD_BYTES));
            }
            let mut data = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut data).map_err(map_err)?;
            if kind.is_gnu_longname() {
                // NUL-terminated.
                let end = data.iter().position(|b| *b == 0).unwrap_or(data.len());
                data.truncate(end);
                long_name = Some(data);
            } else if kind.is_pax_local_extensions() {
                for ext in tar::PaxExtensions::new(&data) {
                    let ext = ext.map_err(map_err)?;
                    match ext.key() {
                        Ok("path") => long_name = Some(ext.value_bytes().to_vec()),
                        // A size record would make this reader and others disagree on where
                        // the next header starts; `git archive` writes one only for files over
                        // 8 GiB, far past the limits.
                        Ok("size") => {
                            return Err(ArchiveError::Corrupt(
                                "a PAX size record, which the service does not read".into(),
                            ));
                        }
                        _ => {}
                    }
                }
            }
            // `git archive` starts with a global header carrying the commit id: nothing to use.
            continue;
        }
        let raw = match long_name.take() {
            Some(name) => match String::from_utf8(name) {
                Ok(name) => std::path::PathBuf::from(name),
                // GitLab never produces such names; like other malformed paths, dropped.
                Err(_) => continue,
            },
            None => entry.path().map_err(map_err)?.into_owned(),
        };
        if kind.is_dir() {
            continue;
        }
        let Some(path) = strip_top(&raw) else {
            continue;
        };
        if !keep(&path) {
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
        let size = entry.size();
        if size > MAX_FILE_BYTES {
            // Not read at all: the reason is the same one the other sources give.
            problems.push((path, ReadError::TooLarge(size).to_string()));
            continue;
        }
        kept += size;
        if kept > allowance.left {
            return Err(ArchiveError::OverBudget(allowance.job_limit));
        }
        let mut data = Vec::with_capacity(size as usize);
        entry.read_to_end(&mut data).map_err(map_err)?;
        files.push((path, data));
    }
    Ok((files, problems))
}

impl Archive {
    /// The bytes of file contents it holds: what a job is charged for it.
    pub fn held_bytes(&self) -> u64 {
        (self.tree.content_bytes() + self.config.as_ref().map_or(0, String::len)) as u64
    }
}

/// The YAML all jobs of the process may hold at once, and one job's share.
///
/// A job reserves its whole share before it reads an archive, waiting while other jobs hold the
/// rest, and gives back what it did not use once its trees are read. Reserving the share at once
/// (not file by file) means two jobs can never each hold half and wait for the other.
pub struct YamlBudget {
    pool: Arc<Semaphore>,
    per_job: u64,
}

/// Permits count KiB, so a share fits the semaphore's `u32` requests.
const UNIT: u64 = 1024;

fn units(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX)
}

impl YamlBudget {
    /// `per_job` must not exceed `total` (checked with the configuration), or a job would wait
    /// forever.
    pub fn new(total: u64, per_job: u64) -> YamlBudget {
        YamlBudget {
            pool: Arc::new(Semaphore::new(units(total) as usize)),
            per_job,
        }
    }

    /// A job's share, once the other jobs leave room for it.
    pub async fn reserve(&self) -> JobBudget {
        let want = units(self.per_job);
        let permit = match self.pool.clone().try_acquire_many_owned(want) {
            Ok(p) => p,
            Err(_) => {
                tracing::info!("waiting for YAML memory: other jobs hold the process's budget");
                self.pool
                    .clone()
                    .acquire_many_owned(want)
                    .await
                    // The semaphore is never closed.
                    .expect("the YAML budget is never closed")
            }
        };
        JobBudget {
            permit,
            limit: self.per_job,
            used: 0,
        }
    }
}

/// One job's share of the [`YamlBudget`]; given back when dropped.
pub struct JobBudget {
    permit: OwnedSemaphorePermit,
    limit: u64,
    used: u64,
}

impl JobBudget {
    /// What the next archive may keep.
    pub fn allowance(&self) -> Allowance {
        Allowance {
            left: self.limit.saturating_sub(self.used),
            job_limit: self.limit,
        }
    }

    /// Counts an archive the job holds (read within [`allowance`](Self::allowance), or taken
    /// from the cache).
    pub fn charge(&mut self, archive: &Archive) -> Result<(), ArchiveError> {
        let bytes = archive.held_bytes();
        if bytes > self.allowance().left {
            return Err(ArchiveError::OverBudget(self.limit));
        }
        self.used += bytes;
        Ok(())
    }

    /// Gives back the part of the share the job's trees do not use, for the other jobs.
    pub fn release_unused(&mut self) {
        let keep = units(self.used).max(1) as usize;
        if let Some(rest) = self
            .permit
            .split(self.permit.num_permits().saturating_sub(keep))
        {
            drop(rest);
        }
    }
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
    fn a_folder_archive_keeps_the_yaml_of_that_folder_only() {
        let dir = "nautes/overlays/production/clusters";
        let bytes = tar_gz(&[
            (
                "t-1/nautes/overlays/production/clusters/b.yaml",
                b"kind: Cluster\n",
            ),
            (
                "t-1/nautes/overlays/production/clusters/a.yml",
                b"kind: Cluster\n",
            ),
            ("t-1/nautes/overlays/production/clusters/README.md", b"# no"),
            (
                "t-1/nautes/overlays/production/other/c.yaml",
                b"kind: Cluster\n",
            ),
        ]);
        let files = read_folder_tar_gz(&bytes, &ArchiveLimits::default(), dir).unwrap();
        let paths: Vec<_> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "nautes/overlays/production/clusters/b.yaml",
                "nautes/overlays/production/clusters/a.yml"
            ]
        );
        let bad = tar_gz(&[(
            "t-1/nautes/overlays/production/clusters/x.yaml",
            b"\xff\xfe",
        )]);
        let e = read_folder_tar_gz(&bad, &ArchiveLimits::default(), dir).unwrap_err();
        assert!(e.to_string().contains("x.yaml: not UTF-8"), "{e}");
    }

    #[test]
    fn strips_the_top_folder_and_keeps_resource_paths() {
        let bytes = tar_gz(&[
            ("p-abc-abc/runtimes/dr.yaml", b"kind: DeploymentRuntime\n"),
            ("p-abc-abc/README.md", b"hi"),
            ("p-abc-abc/.nautes-lint.yaml", b"strict: true\n"),
            ("p-abc-abc/envs/notes.md", b"x"),
        ]);
        let a = read_tar_gz(&bytes, &ArchiveLimits::default(), Allowance::UNBOUNDED).unwrap();
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
            read_tar_gz(&bytes, &limits, Allowance::UNBOUNDED),
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
            read_tar_gz(&tar_gz(&refs), &limits, Allowance::UNBOUNDED).unwrap_err(),
            ArchiveError::TooManyEntries(10)
        );
    }

    #[test]
    fn oversized_file_is_a_problem_not_a_read() {
        let big = vec![b'a'; (MAX_FILE_BYTES + 1) as usize];
        let a = read_tar_gz(
            &tar_gz(&[("p/runtimes/big.yaml", &big)]),
            &ArchiveLimits::default(),
            Allowance::UNBOUNDED,
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
        assert!(read_tar_gz(&bytes, &ArchiveLimits::default(), Allowance::UNBOUNDED).is_err());
        assert!(read_tar_gz(b"not gzip", &ArchiveLimits::default(), Allowance::UNBOUNDED).is_err());
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

    #[tokio::test]
    async fn a_job_is_charged_what_it_holds_and_gives_back_the_rest() {
        let archive = |size: usize| Archive {
            tree: MemoryTree::new([("envs/a.yaml", vec![b'x'; size])]),
            config: None,
        };
        let budget = YamlBudget::new(8 * 1024, 8 * 1024);
        let mut job = budget.reserve().await;
        assert_eq!(
            budget.pool.available_permits(),
            0,
            "the whole share is reserved"
        );
        job.charge(&archive(1000)).unwrap();
        assert_eq!(job.allowance().left, 8 * 1024 - 1000);
        assert_eq!(
            job.charge(&archive(8 * 1024)).unwrap_err(),
            ArchiveError::OverBudget(8 * 1024)
        );
        job.release_unused();
        assert_eq!(
            budget.pool.available_permits(),
            7,
            "1 KiB kept for 1000 bytes"
        );
        drop(job);
        assert_eq!(budget.pool.available_permits(), 8);
    }

    #[test]
    fn records_and_kept_files_are_bounded() {
        let name = format!("p/envs/{}.yaml", "n".repeat(200));
        let bytes = tar_gz(&[(name.as_str(), b"a: 1\n"), ("p/envs/b.yaml", b"b: 2\n")]);
        let a = read_tar_gz(&bytes, &ArchiveLimits::default(), Allowance::UNBOUNDED).unwrap();
        let paths: Vec<_> = a.tree.entries().iter().map(|e| e.path.clone()).collect();
        assert_eq!(paths, ["envs/b.yaml".to_owned(), name[2..].to_owned()]);
        let tight = Allowance {
            left: 6,
            job_limit: 100,
        };
        assert_eq!(
            read_tar_gz(&bytes, &ArchiveLimits::default(), tight).unwrap_err(),
            ArchiveError::OverBudget(100)
        );
        let huge = format!("p/envs/{}.yaml", "n".repeat(MAX_RECORD_BYTES as usize));
        let bytes = tar_gz(&[(huge.as_str(), b"a: 1\n")]);
        assert_eq!(
            read_tar_gz(&bytes, &ArchiveLimits::default(), Allowance::UNBOUNDED).unwrap_err(),
            ArchiveError::TooLarge("long-name record", MAX_RECORD_BYTES)
        );
    }

    #[test]
    fn traversal_is_dropped() {
        let bytes = tar_gz(&[("p/runtimes/ok.yaml", b"a: 1\n")]);
        // The tar builder refuses `..` itself, so test the path function directly.
        assert_eq!(strip_top(std::path::Path::new("p/../etc/passwd")), None);
        assert_eq!(strip_top(std::path::Path::new("/p/runtimes/x.yaml")), None);
        assert!(read_tar_gz(&bytes, &ArchiveLimits::default(), Allowance::UNBOUNDED).is_ok());
    }
}
