//! The documentation stays true: the generated rule catalogue matches the rules, and every
//! `nautes-lint ...` command in README.md and docs/*.md names flags the binary has.

use std::path::Path;

fn repo_file(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn docs_rules_md_is_generated_from_the_rules() {
    let path = repo_file("docs/rules.md");
    let want = crate::cli::catalogue::markdown();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &want).expect("write docs/rules.md");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/rules.md is stale: run `UPDATE_DOCS=1 cargo test --lib cli::doc_tests` and commit it"
    );
}

/// Every `nautes-lint SUBCOMMAND ...` command line in `text`, with the line it starts on: in
/// inline code up to the closing backtick, elsewhere (code blocks) to the end of the line, a
/// trailing `\` continuing it, a ` #` comment cut off.
fn commands(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let mut from = 0;
        while let Some(at) = line[from..].find("nautes-lint ") {
            let start = from + at;
            from = start + "nautes-lint ".len();
            // Inside inline code when an odd number of backticks comes before it.
            let in_code = line[..start].matches('`').count() % 2 == 1;
            let mut cmd = if in_code {
                let rest = &line[start..];
                rest[..rest.find('`').unwrap_or(rest.len())].to_owned()
            } else {
                let mut cmd = line[start..].to_owned();
                let mut next = n + 1;
                while cmd.trim_end().ends_with('\\') && next < lines.len() {
                    cmd = format!("{} {}", cmd.trim_end().trim_end_matches('\\'), lines[next]);
                    next += 1;
                }
                cmd
            };
            if let Some(comment) = cmd.find(" #") {
                cmd.truncate(comment);
            }
            out.push((n + 1, cmd));
        }
    }
    out
}

/// The long flags `cmd` takes, with `--help` (and `--version` where clap adds it).
fn long_flags(cmd: &clap::Command) -> Vec<String> {
    let mut flags: Vec<String> = cmd
        .get_arguments()
        .filter_map(|a| a.get_long())
        .map(|l| format!("--{l}"))
        .collect();
    flags.push("--help".into());
    if cmd.get_version().is_some() {
        flags.push("--version".into());
    }
    flags
}

/// The flags a documented command line names that its (sub)command does not have; `None` when
/// the words after `nautes-lint` name no subcommand (prose such as "nautes-lint is ...").
fn unknown_flags(cli: &clap::Command, line: &str) -> Option<Vec<String>> {
    let words: Vec<&str> = line.split_whitespace().skip(1).collect();
    let mut cmd = cli;
    let mut rest = &words[..];
    // Subcommands, then nested subcommands (`hook pre-push`).
    while let Some(sub) = rest.first().and_then(|w| cmd.find_subcommand(w)) {
        cmd = sub;
        rest = &rest[1..];
    }
    if std::ptr::eq(cmd, cli) {
        return None;
    }
    let known = long_flags(cmd);
    Some(
        rest.iter()
            .map(|w| w.trim_start_matches(['[', '(']))
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .map(|w| {
                let w = w.split('=').next().unwrap_or(w);
                w.trim_end_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                    .to_owned()
            })
            .filter(|f| !known.contains(f))
            .collect(),
    )
}

#[test]
fn documented_commands_name_flags_that_exist() {
    use clap::CommandFactory;
    let cli = crate::cli::Cli::command();
    let mut files = vec![repo_file("README.md"), repo_file("hooks/README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(repo_file("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut checked = 0;
    let mut wrong = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        for (line, cmd) in commands(&text) {
            let Some(unknown) = unknown_flags(&cli, &cmd) else {
                continue;
            };
            checked += 1;
            if !unknown.is_empty() {
                wrong.push(format!("{}:{line}: `{cmd}`: {unknown:?}", file.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "flags that do not exist:\n{}",
        wrong.join("\n")
    );
    assert!(checked > 30, "only {checked} commands found");
}

#[test]
fn the_flag_check_finds_a_wrong_flag() {
    use clap::CommandFactory;
    let cli = crate::cli::Cli::command();
    let md = "Run `nautes-lint check --rev HEAD --no-such-flag` or\n\n```sh\nnautes-lint hook pre-commit \\\n  --tags   # a comment --ignored\n```\nnautes-lint is a tool.\n";
    let found: Vec<(usize, Option<Vec<String>>)> = commands(md)
        .iter()
        .map(|(n, c)| (*n, unknown_flags(&cli, c)))
        .collect();
    assert_eq!(
        found,
        [
            (1, Some(vec!["--no-such-flag".to_owned()])),
            (4, Some(vec!["--tags".to_owned()])),
            (7, None)
        ]
    );
}
