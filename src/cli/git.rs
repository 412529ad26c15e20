//! The git side of the command line: opening the repository, turning revisions and the index
//! into trees, and reading a revision's own `.nautes-lint.yaml`.

use super::{Failure, SettingsArgs};
use crate::clusters::{self, Inventory};
use crate::config::{self, Config};
use crate::engine::Settings;
use crate::tree::git::{self, BlobCache, GitTree, Objects, Snapshot};
use std::path::{Component, Path};

/// An open repository and what has been read from it so far.
pub struct Repo {
    pub repo: gix::Repository,
    pub objects: Objects,
    /// The checked folder inside the repository ("" for its root).
    pub prefix: String,
    cache: BlobCache,
}

impl Repo {
    /// The repository holding `dir` (a working tree, a folder in it, or a bare repository),
    /// for `check --rev/--base`.
    pub fn discover(dir: &Path) -> Result<Repo, Failure> {
        // An absolute path: gix 0.90 trips a debug assertion when discovery from a relative
        // path finds a bare repository (gix-discover `shorten_path_with_cwd`).
        let abs = dir
            .canonicalize()
            .map_err(|e| Failure(format!("{}: {e}", dir.display())))?;
        let repo = gix::discover(&abs).map_err(|e| {
            Failure(format!(
                "{}: not in a git repository (--rev and --base read git revisions): {e}",
                dir.display()
            ))
        })?;
        let prefix = git::prefix_of(&repo, dir)?;
        // Like git, honour a quarantine in the environment: a custom pre-receive script may
        // call `check --rev $new`.
        let objects = Objects::from_env(&repo, |name| std::env::var_os(name))?;
        Ok(Repo {
            repo,
            objects,
            prefix,
            cache: BlobCache::default(),
        })
    }

    /// The repository a git hook runs for, as git describes it in the environment (`GIT_DIR`,
    /// `GIT_INDEX_FILE`, and during pre-receive the quarantined objects).
    pub fn from_hook_env() -> Result<Repo, Failure> {
        let repo = gix::discover_with_environment_overrides(".").map_err(|e| {
            Failure(format!(
                "not in a git repository (run the hook from git, or install it with `nautes-lint install-hooks`): {e}"
            ))
        })?;
        let objects = Objects::from_env(&repo, |name| std::env::var_os(name))?;
        Ok(Repo {
            repo,
            objects,
            prefix: String::new(),
            cache: BlobCache::default(),
        })
    }

    /// The tree of a revision. A revision that names nothing gets a sentence, not gix's
    /// parser state.
    pub fn revision(&self, rev: &str) -> Result<Snapshot, Failure> {
        let id = git::resolve(&self.repo, rev).map_err(|e| match e {
            git::GitError::Revision {
                ambiguous: true, ..
            } => Failure(e.to_string()),
            _ => Failure(self.unknown_revision(rev)),
        })?;
        if !self.objects.contains(&id)? {
            return Err(Failure(format!(
                "commit `{rev}` is missing from the repository; in a shallow clone, fetch it \
                 first (`git fetch --depth=50 origin {rev}`)"
            )));
        }
        Ok(Snapshot::Tree(self.objects.tree_of(id)?))
    }

    /// Why `rev` resolves to nothing, in the user's terms.
    fn unknown_revision(&self, rev: &str) -> String {
        if rev.starts_with("HEAD") && self.repo.head_id().is_err() {
            return format!(
                "revision `{rev}` does not exist: the current branch has no commits yet"
            );
        }
        // `X~N`, `X^N`: X exists, so the history is what is too short.
        if let Some(cut) = rev.find(['~', '^']) {
            let start = if cut == 0 { "HEAD" } else { &rev[..cut] };
            return match git::resolve(&self.repo, start) {
                Ok(id) => format!(
                    "revision `{rev}` does not exist: `{start}` has no such ancestor (its \
                     first-parent history has {}; a shallow clone has only those it \
                     fetched)",
                    self.first_parent_length(id)
                ),
                Err(_) => format!(
                    "revision `{rev}` does not exist: no branch, tag or commit is called \
                     `{start}`"
                ),
            };
        }
        format!(
            "revision `{rev}` does not exist: no branch, tag or commit is called that (a \
             single-branch or shallow clone may lack it: fetch it first)"
        )
    }

    /// "3 commits": the commits from `id` back along first parents, counting `id` (bounded:
    /// only a message uses it).
    fn first_parent_length(&self, id: gix::ObjectId) -> String {
        const BOUND: usize = 10_000;
        let mut next = Some(id);
        let mut n = 0;
        while let Some(id) = next {
            if n == BOUND {
                return format!("more than {BOUND} commits");
            }
            n += 1;
            next = self
                .repo
                .find_commit(id)
                .ok()
                .and_then(|c| c.parent_ids().next().map(|p| p.detach()));
        }
        if n == 1 {
            "1 commit".to_owned()
        } else {
            format!("{n} commits")
        }
    }

    /// The tree of an object id (commit, tag or tree).
    pub fn object(&self, id: gix::ObjectId) -> Result<Snapshot, Failure> {
        Ok(Snapshot::Tree(self.objects.tree_of(id)?))
    }

    /// The resource files of a snapshot, in memory.
    pub fn tree(&mut self, snapshot: &Snapshot) -> Result<GitTree, Failure> {
        Ok(GitTree::load(
            &self.objects,
            snapshot,
            &self.prefix,
            &mut self.cache,
        )?)
    }

    /// Settings for checking `snapshot`: its own `.nautes-lint.yaml` (unless `--config` names
    /// one) merged with the flags. `label` names the snapshot in messages (`HEAD`, `:` for the
    /// index). The note, when set, says why the cluster rules cannot run.
    pub fn settings(
        &self,
        args: &SettingsArgs,
        snapshot: &Snapshot,
        label: &str,
    ) -> Result<(Settings, Inventory, Option<String>), Failure> {
        let (cfg, in_tree) = match &args.config {
            Some(path) => (super::load_config(path)?, false),
            None => {
                let path = git::join(&self.prefix, config::FILE_NAME);
                let shown = format!("{label}:{path}");
                match snapshot.read_file(&self.objects, &path)? {
                    Some(bytes) => {
                        let text = std::str::from_utf8(&bytes)
                            .map_err(|_| Failure(format!("{shown}: not UTF-8 text")))?;
                        // Relative paths in the file stay relative: they are resolved against
                        // the revision below, not against the current directory.
                        (Config::parse(text, Path::new(&shown), Path::new(""))?, true)
                    }
                    None => (Config::default(), true),
                }
            }
        };
        let context = match (&args.context, &cfg.context) {
            (Some(p), _) => Some(super::load_context(p)?),
            (None, Some(p)) if in_tree => Some(self.tree_context(snapshot, p, label)?),
            (None, Some(p)) => Some(super::load_context(p)?),
            (None, None) => None,
        };
        let from_context = context
            .as_ref()
            .map(super::context_inventory)
            .transpose()?
            .flatten();
        let mut note = None;
        // The same order as for a working tree: `--clusters`, the context, `clusters:`.
        let inventory = match (&args.clusters, from_context, &cfg.clusters) {
            (Some(p), _, _) => Some(super::load_clusters(p, None)?),
            (None, Some(inv), _) => Some(inv),
            (None, None, Some(p)) if in_tree => {
                let (inv, n) = self.tree_clusters(snapshot, p, label)?;
                note = n;
                inv
            }
            (None, None, Some(p)) => Some(super::load_clusters(p, None)?),
            (None, None, None) => None,
        };
        let (settings, inventory) = super::finish_settings(args, cfg, inventory, context.as_ref())?;
        Ok((settings, inventory, note))
    }

    /// The tenant context that a revision's `context: PATH` names: from the revision when it
    /// holds the file, else from the working tree. Unlike a missing inventory, a context that
    /// cannot be found is an error even in a bare repository (a server hook): it was asked for,
    /// and the cross-product rule must not pass on nothing.
    fn tree_context(
        &self,
        snapshot: &Snapshot,
        path: &Path,
        label: &str,
    ) -> Result<crate::context::Context, Failure> {
        if let Some(p) = normalize(&self.prefix, path)
            && let Some(bytes) = snapshot.read_file(&self.objects, &p)?
        {
            return super::parse_context(&bytes, &format!("{label}:{p}"));
        }
        if let Some(workdir) = self.repo.workdir() {
            return super::load_context(&workdir.join(&self.prefix).join(path));
        }
        Err(Failure(format!(
            "`context: {}` in {label}:{} is not in this revision, and a bare repository has no working tree to find it in; pass --context FILE or set NAUTES_LINT_CONTEXT",
            path.display(),
            config::FILE_NAME
        )))
    }

    /// The cluster inventory that a revision's `clusters: PATH` names: from the revision when
    /// PATH is inside it, else from the working tree. A bare repository (a server hook) has no
    /// working tree, so a PATH outside the revision cannot be found there: the cluster rules are
    /// then skipped and the note says so.
    fn tree_clusters(
        &self,
        snapshot: &Snapshot,
        path: &Path,
        label: &str,
    ) -> Result<(Option<Inventory>, Option<String>), Failure> {
        let inside = normalize(&self.prefix, path);
        if let Some(p) = &inside
            && snapshot.contains(&self.objects, p)?
        {
            let files = snapshot.read_files(&self.objects, p, &[".yaml", ".yml"])?;
            let texts = files
                .into_iter()
                .map(|(name, bytes)| {
                    // Shown relative to the checked folder, like the resource paths.
                    let shown = match name
                        .strip_prefix(&self.prefix)
                        .and_then(|n| n.strip_prefix('/'))
                    {
                        Some(rel) if !self.prefix.is_empty() => rel.to_owned(),
                        _ => name.clone(),
                    };
                    String::from_utf8(bytes.to_vec())
                        .map(|t| (shown.clone(), t))
                        .map_err(|_| Failure(format!("{label}:{name}: not UTF-8 text")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let inv = clusters::parse(texts)
                .map_err(|e| Failure(format!("cannot load the cluster inventory: {e}")))?;
            return Ok((Some(inv), None));
        }
        if let Some(workdir) = self.repo.workdir() {
            let on_disk = workdir.join(&self.prefix).join(path);
            let root = workdir.join(&self.prefix);
            return Ok((Some(super::load_clusters(&on_disk, Some(&root))?), None));
        }
        if inside.is_some() {
            return Err(Failure(format!(
                "{label}:{}: `clusters: {}` is not in this revision",
                config::FILE_NAME,
                path.display()
            )));
        }
        Ok((
            None,
            Some(format!(
                "`clusters: {}` in {} points outside the repository, and a bare repository has no working tree to find it in; the cluster rules are skipped (pass --clusters PATH or set NAUTES_LINT_CLUSTERS)",
                path.display(),
                config::FILE_NAME
            )),
        ))
    }
}

/// Where a new ref's history meets what the receiving side already has.
#[derive(Debug, PartialEq, Eq)]
pub enum Known {
    /// Every commit of the new ref is reachable from a known ref: the push introduces nothing.
    Already,
    /// The nearest commit that the known refs reach: what the new commits are compared with.
    Base(gix::ObjectId),
    /// The history shares no commit with any known ref.
    Unrelated,
}

impl Repo {
    /// The commits that the references under `prefix` (every reference for `""`) point at,
    /// peeled; references to trees or blobs are left out.
    pub fn ref_tips(&self, prefix: &str) -> Result<Vec<gix::ObjectId>, Failure> {
        let fail = |e: &dyn std::fmt::Display| Failure(format!("listing references: {e}"));
        let platform = self.repo.references().map_err(|e| fail(&e))?;
        let iter = if prefix.is_empty() {
            platform.all()
        } else {
            platform.prefixed(prefix)
        }
        .map_err(|e| fail(&e))?;
        let mut tips = Vec::new();
        for r in iter {
            let r = r.map_err(|e| fail(&e))?;
            let Ok(id) = r.into_fully_peeled_id() else {
                continue;
            };
            let id = id.detach();
            let is_commit = self
                .repo
                .find_header(id)
                .is_ok_and(|h| h.kind() == gix::objs::Kind::Commit);
            if is_commit {
                tips.push(id);
            }
        }
        tips.sort_unstable();
        tips.dedup();
        Ok(tips)
    }

    /// What a new ref pointing at `new` brings that the refs `tips` do not already reach: the
    /// boundary of `git rev-list NEW --not TIPS`. The new commits may sit in a pre-receive
    /// quarantine, which only `self.objects` sees: they are walked through it down to the first
    /// commits the repository itself has; from there the repository's own graph finds the
    /// merge bases with `tips`. Of several boundary commits, one that `preferred` (the default
    /// branch) reaches wins, so a branch cut from `main` is compared with `main`.
    pub fn nearest_known(
        &self,
        new: gix::ObjectId,
        tips: &[gix::ObjectId],
        preferred: Option<gix::ObjectId>,
    ) -> Result<Known, Failure> {
        let Some(new) = self.objects.commit_of(new)? else {
            return Ok(Known::Unrelated);
        };
        if tips.is_empty() {
            return Ok(Known::Unrelated);
        }
        // Breadth first from the new tip: the commits the repository already has, nearest first.
        let mut edges = Vec::new();
        let mut queue = std::collections::VecDeque::from([new]);
        let mut seen = std::collections::HashSet::from([new]);
        while let Some(c) = queue.pop_front() {
            if self.repo.has_object(c) {
                edges.push(c);
                continue;
            }
            for p in self.objects.parents(&c)? {
                if seen.insert(p) {
                    queue.push_back(p);
                }
            }
        }
        let fail = |e: &dyn std::fmt::Display| Failure(format!("finding the merge base: {e}"));
        let mut candidates = Vec::new();
        for e in edges {
            let bases = self
                .repo
                .merge_bases_many(e, tips)
                .map_err(|err| fail(&err))?;
            if bases.iter().any(|b| *b == e) {
                if e == new {
                    return Ok(Known::Already);
                }
                candidates.push(e);
            } else {
                candidates.extend(bases.into_iter().map(|b| b.detach()));
            }
        }
        let mut unique = std::collections::HashSet::new();
        candidates.retain(|c| unique.insert(*c));
        if let Some(head) = preferred {
            for c in &candidates {
                let reached = self.repo.merge_base(*c, head).map_err(|err| fail(&err))?;
                if reached.is_some_and(|b| b == *c) {
                    return Ok(Known::Base(*c));
                }
            }
        }
        Ok(candidates
            .first()
            .map_or(Known::Unrelated, |c| Known::Base(*c)))
    }
}

/// `prefix/path` as a path inside the repository, or `None` when it leaves it (`../x`, `/x`).
fn normalize(prefix: &str, path: &Path) -> Option<String> {
    let mut parts: Vec<String> = prefix
        .split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    for c in path.components() {
        match c {
            Component::Normal(n) => parts.push(n.to_str()?.to_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_paths_inside_and_outside_the_repository() {
        assert_eq!(
            normalize("", Path::new("clusters")),
            Some("clusters".into())
        );
        assert_eq!(
            normalize("", Path::new("./a/../clusters")),
            Some("clusters".into())
        );
        assert_eq!(
            normalize("sub", Path::new("../clusters")),
            Some("clusters".into())
        );
        assert_eq!(normalize("", Path::new("../clusters")), None);
        assert_eq!(normalize("", Path::new("/etc/clusters")), None);
        assert_eq!(normalize("", Path::new(".")), None);
    }
}
