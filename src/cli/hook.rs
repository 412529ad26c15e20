//! The git hooks (`hook pre-commit | pre-push | pre-receive`).
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

/// One ref update as a hook receives it; `None` stands for git's all-zero id (a new ref as the
/// old side, a deletion as the new side).
#[derive(Debug, PartialEq, Eq)]
struct RefUpdate {
    /// The ref on the receiving side.
    refname: String,
    old: Option<gix::ObjectId>,
    new: Option<gix::ObjectId>,
}

/// git's pre-push protocol: `<local ref> <local sha> <remote ref> <remote sha>` lines.
fn parse_pre_push(input: &str) -> Result<Vec<RefUpdate>, Failure> {
    input
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [_local_ref, local_sha, remote_ref, remote_sha] = fields[..] else {
                return Err(Failure(format!(
                    "unexpected pre-push line `{line}`: git passes `<local ref> <local sha> <remote ref> <remote sha>`"
                )));
            };
            Ok(RefUpdate {
                refname: remote_ref.to_owned(),
                old: id_or_zero(remote_sha)?,
                new: id_or_zero(local_sha)?,
            })
        })
        .collect()
}

/// git's pre-receive protocol: `<old> <new> <ref>` lines.
fn parse_pre_receive(input: &str) -> Result<Vec<RefUpdate>, Failure> {
    input
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [old, new, refname] = fields[..] else {
                return Err(Failure(format!(
                    "unexpected pre-receive line `{line}`: git passes `<old> <new> <ref>`"
                )));
            };
            Ok(RefUpdate {
                refname: refname.to_owned(),
                old: id_or_zero(old)?,
                new: id_or_zero(new)?,
            })
        })
        .collect()
}

fn id_or_zero(s: &str) -> Result<Option<gix::ObjectId>, Failure> {
    if is_zero(s) {
        Ok(None)
    } else {
        parse_id(s).map(Some)
    }
}

/// The refs the receiving side is known to have: the remote's as this repository last fetched
/// them (pre-push), or the repository's own (pre-receive).
struct KnownRefs {
    /// Every ref below this prefix ("" for all).
    prefix: String,
    /// Its default branch, preferred when a new ref meets several known commits.
    default_ref: String,
    /// For messages.
    name: String,
}

struct Receiver {
    /// `None` when nothing is known (a pre-push without a remote name).
    known: Option<KnownRefs>,
    /// The old tip is always there (server side); otherwise it is used only when this
    /// repository has it.
    trust_old: bool,
}

/// One checked ref and what it was compared with, in words.
struct RefResult {
    refname: String,
    checked: Checked,
    base_name: String,
}

/// The one loop of both push hooks: each updated branch (and tag, with `--tags`) validated
/// against its base. A deletion passes, and so does a new ref whose commits the receiving side
/// already reaches (it brings nothing to check); it is left out of the results.
fn check_updates(
    repo: &mut Repo,
    args: &HookArgs,
    updates: &[RefUpdate],
    receiver: &Receiver,
) -> Result<Vec<RefResult>, Failure> {
    let mut results = Vec::new();
    // The known refs and their default branch, listed once for all the new refs of a push.
    let mut tips: Option<(Vec<gix::ObjectId>, Option<gix::ObjectId>)> = None;
    for u in updates {
        let Some(new_id) = u.new else { continue };
        if !wanted(&u.refname, args) {
            continue;
        }
        let old = match u.old {
            Some(id) if receiver.trust_old || repo.objects.contains(&id)? => Some(id),
            _ => None,
        };
        // Without the old tip, the base is the nearest commit the known refs reach.
        let (base, base_name) = match (old, &receiver.known) {
            (Some(id), _) => (Some(id), format!("{} on the remote", u.refname)),
            (None, Some(known)) => {
                if tips.is_none() {
                    tips = Some((
                        repo.ref_tips(&known.prefix)?,
                        peel_ref(repo, &known.default_ref)?,
                    ));
                }
                let (tips, head) = tips.as_ref().expect("listed just above");
                match repo.nearest_known(new_id, tips, *head)? {
                    Known::Already => continue,
                    Known::Base(id) => (
                        Some(id),
                        format!("{} (known on {})", short(&id), known.name),
                    ),
                    Known::Unrelated => (None, "the base".to_owned()),
                }
            }
            (None, None) => (None, "the base".to_owned()),
        };
        let new = repo.object(new_id)?;
        let base = match base {
            Some(id) => Some(repo.object(id)?),
            None => None,
        };
        let checked = check_change(repo, args, &new, base.as_ref(), &new_id.to_string())?;
        results.push(RefResult {
            refname: u.refname.clone(),
            checked,
            base_name,
        });
    }
    Ok(results)
}

/// `1 new error`, `3 errors` (with `--all` every error blocks).
fn blocking_count(n: usize, all: bool) -> String {
    if all {
        plural(n, "error", "errors")
    } else {
        plural(n, "new error", "new errors")
    }
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
    let updates = parse_pre_push(&input)?;
    let receiver = Receiver {
        known: remote.map(|r| KnownRefs {
            prefix: format!("refs/remotes/{r}/"),
            default_ref: format!("refs/remotes/{r}/HEAD"),
            name: r.to_owned(),
        }),
        trust_old: false,
    };
    let results = check_updates(&mut repo, args, &updates, &receiver)?;
    let checked_refs = results.len();
    let mut blocked = Vec::new();
    for RefResult {
        refname,
        checked,
        base_name,
    } in &results
    {
        let shown = checked.shown(args.all);
        if !shown.is_empty() || checked.note.is_some() {
            eprintln!("nautes-lint: {refname}:");
            print_client(checked, args.all);
        }
        if checked.blocking > 0 {
            blocked.push(format!(
                "{} in {refname}{}",
                blocking_count(checked.blocking, args.all),
                old_counts(checked, base_name, args.all)
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

/// Push options, as git hands them to pre-receive (`receive.advertisePushOptions` must be on);
/// `var` reads the environment.
fn push_options(var: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let count = var("GIT_PUSH_OPTION_COUNT")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0);
    (0..count)
        .filter_map(|i| var(&format!("GIT_PUSH_OPTION_{i}")))
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
    let updates = parse_pre_receive(&input)?;
    if push_options(|v| std::env::var(v).ok())
        .iter()
        .any(|o| o == SKIP_OPTION)
    {
        let who = std::env::var("GL_USERNAME")
            .ok()
            .filter(|u| !u.is_empty())
            .map(|u| format!(" by {u}"))
            .unwrap_or_default();
        let refs: Vec<&str> = updates.iter().map(|u| u.refname.as_str()).collect();
        return Ok((
            vec![format!(
                "nautes-lint: WARNING: checks skipped{who} with push option {SKIP_OPTION}; not validated: {}",
                refs.join(", ")
            )],
            0,
        ));
    }
    let mut repo = Repo::from_hook_env()?;
    let receiver = Receiver {
        known: Some(KnownRefs {
            prefix: String::new(),
            default_ref: "HEAD".to_owned(),
            name: "this repository".to_owned(),
        }),
        // The server has every old tip: a missing one is a broken repository, not a new branch.
        trust_old: true,
    };
    let results = check_updates(&mut repo, args, &updates, &receiver)?;
    let checked_refs = results.len();
    let several = results.len() > 1;
    let mut lines = Vec::new();
    let mut blocked: Vec<String> = Vec::new();
    let (mut old_errors, mut new_warnings) = (0, 0);
    for RefResult {
        refname, checked, ..
    } in &results
    {
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
                blocking_count(checked.blocking, args.all)
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
        lines.push(format!(
            "  {}:{line}:{col}{}: {}",
            r.path,
            r.origin.note(),
            r.message
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";
    const Z: &str = "0000000000000000000000000000000000000000";

    fn id(s: &str) -> Option<gix::ObjectId> {
        Some(gix::ObjectId::from_hex(s.as_bytes()).unwrap())
    }

    #[test]
    fn the_two_push_protocols_parse_to_the_same_updates() {
        let push = parse_pre_push(&format!(
            "refs/heads/main {B} refs/heads/main {A}\nrefs/heads/new {B} refs/heads/new {Z}\n(delete) {Z} refs/heads/old {A}\n\n"
        ))
        .unwrap();
        let receive = parse_pre_receive(&format!(
            "{A} {B} refs/heads/main\n{Z} {B} refs/heads/new\n{A} {Z} refs/heads/old\n"
        ))
        .unwrap();
        assert_eq!(push, receive);
        assert_eq!(
            receive,
            vec![
                RefUpdate {
                    refname: "refs/heads/main".into(),
                    old: id(A),
                    new: id(B)
                },
                RefUpdate {
                    refname: "refs/heads/new".into(),
                    old: None,
                    new: id(B)
                },
                RefUpdate {
                    refname: "refs/heads/old".into(),
                    old: id(A),
                    new: None
                },
            ]
        );
        assert!(parse_pre_receive("one two").is_err());
        assert!(parse_pre_push(&format!("refs/heads/x {A} refs/heads/x nothex")).is_err());
    }

    #[test]
    fn push_options_come_from_the_variables_git_sets() {
        let env = |name: &str| match name {
            "GIT_PUSH_OPTION_COUNT" => Some("2".to_owned()),
            "GIT_PUSH_OPTION_0" => Some("ci.skip".to_owned()),
            "GIT_PUSH_OPTION_1" => Some(SKIP_OPTION.to_owned()),
            _ => None,
        };
        assert_eq!(push_options(env), ["ci.skip", SKIP_OPTION]);
        assert!(push_options(|_| None).is_empty());
        assert!(push_options(|n| (n == "GIT_PUSH_OPTION_COUNT").then(|| "x".into())).is_empty());
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
    fn only_branches_unless_tags_are_asked_for() {
        let mut args = HookArgs::default();
        assert!(wanted("refs/heads/main", &args));
        assert!(!wanted("refs/tags/v1", &args));
        assert!(!wanted("refs/merge-requests/1/head", &args));
        args.tags = true;
        assert!(wanted("refs/tags/v1", &args));
    }
}
