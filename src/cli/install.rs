//! `install-hooks`: writes the client hooks into a repository, keeping what a person wrote.

use super::Failure;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
    fn paths_are_quoted_for_sh() {
        assert_eq!(shell_quote("/usr/bin/nautes-lint"), "/usr/bin/nautes-lint");
        assert_eq!(shell_quote("/a b/it's"), "'/a b/it'\\''s'");
    }
}
