//! `nautes-lint check`: its flags, the report targets, the working-tree and revision checks,
//! `--fix`, and the exit code.

use super::*;

#[derive(clap::Args, Debug, Default, Clone)]
pub struct CheckArgs {
    /// The repository root.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Output format (default `human`). Repeat it, each followed by its --output, to write
    /// several reports from one check.
    #[arg(long, value_enum, action = ArgAction::Append)]
    pub format: Vec<Format>,
    /// Write the report of the --format before it to FILE (`-`: standard output); the one-line
    /// summary still goes to the terminal. At most one format may go to standard output.
    #[arg(long, value_name = "FILE", action = ArgAction::Append)]
    pub output: Vec<PathBuf>,
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Validate this git revision instead of the working tree: its files are read from the
    /// object database (no checkout; works in a bare repository). DIR is the repository, or a
    /// folder in its working tree to check that folder of the revision.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// Compare with this git revision: the base is validated too, each finding says whether it
    /// is new, and rules that need a base run (dr-destination-changed).
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// Exit 1 only for errors that are new compared with --base.
    #[arg(long, requires = "base")]
    pub new_only: bool,
    /// Apply the safe fixes (`nautes-lint rules` marks the fixable rules), editing only the
    /// bytes of each offending node, then check again and report what remains.
    #[arg(long)]
    pub fix: bool,
    /// With --fix: print the fixes as a unified diff and write nothing.
    #[arg(long, requires = "fix")]
    pub dry_run: bool,
    /// Pass when there are no resource files at all (a product repository that is really
    /// empty). Without it that is an error: the path is probably not a default.project.
    #[arg(long)]
    pub allow_empty: bool,
    /// Positions of the --format values on the command line (filled by `main`), to pair each
    /// --output with the --format before it.
    #[arg(skip)]
    pub format_at: Vec<usize>,
    /// Positions of the --output values on the command line.
    #[arg(skip)]
    pub output_at: Vec<usize>,
}

/// One report to write: a format, to a file or (without one) to standard output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub format: Format,
    pub file: Option<PathBuf>,
}

/// Pairs the --format and --output flags. One of each (or fewer) pair in any order, as they
/// always did; with more, each --output belongs to the nearest --format before it. A format
/// without a file goes to standard output, and only one may.
pub fn targets(args: &CheckArgs) -> Result<Vec<Target>, Failure> {
    if args.format.len() <= 1 && args.output.len() <= 1 {
        return Ok(vec![Target {
            format: args.format.first().copied().unwrap_or(Format::Human),
            file: args.output.first().and_then(|f| to_file(f)),
        }]);
    }
    // Built in code rather than parsed: pair them in order.
    let positioned =
        args.format_at.len() == args.format.len() && args.output_at.len() == args.output.len();
    let (format_at, output_at): (Vec<usize>, Vec<usize>) = if positioned {
        (args.format_at.clone(), args.output_at.clone())
    } else {
        (
            (0..args.format.len()).map(|i| 2 * i).collect(),
            (0..args.output.len()).map(|i| 2 * i + 1).collect(),
        )
    };
    let mut events: Vec<(usize, Option<Format>, Option<&PathBuf>)> = format_at
        .iter()
        .zip(&args.format)
        .map(|(at, f)| (*at, Some(*f), None))
        .chain(
            output_at
                .iter()
                .zip(&args.output)
                .map(|(at, o)| (*at, None, Some(o))),
        )
        .collect();
    events.sort_by_key(|e| e.0);
    // Each target with whether an --output was paired with it (`-` pairs without a file).
    let mut paired: Vec<(Target, bool)> = Vec::new();
    for (_, format, file) in events {
        match (format, file) {
            (Some(format), _) => paired.push((Target { format, file: None }, false)),
            (None, Some(file)) => match paired.last_mut() {
                Some((t, done @ false)) => {
                    t.file = to_file(file);
                    *done = true;
                }
                _ => {
                    return Err(Failure(format!(
                        "--output {} has no --format before it to write; write `--format FORMAT --output FILE` for each report",
                        file.display()
                    )));
                }
            },
            (None, None) => {}
        }
    }
    let out: Vec<Target> = paired.into_iter().map(|(t, _)| t).collect();
    let to_stdout: Vec<&str> = out
        .iter()
        .filter(|t| t.file.is_none())
        .map(|t| t.format.as_str())
        .collect();
    if to_stdout.len() > 1 {
        return Err(Failure(format!(
            "only one report can go to standard output, but {} have no --output FILE (or `--output -`)",
            to_stdout.join(", ")
        )));
    }
    let mut files: Vec<&PathBuf> = out.iter().filter_map(|t| t.file.as_ref()).collect();
    files.sort();
    if let Some(w) = files.windows(2).find(|w| w[0] == w[1]) {
        return Err(Failure(format!(
            "--output {} is given twice; each report needs its own file",
            w[0].display()
        )));
    }
    Ok(out)
}

/// The file of an `--output`; `-` is standard output.
pub(crate) fn to_file(output: &Path) -> Option<PathBuf> {
    (output != Path::new("-")).then(|| output.to_path_buf())
}

pub(crate) fn check(args: &CheckArgs) -> Result<ExitCode, Failure> {
    let targets = targets(args)?;
    if args.dry_run
        && let Some(t) = targets
            .iter()
            .find(|t| t.file.is_none() && !args.format.is_empty())
    {
        return Err(Failure(format!(
            "--dry-run prints the diff on standard output; write the {} report to a file with --output FILE",
            t.format.as_str()
        )));
    }
    let root = &args.dir;
    if args.fix && args.rev.is_some() {
        return Err(Failure(
            "--fix edits the working tree; it cannot be combined with --rev".into(),
        ));
    }
    let Some(rev) = &args.rev else {
        return check_working_tree(args, &targets);
    };
    let mut repo = git::Repo::discover(root)?;
    let snapshot = repo.revision(rev)?;
    let (settings, inventory, note) = repo.settings(&args.settings, &snapshot, rev)?;
    if let Some(note) = note {
        eprintln!("note: {note}");
    }
    let tree = repo.tree(&snapshot)?;
    if tree.entries().is_empty() && !args.allow_empty {
        let place = match repo.prefix.as_str() {
            "" => format!("revision `{rev}`"),
            prefix => format!("`{prefix}` of revision `{rev}`"),
        };
        return Err(Failure(nothing_to_check(&place)));
    }
    let base = base_tree(&mut repo, args.base.as_deref())?;
    let mut report = crate::validate(&tree, base.as_ref().map(|b| b as &dyn Tree), &settings);
    report.add_sources(&inventory.sources);
    emit(&targets, true, &report, args.new_only)?;
    Ok(check_exit_code(&report, args.new_only))
}

/// Why a check that found no resource file at all fails: the gate fails closed, since a CI job
/// pointed at the wrong path would otherwise pass on nothing.
pub(crate) fn nothing_to_check(place: &str) -> String {
    format!(
        "{place} holds no resource files in Nautes' layout folders ({}/): nothing to check. \
         Point the check at the root of the default.project repository, or pass --allow-empty \
         if the product's repository is really empty",
        crate::tree::LAYOUT_FOLDERS.join("/, ")
    )
}

/// Whether `dir` is a bare git repository (no working tree to check, only revisions).
pub(crate) fn is_bare_repository(dir: &Path) -> bool {
    gix::open(dir).is_ok_and(|r| r.is_bare())
}

/// `check` on the files in DIR, compared with `--base` when given, fixed with `--fix`.
pub(crate) fn check_working_tree(
    args: &CheckArgs,
    targets: &[Target],
) -> Result<ExitCode, Failure> {
    let root = &args.dir;
    let open =
        || crate::tree::FsTree::open(root).map_err(|e| Failure(format!("{}: {e}", root.display())));
    // Listing the tree and loading the cluster inventory are independent: overlap them.
    let (tree, loaded) = rayon::join(open, || settings(&args.settings, root));
    let (tree, (settings, inventory)) = (tree?, loaded?);
    if tree.entries().is_empty() && !args.allow_empty {
        if is_bare_repository(root) {
            return Err(Failure(format!(
                "{} is a bare git repository: it has no working tree to check; check a revision \
                 with `--rev HEAD` (or another branch or commit)",
                root.display()
            )));
        }
        return Err(Failure(nothing_to_check(&format!("`{}`", root.display()))));
    }
    let base = match &args.base {
        Some(rev) => base_tree(&mut git::Repo::discover(root)?, Some(rev))?,
        None => None,
    };
    let base = base.as_ref().map(|b| b as &dyn Tree);
    let mut report = validate_showing_progress(&tree, base, &settings);
    if args.fix {
        let fixes = crate::fix::plan(&tree, &report);
        if args.dry_run {
            let diff: String = fixes
                .iter()
                .map(|f| crate::fix::diff(&f.path, &f.old, &f.new))
                .collect();
            print(&diff)?;
            // What the check would say after the fixes, without writing them.
            let replaced: HashMap<usize, Vec<u8>> = fixes
                .iter()
                .map(|f| (f.index, f.new.clone().into_bytes()))
                .collect();
            let fixed_tree = crate::tree::Overlay::new(&tree, replaced);
            report = validate_showing_progress(&fixed_tree, base, &settings);
            eprint!("{}", fix_summary(&fixes, true));
        } else {
            for f in &fixes {
                write_fixed(root, &f.path, &f.new)?;
            }
            eprint!("{}", fix_summary(&fixes, false));
            if !fixes.is_empty() {
                report = validate_showing_progress(&open()?, base, &settings);
            }
        }
    }
    report.add_sources(&inventory.sources);
    // A dry run's diff owns standard output.
    emit(targets, !args.dry_run, &report, args.new_only)?;
    Ok(check_exit_code(&report, args.new_only))
}

/// The tree of the base revision, read from the repository's object database.
pub(crate) fn base_tree(
    repo: &mut git::Repo,
    rev: Option<&str>,
) -> Result<Option<crate::tree::GitTree>, Failure> {
    let Some(rev) = rev else { return Ok(None) };
    let snapshot = repo.revision(rev)?;
    Ok(Some(repo.tree(&snapshot)?))
}

/// 1 when there are errors (with `--new-only`: new ones), else 0.
pub(crate) fn check_exit_code(report: &Report, new_only: bool) -> ExitCode {
    if new_only {
        if new_errors(report) > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    } else {
        exit_code(report)
    }
}

pub(crate) fn fix_summary(fixes: &[crate::fix::FileFix], dry_run: bool) -> String {
    let count: usize = fixes.iter().map(|f| f.edits.len()).sum();
    if count == 0 {
        return "fix: nothing to fix\n".into();
    }
    let verb = if dry_run { "would fix" } else { "fixed" };
    let mut out = String::new();
    for f in fixes {
        let mut rules: Vec<&str> = f.edits.iter().map(|e| e.rule.id).collect();
        rules.sort_unstable();
        rules.dedup();
        out.push_str(&format!(
            "{verb} {}: {} ({})\n",
            f.path,
            plural(f.edits.len(), "finding", "findings"),
            rules.join(", ")
        ));
    }
    out.push_str(&format!(
        "fix: {verb} {} in {}{}\n",
        plural(count, "finding", "findings"),
        plural(fixes.len(), "file", "files"),
        if dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    ));
    out
}

/// Writes a fixed file in place: the new content goes to a temporary file beside it, which then
/// replaces the original in one rename, so a crash leaves either the old or the new file, never
/// half of one. A symlink inside the tree is followed and its target rewritten (replacing the
/// link itself with a regular file would change the repository's layout).
pub(crate) fn write_fixed(root: &Path, path: &str, content: &str) -> Result<(), Failure> {
    let failed = |e: std::io::Error| Failure(format!("cannot write the fix of {path}: {e}"));
    let target = root.join(path).canonicalize().map_err(failed)?;
    if !target.starts_with(root.canonicalize().map_err(failed)?) {
        return Err(Failure(format!(
            "{path} resolves outside {}; not fixed",
            root.display()
        )));
    }
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.nautes-lint-{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let permissions = std::fs::metadata(&target)?.permissions();
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(content.as_bytes())?;
        f.set_permissions(permissions)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &target)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        failed(e)
    })
}

/// Files above which a check shows a progress bar (below it, a check takes well under a second).
pub const PROGRESS_MIN_FILES: usize = 2_000;

/// A progress bar only for a person watching a long check: stderr is a terminal, not in CI
/// (`CI` set), not inside a git hook (git sets `GIT_DIR` or `GIT_INDEX_FILE` for hooks), and the
/// tree is large.
pub fn progress_wanted(
    files: usize,
    stderr_is_terminal: bool,
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> bool {
    stderr_is_terminal
        && files > PROGRESS_MIN_FILES
        && ["CI", "GIT_DIR", "GIT_INDEX_FILE"]
            .iter()
            .all(|v| env(v).is_none())
}

pub(crate) fn validate_showing_progress(
    tree: &dyn crate::tree::Tree,
    base: Option<&dyn crate::tree::Tree>,
    settings: &Settings,
) -> Report {
    // With a base, the engine reports the files of both trees.
    let files = tree.entries().len() + base.map_or(0, |b| b.entries().len());
    if !progress_wanted(files, std::io::stderr().is_terminal(), |v| {
        std::env::var_os(v)
    }) {
        return crate::validate(tree, base, settings);
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(files as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("checking {pos}/{len} files {wide_bar} {eta}")
    {
        bar.set_style(style);
    }
    let report = crate::engine::validate_with_progress(
        tree,
        base,
        settings,
        Some(&|n: usize| bar.inc(n as u64)),
    );
    bar.finish_and_clear();
    report
}

pub fn exit_code(report: &Report) -> ExitCode {
    if report.errors() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_output_pairing() {
        use crate::render::Format;
        use std::path::PathBuf;
        let args = |formats: &[(usize, Format)], outputs: &[(usize, &str)]| CheckArgs {
            format: formats.iter().map(|f| f.1).collect(),
            format_at: formats.iter().map(|f| f.0).collect(),
            output: outputs.iter().map(|o| PathBuf::from(o.1)).collect(),
            output_at: outputs.iter().map(|o| o.0).collect(),
            ..CheckArgs::default()
        };
        let t = |format, file: Option<&str>| Target {
            format,
            file: file.map(PathBuf::from),
        };
        // Nothing given: human to standard output.
        assert_eq!(targets(&args(&[], &[])).unwrap(), [t(Format::Human, None)]);
        // One of each pairs in either order.
        assert_eq!(
            targets(&args(&[(4, Format::Json)], &[(2, "r.json")])).unwrap(),
            [t(Format::Json, Some("r.json"))]
        );
        // Several: each output belongs to the format before it.
        assert_eq!(
            targets(&args(
                &[(2, Format::Human), (4, Format::Gitlab), (8, Format::Junit)],
                &[(6, "gl.json"), (10, "junit.xml")]
            ))
            .unwrap(),
            [
                t(Format::Human, None),
                t(Format::Gitlab, Some("gl.json")),
                t(Format::Junit, Some("junit.xml"))
            ]
        );
        // `-` is standard output, and pairs like a file.
        assert_eq!(
            targets(&args(
                &[(2, Format::Json), (6, Format::Sarif)],
                &[(4, "-"), (8, "s.sarif")]
            ))
            .unwrap(),
            [t(Format::Json, None), t(Format::Sarif, Some("s.sarif"))]
        );
        assert!(
            targets(&args(
                &[(2, Format::Json), (6, Format::Sarif)],
                &[(4, "-"), (8, "-")]
            ))
            .is_err()
        );
        // An output before any format, two formats on standard output, one file twice: refused.
        assert!(targets(&args(&[(4, Format::Json), (6, Format::Sarif)], &[(2, "x")])).is_err());
        assert!(targets(&args(&[(2, Format::Json), (4, Format::Sarif)], &[])).is_err());
        assert!(
            targets(&args(
                &[(2, Format::Json), (6, Format::Sarif)],
                &[(4, "x"), (8, "x")]
            ))
            .is_err()
        );
    }

    #[test]
    fn progress_only_for_a_person_watching_a_large_check() {
        let none = |_: &str| None;
        let big = PROGRESS_MIN_FILES + 1;
        assert!(progress_wanted(big, true, none));
        assert!(
            !progress_wanted(PROGRESS_MIN_FILES, true, none),
            "small tree"
        );
        assert!(
            !progress_wanted(big, false, none),
            "stderr is not a terminal"
        );
        for var in ["CI", "GIT_DIR", "GIT_INDEX_FILE"] {
            assert!(
                !progress_wanted(big, true, |v| (v == var).then(|| "1".into())),
                "{var} set"
            );
        }
    }
}
