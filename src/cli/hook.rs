//! The git hooks (`hook pre-commit | pre-push | pre-receive`) and `install-hooks`.
//!
//! Every hook validates a new state against an old one and by default blocks only on errors
//! the change introduces: a repository with old problems can still take commits and fixes.
//! `--all` blocks on every error.

use super::git::{Known, Repo};
use super::{Failure, SettingsArgs, new_errors};
use crate::diagnostic::{Diagnostic, Severity};
use crate::engine::Report;
use crate::render::human;
use crate::render::plural;
use crate::tree::Tree;
use crate::tree::git::Snapshot;
use clap::Subcommand;
use std::fmt::Write as _;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

// The variants are git's hook names.
#[allow(clippy::enum_variant_names)]
#[derive(Subcommand, Debug)]
pub enum HookCommand {
    /// Validate what the commit records (the staged index, not the working tree) against HEAD.
    PreCommit(CommitArgs),
    /// Validate each pushed branch against the remote's old tip.
    ///
    /// Reads `<local ref> <local sha> <remote ref> <remote sha>` lines; deletions pass.
    PrePush {
        #[command(flatten)]
        args: HookArgs,
        /// The remote's name (git passes it).
        remote: Option<String>,
        /// The remote's URL (git passes it).
        url: Option<String>,
    },
    /// Server side: validate each updated branch against its old tip.
    ///
    /// Reads `<old> <new> <ref>` lines and sees the pushed objects in git's quarantine. Prints
    /// findings as `GL-HOOK-ERR:` lines so GitLab shows them. Branch deletions and tags pass;
    /// the push option `nautes-lint.skip` lets a push through, loudly.
    PreReceive(HookArgs),
}

/// The flags of `hook pre-commit`: those of [`HookArgs`] but `--tags` (a commit has no tags).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CommitArgs {
    /// Block on every error, not only on the errors the change introduces.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

impl From<CommitArgs> for HookArgs {
    fn from(a: CommitArgs) -> HookArgs {
        HookArgs {
            all: a.all,
            tags: false,
            settings: a.settings,
        }
    }
}

#[derive(clap::Args, Debug, Clone, Default)]
pub struct HookArgs {
    /// Block on every error, not only on the errors the change introduces.
    #[arg(long)]
    pub all: bool,
    /// Also validate pushed tags (pre-push, pre-receive); by default only branches are.
    #[arg(long)]
    pub tags: bool,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// The variable that lets a client hook through: git hands push options only to the server, so
/// on the client the environment is the way to skip (`NAUTES_LINT_SKIP=1 git commit ...`).
pub const SKIP_VAR: &str = "NAUTES_LINT_SKIP";

/// Whether `NAUTES_LINT_SKIP` asks to skip: `1` or `true`; any other value checks as usual.
fn skip_requested(value: Option<std::ffi::OsString>) -> bool {
    value.is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

pub fn run(cmd: HookCommand) -> Result<ExitCode, Failure> {
    let client = match &cmd {
        HookCommand::PreCommit(_) => Some("commit"),
        HookCommand::PrePush { .. } => Some("push"),
        HookCommand::PreReceive(_) => None,
    };
    if let Some(what) = client
        && skip_requested(std::env::var_os(SKIP_VAR))
    {
        eprintln!(
            "nautes-lint: WARNING: checks skipped with {SKIP_VAR}=1; this {what} was not validated"
        );
        return Ok(ExitCode::SUCCESS);
    }
    match cmd {
        HookCommand::PreCommit(args) => pre_commit(&args.into()),
        HookCommand::PrePush { args, remote, .. } => pre_push(&args, remote.as_deref()),
        HookCommand::PreReceive(args) => Ok(pre_receive(&args)),
    }
}

/// One validated change: the report of the new state compared with the old one.
struct Checked {
    report: Report,
    /// Why the cluster rules could not run, when the configuration named an inventory.
    note: Option<String>,
    /// Errors that block: new ones, or all with `--all`.
    blocking: usize,
}

impl Checked {
    /// What to show: findings that count (new ones, or all with `--all`), new ones first.
    fn shown(&self, all: bool) -> Vec<&Diagnostic> {
        let mut shown: Vec<&Diagnostic> = self
            .report
            .diagnostics
            .iter()
            .filter(|d| all || d.new != Some(false))
            .collect();
        shown.sort_by_key(|d| d.new == Some(false));
        shown
    }

    /// Findings of the base that are still there (not counted unless `--all`).
    fn old(&self) -> (usize, usize) {
        let old = |s: Severity| {
            self.report
                .diagnostics
                .iter()
                .filter(|d| d.severity == s && d.new == Some(false))
                .count()
        };
        (old(Severity::Error), old(Severity::Warning))
    }
}

/// Validates `new` against `base` with the settings of `new`'s own configuration.
fn check_change(
    repo: &mut Repo,
    args: &HookArgs,
    new: &Snapshot,
    base: Option<&Snapshot>,
    label: &str,
) -> Result<Checked, Failure> {
    let (settings, inventory, note) = repo.settings(&args.settings, new, label)?;
    let tree = repo.tree(new)?;
    let base_tree = match base {
        Some(b) => Some(repo.tree(b)?),
        None => None,
    };
    let mut report = crate::validate(&tree, base_tree.as_ref().map(|b| b as &dyn Tree), &settings);
    report.add_sources(&inventory.sources);
    let blocking = if args.all {
        report.errors()
    } else {
        new_errors(&report)
    };
    Ok(Checked {
        report,
        note,
        blocking,
    })
}

/// "(2 errors, 1 warning already in HEAD are not counted)", or "" when there are none.
fn old_counts(checked: &Checked, base_name: &str, all: bool) -> String {
    let (e, w) = checked.old();
    if e + w == 0 {
        return String::new();
    }
    let counted = if all { "" } else { " are not counted" };
    format!(
        " ({}, {} already in {base_name}{counted})",
        plural(e, "error", "errors"),
        plural(w, "warning", "warnings")
    )
}

/// An abbreviated commit id for messages.
fn short(id: &gix::ObjectId) -> String {
    id.to_hex_with_len(12).to_string()
}

fn is_zero(id: &str) -> bool {
    id.bytes().all(|b| b == b'0')
}

fn parse_id(s: &str) -> Result<gix::ObjectId, Failure> {
    gix::ObjectId::from_hex(s.as_bytes())
        .map_err(|e| Failure(format!("`{s}` is not an object id: {e}")))
}

fn read_stdin() -> Result<String, Failure> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).map_err(|e| {
        Failure(format!(
            "cannot read the ref lines git passes on stdin: {e}"
        ))
    })?;
    Ok(input)
}

fn human_options() -> human::Options {
    human::Options {
        color: std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        width: super::terminal_width(),
        new_only: false,
    }
}

/// The client-side rendering of one change: rustc-style findings and the notes, on stderr
/// (git shows a hook's stderr; stdout is not always a terminal).
fn print_client(checked: &Checked, all: bool) {
    let shown = checked.shown(all);
    let mut out = String::new();
    if let Some(note) = &checked.note {
        let _ = writeln!(out, "note: {note}");
    }
    if !shown.is_empty() {
        out.push_str(&human::render_diagnostics(
            &checked.report,
            &shown,
            &human_options(),
        ));
        out.push_str(&human::notes(&checked.report));
    }
    eprint!("{out}");
}

fn pre_commit(args: &HookArgs) -> Result<ExitCode, Failure> {
    let mut repo = Repo::from_hook_env()?;
    let index = Snapshot::index(&repo.repo)?;
    let head = repo
        .repo
        .head()
        .map_err(|e| Failure(format!("cannot read HEAD: {e}")))?;
    let base = if head.is_unborn() {
        None
    } else {
        let id = head
            .into_peeled_id()
            .map_err(|e| Failure(format!("cannot resolve HEAD: {e}")))?
            .detach();
        Some(repo.object(id)?)
    };
    let checked = check_change(&mut repo, args, &index, base.as_ref(), "index")?;
    print_client(&checked, args.all);
    let old = old_counts(&checked, "HEAD", args.all);
    let w = checked
        .report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning && (args.all || d.new != Some(false)))
        .count();
    if checked.blocking > 0 {
        let what = if args.all { "" } else { "new " };
        eprintln!(
            "nautes-lint: commit blocked: {} {what}{}{old}; fix the staged files, or commit with --no-verify to bypass",
            checked.blocking,
            if checked.blocking == 1 {
                "error"
            } else {
                "errors"
            },
        );
        Ok(ExitCode::from(1))
    } else {
        let warnings = if w > 0 {
            format!(", {}", plural(w, "warning", "warnings"))
        } else {
            String::new()
        };
        eprintln!(
            "nautes-lint: ok: {} checked, no {}errors{warnings}{old}",
            plural(checked.report.files, "file", "files"),
            if args.all { "" } else { "new " }
        );
        Ok(ExitCode::SUCCESS)
    }
}

/// Whether a ref is validated: branches always, tags with `--tags`, other refs never.
fn wanted(refname: &str, args: &HookArgs) -> bool {
    refname.starts_with("refs/heads/") || (args.tags && refname.starts_with("refs/tags/"))
}

/// What the pre-commit framework (pre-commit.com) passes a pre-push hook: it reads git's ref
/// lines itself and hands over one ref in the environment.
struct FrameworkPush {
    local: String,
    remote_ref: String,
    /// The pushed tip; absent when the framework checks "all files" (a branch whose every
    /// commit is new to the remote), then the local branch's tip is meant.
    to: Option<String>,
    /// The base: the remote's old tip or the parent of the first new commit.
    from: Option<String>,
    remote: Option<String>,
}

impl FrameworkPush {
    /// `None` outside the framework.
    fn from_env(var: impl Fn(&str) -> Option<String>) -> Option<FrameworkPush> {
        let var = |name| var(name).filter(|v: &String| !v.is_empty());
        let to = var("PRE_COMMIT_TO_REF");
        let local = var("PRE_COMMIT_LOCAL_BRANCH");
        if to.is_none() && local.is_none() {
            return None;
        }
        let local = local.unwrap_or_else(|| "HEAD".to_owned());
        Some(FrameworkPush {
            remote_ref: var("PRE_COMMIT_REMOTE_BRANCH").unwrap_or_else(|| local.clone()),
            local,
            to,
            from: var("PRE_COMMIT_FROM_REF"),
            remote: var("PRE_COMMIT_REMOTE_NAME"),
        })
    }

    /// The ref as the line git would have passed.
    fn line(&self, repo: &Repo) -> Result<String, Failure> {
        let to = match &self.to {
            Some(to) => to.clone(),
            None => peel_ref(repo, &self.local)?
                .ok_or_else(|| Failure(format!("{}: no such branch", self.local)))?
                .to_string(),
        };
        let from = self.from.clone().unwrap_or_else(|| "0".repeat(to.len()));
        Ok(format!("{} {to} {} {from}\n", self.local, self.remote_ref))
    }
}

fn pre_push(args: &HookArgs, remote: Option<&str>) -> Result<ExitCode, Failure> {
    let mut input = read_stdin()?;
    let mut repo = Repo::from_hook_env()?;
    let framework = input
        .trim()
        .is_empty()
        .then(|| FrameworkPush::from_env(|v| std::env::var(v).ok()))
        .flatten();
    let remote = remote.or(framework.as_ref().and_then(|f| f.remote.as_deref()));
    if let Some(f) = &framework {
        input = f.line(&repo)?;
    }
    let mut blocked = Vec::new();
    let mut checked_refs = 0;
    for line in input.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_local_ref, local_sha, remote_ref, remote_sha] = fields[..] else {
            return Err(Failure(format!(
                "unexpected pre-push line `{line}`: git passes `<local ref> <local sha> <remote ref> <remote sha>`"
            )));
        };
        if is_zero(local_sha) || !wanted(remote_ref, args) {
            continue;
        }
        let new_id = parse_id(local_sha)?;
        // The remote's old tip is the base when this repository has it. A new branch (or a
        // tip fetched by nobody here) is compared with the nearest commit the remote's refs
        // known here reach, and passes when they already reach all of it.
        let old = match parse_id(remote_sha)? {
            id if is_zero(remote_sha) || !repo.objects.contains(&id)? => None,
            id => Some(repo.object(id)?),
        };
        let (base, base_name) = match (old, remote) {
            (Some(b), _) => (Some(b), format!("{remote_ref} on the remote")),
            (None, Some(r)) => {
                let tips = repo.ref_tips(&format!("refs/remotes/{r}/"))?;
                let head = peel_ref(&repo, &format!("refs/remotes/{r}/HEAD"))?;
                match repo.nearest_known(new_id, &tips, head)? {
                    Known::Already => continue,
                    Known::Base(id) => (
                        Some(repo.object(id)?),
                        format!("{} (known on {r})", short(&id)),
                    ),
                    Known::Unrelated => (None, "the base".to_owned()),
                }
            }
            (None, None) => (None, "the base".to_owned()),
        };
        let new = repo.object(new_id)?;
        let checked = check_change(&mut repo, args, &new, base.as_ref(), local_sha)?;
        checked_refs += 1;
        let shown = checked.shown(args.all);
        if !shown.is_empty() || checked.note.is_some() {
            eprintln!("nautes-lint: {remote_ref}:");
            print_client(&checked, args.all);
        }
        if checked.blocking > 0 {
            blocked.push(format!(
                "{} in {remote_ref}{}",
                if args.all {
                    plural(checked.blocking, "error", "errors")
                } else {
                    plural(checked.blocking, "new error", "new errors")
                },
                old_counts(&checked, &base_name, args.all)
            ));
        }
    }
    if blocked.is_empty() {
        if checked_refs > 0 {
            eprintln!(
                "nautes-lint: ok: {} checked, no {}errors",
                plural(checked_refs, "ref", "refs"),
                if args.all { "" } else { "new " }
            );
        }
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "nautes-lint: push blocked: {}; fix them, or push with --no-verify to bypass",
            blocked.join("; ")
        );
        Ok(ExitCode::from(1))
    }
}

/// The commit a reference points at, after peeling, or `None` when it does not exist.
fn peel_ref(repo: &Repo, name: &str) -> Result<Option<gix::ObjectId>, Failure> {
    let Some(r) = repo
        .repo
        .try_find_reference(name)
        .map_err(|e| Failure(format!("{name}: {e}")))?
    else {
        return Ok(None);
    };
    match r.into_fully_peeled_id() {
        Ok(id) => Ok(Some(id.detach())),
        // A symbolic ref to a branch that does not exist yet (HEAD of an empty repository).
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(Failure(format!("{name}: {e}"))),
    }
}

/// The push option that lets a push through unchecked.
pub const SKIP_OPTION: &str = "nautes-lint.skip";

/// Push options, as git hands them to pre-receive (`receive.advertisePushOptions` must be on).
fn push_options() -> Vec<String> {
    let count = std::env::var("GIT_PUSH_OPTION_COUNT")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0);
    (0..count)
        .filter_map(|i| std::env::var(format!("GIT_PUSH_OPTION_{i}")).ok())
        .collect()
}

/// Every line is prefixed when the push is rejected: GitLab shows the pusher (in the terminal
/// and in the web UI) only the lines that start with `GL-HOOK-ERR: `.
const GL_PREFIX: &str = "GL-HOOK-ERR: ";

fn pre_receive(args: &HookArgs) -> ExitCode {
    match pre_receive_lines(args) {
        Ok((lines, code)) => {
            let prefix = if code == 0 { "" } else { GL_PREFIX };
            let mut out = String::new();
            for l in lines {
                let _ = writeln!(out, "{prefix}{l}");
            }
            eprint!("{out}");
            ExitCode::from(code)
        }
        Err(Failure(msg)) => {
            // A tool failure rejects the push: an unchecked push must never look like a clean one.
            eprintln!("{GL_PREFIX}nautes-lint: error: {msg}");
            eprintln!("{GL_PREFIX}nautes-lint: push rejected: the check could not run");
            ExitCode::from(2)
        }
    }
}

/// The lines to print and the exit code.
fn pre_receive_lines(args: &HookArgs) -> Result<(Vec<String>, u8), Failure> {
    // Read all input first: git may otherwise see a broken pipe.
    let input = read_stdin()?;
    let mut updates = Vec::new();
    for line in input.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [old, new, refname] = fields[..] else {
            return Err(Failure(format!(
                "unexpected pre-receive line `{line}`: git passes `<old> <new> <ref>`"
            )));
        };
        updates.push((old.to_owned(), new.to_owned(), refname.to_owned()));
    }
    if push_options().iter().any(|o| o == SKIP_OPTION) {
        let who = std::env::var("GL_USERNAME")
            .ok()
            .filter(|u| !u.is_empty())
            .map(|u| format!(" by {u}"))
            .unwrap_or_default();
        let refs: Vec<&str> = updates.iter().map(|u| u.2.as_str()).collect();
        return Ok((
            vec![format!(
                "nautes-lint: WARNING: checks skipped{who} with push option {SKIP_OPTION}; not validated: {}",
                refs.join(", ")
            )],
            0,
        ));
    }
    let mut repo = Repo::from_hook_env()?;
    let mut lines = Vec::new();
    let mut blocked: Vec<String> = Vec::new();
    let mut checked_refs = 0;
    let (mut old_errors, mut new_warnings) = (0, 0);
    let several = updates
        .iter()
        .filter(|(_, new, r)| !is_zero(new) && wanted(r, args))
        .count()
        > 1;
    for (old, new, refname) in &updates {
        if is_zero(new) || !wanted(refname, args) {
            continue;
        }
        let new_id = parse_id(new)?;
        let base = if is_zero(old) {
            // A new ref is compared with the nearest commit the repository already had; one
            // whose commits are all there (a branch created at an existing commit) brings
            // nothing new to check.
            let tips = repo.ref_tips("")?;
            match repo.nearest_known(new_id, &tips, peel_ref(&repo, "HEAD")?)? {
                Known::Already => continue,
                Known::Base(id) => Some(repo.object(id)?),
                Known::Unrelated => None,
            }
        } else {
            Some(repo.object(parse_id(old)?)?)
        };
        let new_state = repo.object(new_id)?;
        let checked = check_change(&mut repo, args, &new_state, base.as_ref(), new)?;
        checked_refs += 1;
        let shown = checked.shown(args.all);
        if several && !shown.is_empty() {
            lines.push(format!("{refname}:"));
        }
        if let Some(note) = &checked.note {
            lines.push(format!("note: {note}"));
        }
        for d in &shown {
            one_line(d, &mut lines);
        }
        let (e, _) = checked.old();
        old_errors += e;
        new_warnings += shown
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count();
        if checked.blocking > 0 {
            blocked.push(format!(
                "{} in {refname}",
                if args.all {
                    plural(checked.blocking, "error", "errors")
                } else {
                    plural(checked.blocking, "new error", "new errors")
                }
            ));
        }
    }
    let old_note = if old_errors > 0 && !args.all {
        format!(
            " ({} already there not counted)",
            plural(old_errors, "error", "errors")
        )
    } else {
        String::new()
    };
    if blocked.is_empty() {
        if checked_refs > 0 {
            let warnings = if new_warnings > 0 {
                format!(", {}", plural(new_warnings, "warning", "warnings"))
            } else {
                String::new()
            };
            lines.push(format!(
                "nautes-lint: ok: {} checked, no {}errors{warnings}{old_note}",
                plural(checked_refs, "ref", "refs"),
                if args.all { "" } else { "new " }
            ));
        }
        Ok((lines, 0))
    } else {
        lines.push(format!(
            "nautes-lint: push rejected: {}{old_note}",
            blocked.join(", ")
        ));
        Ok((lines, 1))
    }
}

/// `path:line:col rule message`, then the help and the related places on lines of their own.
fn one_line(d: &Diagnostic, lines: &mut Vec<String>) {
    let (line, col, _, _) = d.line_col();
    let severity = match d.severity {
        Severity::Error => "",
        Severity::Warning => " (warning)",
    };
    let old = if d.new == Some(false) {
        " (already in the base)"
    } else {
        ""
    };
    lines.push(format!(
        "{}:{line}:{col} {} {}{severity}{old}",
        d.path, d.rule, d.message
    ));
    if let Some(help) = &d.help {
        for h in help.lines() {
            lines.push(format!("  help: {h}"));
        }
    }
    for r in &d.related {
        let (line, col, _, _) = crate::diagnostic::line_col(r.span);
        let rev = if r.base { " (base revision)" } else { "" };
        lines.push(format!("  {}:{line}:{col}{rev}: {}", r.path, r.message));
    }
}

#[derive(clap::Args, Debug)]
pub struct InstallArgs {
    /// Install the pre-commit hook (validates the staged files). With neither flag, both.
    #[arg(long)]
    pub pre_commit: bool,
    /// Install the pre-push hook (validates each pushed branch).
    #[arg(long)]
    pub pre_push: bool,
    /// Replace a hook that nautes-lint did not write, or one it wrote that was edited since (it
    /// is kept as `<hook>.orig`, or `<hook>.orig.N` when that exists).
    #[arg(long)]
    pub force: bool,
}

/// Marks a hook file as ours, so `install-hooks` may update it without `--force`.
const MARKER: &str = "# Written by `nautes-lint install-hooks`";

/// Starts the last line of a client hook: a checksum of the lines before it, so that any later
/// version of `install-hooks` can tell a hook it wrote, unedited, from one a person changed.
const CHECKSUM: &str = "# nautes-lint-checksum: ";

/// The client hook script for `hook` (`pre-commit` or `pre-push`), running `binary` unless the
/// `NAUTES_LINT` environment variable names another one; its last line is its checksum.
pub fn client_script(hook: &str, binary: &str) -> String {
    let body = client_body(hook, binary);
    format!("{body}{CHECKSUM}{}\n", checksum(&body))
}

/// The first 16 hex digits of the SHA-256 of `text`.
fn checksum(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// [`client_script`] without its checksum line (as it was before that line existed).
fn client_body(hook: &str, binary: &str) -> String {
    let what = match hook {
        "pre-commit" => "validates what the commit records (the staged files) against HEAD",
        _ => "validates each pushed branch against the remote's old tip",
    };
    format!(
        "#!/bin/sh\n\
         # nautes-lint {hook} hook: {what}.\n\
         {MARKER}; run it again to update, delete this file to remove.\n\
         # NAUTES_LINT names the binary; NAUTES_LINT_CLUSTERS the cluster inventory (see docs/hooks.md).\n\
         bin=${{NAUTES_LINT:-{}}}\n\
         command -v \"$bin\" >/dev/null 2>&1 || bin=nautes-lint\n\
         exec \"$bin\" hook {hook} \"$@\"\n",
        shell_quote(binary)
    )
}

/// Single-quotes `s` for sh.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@".contains(&b))
    {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

pub fn install(args: &InstallArgs) -> Result<ExitCode, Failure> {
    let repo = gix::discover(".").map_err(|e| Failure(format!("not in a git repository: {e}")))?;
    let dir = hooks_dir(&repo)?;
    let (commit, push) = if !args.pre_commit && !args.pre_push {
        (true, true)
    } else {
        (args.pre_commit, args.pre_push)
    };
    // The absolute path of this binary: hooks run with git's PATH, which may not have it.
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.to_str().map(str::to_owned))
        .unwrap_or_else(|| "nautes-lint".to_owned());
    let hooks: Vec<&str> = [("pre-commit", commit), ("pre-push", push)]
        .into_iter()
        .filter_map(|(h, on)| on.then_some(h))
        .collect();
    // Check every target before writing any, so a refusal leaves nothing half-installed.
    for hook in &hooks {
        let path = dir.join(hook);
        let why = match Existing::of(&path, hook) {
            Existing::Foreign => "was not written by nautes-lint",
            Existing::Edited => "was written by nautes-lint and edited since",
            Existing::None | Existing::Ours => continue,
        };
        if !args.force {
            return Err(Failure(format!(
                "{} {why}, so it was kept; rerun with --force to replace it (it is then kept as {})",
                path.display(),
                backup_path(&dir, hook).display()
            )));
        }
    }
    std::fs::create_dir_all(&dir).map_err(|e| Failure(format!("{}: {e}", dir.display())))?;
    for hook in hooks {
        let path = dir.join(hook);
        if matches!(
            Existing::of(&path, hook),
            Existing::Foreign | Existing::Edited
        ) {
            let backup = backup_path(&dir, hook);
            std::fs::rename(&path, &backup)
                .map_err(|e| Failure(format!("{}: {e}", backup.display())))?;
            eprintln!("kept the previous {hook} hook as {}", backup.display());
        }
        write_executable(&path, &client_script(hook, &binary))?;
        eprintln!("installed {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `core.hooksPath` when set (relative to the working tree, as git runs hooks there), else
/// the `hooks` folder of the repository shared by all its worktrees.
fn hooks_dir(repo: &gix::Repository) -> Result<PathBuf, Failure> {
    let configured = repo
        .config_snapshot()
        .trusted_path("core.hooksPath")
        .map_err(|e| Failure(format!("core.hooksPath: {e}")))?;
    Ok(match configured {
        Some(p) if p.is_relative() => repo.workdir().unwrap_or(repo.git_dir()).join(p),
        Some(p) => p,
        None => repo.common_dir().join("hooks"),
    })
}

/// What is at a hook's path before installing.
enum Existing {
    None,
    /// A script `install-hooks` wrote, as it wrote it (for any binary path): safe to update.
    Ours,
    /// Ours, changed by hand since.
    Edited,
    Foreign,
}

impl Existing {
    fn of(path: &Path, hook: &str) -> Existing {
        if std::fs::symlink_metadata(path).is_err() {
            return Existing::None;
        }
        match std::fs::read_to_string(path) {
            Ok(text) if text.contains(MARKER) => {
                if is_unedited(&text, hook) {
                    Existing::Ours
                } else {
                    Existing::Edited
                }
            }
            _ => Existing::Foreign,
        }
    }
}

/// Whether `text` is a client hook as `install-hooks` wrote it: its checksum line matches, or
/// (a hook written before that line existed) it is [`client_body`] for `hook` with some binary
/// path on one line.
fn is_unedited(text: &str, hook: &str) -> bool {
    if let Some((body, sum)) = text.rsplit_once(CHECKSUM) {
        return sum.trim_end() == checksum(body);
    }
    const PLACEHOLDER: &str = "@BINARY@";
    let script = client_body(hook, PLACEHOLDER);
    let Some((before, after)) = script.split_once(PLACEHOLDER) else {
        return false;
    };
    text.len() >= before.len() + after.len()
        && text.starts_with(before)
        && text.ends_with(after)
        && !text[before.len()..text.len() - after.len()].contains('\n')
}

/// Where a replaced hook is kept: `<hook>.orig`, or the first `<hook>.orig.N` that is free, so
/// a second `--force` never overwrites the first backup.
fn backup_path(dir: &Path, hook: &str) -> PathBuf {
    let free = |p: &PathBuf| std::fs::symlink_metadata(p).is_err();
    let first = dir.join(format!("{hook}.orig"));
    if free(&first) {
        return first;
    }
    (1..)
        .map(|n| dir.join(format!("{hook}.orig.{n}")))
        .find(free)
        .expect("some numbered name is free")
}

fn write_executable(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_client_hooks_are_the_installed_ones_with_the_binary_from_path() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("hooks");
        for hook in ["pre-commit", "pre-push"] {
            let shipped = std::fs::read_to_string(root.join(hook)).unwrap();
            assert_eq!(shipped, client_script(hook, "nautes-lint"), "hooks/{hook}");
        }
    }

    #[test]
    fn our_script_for_any_binary_is_unedited_and_a_changed_one_is_not() {
        for binary in ["nautes-lint", "/opt/my tools/nautes-lint"] {
            for script in [
                client_script("pre-push", binary),
                // As written before the checksum line.
                client_body("pre-push", binary),
            ] {
                assert!(is_unedited(&script, "pre-push"), "{script}");
                let edited = script.replace("exec ", "echo hi\nexec ");
                assert!(!is_unedited(&edited, "pre-push"), "{edited}");
            }
        }
        assert!(!is_unedited(&client_body("pre-push", "x"), "pre-commit"));
    }

    #[test]
    fn only_1_or_true_skips() {
        assert!(skip_requested(Some("1".into())));
        assert!(skip_requested(Some("TRUE".into())));
        assert!(!skip_requested(Some("0".into())));
        assert!(!skip_requested(Some("".into())));
        assert!(!skip_requested(None));
    }

    #[test]
    fn paths_are_quoted_for_sh() {
        assert_eq!(shell_quote("/usr/bin/nautes-lint"), "/usr/bin/nautes-lint");
        assert_eq!(shell_quote("/a b/it's"), "'/a b/it'\\''s'");
    }

    #[test]
    fn only_branches_unless_tags_are_asked_for() {
        let mut args = HookArgs::default();
        assert!(wanted("refs/heads/main", &args));
        assert!(!wanted("refs/tags/v1", &args));
        assert!(!wanted("refs/merge-requests/1/head", &args));
        args.tags = true;
        assert!(wanted("refs/tags/v1", &args));
    }
}
