//! The command line: parses flags, builds [`Settings`](crate::Settings) from flags and the config
//! file, picks a source and an output. Exit codes: 0 clean, 1 error findings, 2 usage or I/O.

use crate::config::{self, Config};
use crate::engine::{Report, Settings};
use crate::render::plural;
use crate::render::{self, Format};
use crate::tree::Tree;
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod catalogue;
mod check;
#[cfg(test)]
mod doc_tests;
mod git;
mod hook;
mod install;
mod output;
mod serve;
mod settings;

use check::*;
use output::*;
use serve::*;
use settings::*;
pub(crate) use settings::{SettingsArgs, settings};

#[derive(Parser, Debug)]
#[command(
    name = "nautes-lint",
    version,
    about = "Validates Nautes default.project GitOps repositories"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Validate a default.project tree.
    Check(CheckArgs),
    /// List the rules: id, default severity, one line each.
    Rules,
    /// Print a rule's documentation: what, why, an example, the fix.
    Explain {
        /// The rule id, as `nautes-lint rules` lists it.
        rule: String,
    },
    /// Run the GitLab webhook service (secrets come from the environment, see `--help`).
    Serve(ServeArgs),
    /// Run as a git hook: read what git hands the hook, print findings, exit 1 to block.
    #[command(subcommand)]
    Hook(hook::HookCommand),
    /// Write the client hooks (pre-commit, pre-push) into the current repository.
    InstallHooks(install::InstallArgs),
    /// Run the language server on stdio (for editors: findings while typing, navigation).
    Lsp(crate::lsp::LspArgs),
    /// Print the embedded JSON Schema of a kind.
    Schema {
        /// DeploymentRuntime, Environment, Project, CodeRepo, CodeRepoBinding,
        /// ProjectPipelineRuntime or Cluster.
        kind: String,
    },
}

/// A failure of the tool itself (exit 2), never to be confused with a clean result.
#[derive(Debug)]
pub(crate) struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

pub fn main() -> ExitCode {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Ok((Cli::from_arg_matches(&m)?, m)));
    let cli = match parsed {
        Ok((mut cli, matches)) => {
            // Derive loses where each flag stood; pairing --format with --output needs it.
            if let (Command::Check(args), Some(("check", m))) =
                (&mut cli.command, matches.subcommand())
            {
                args.format_at = m
                    .indices_of("format")
                    .map(Iterator::collect)
                    .unwrap_or_default();
                args.output_at = m
                    .indices_of("output")
                    .map(Iterator::collect)
                    .unwrap_or_default();
            }
            cli
        }
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(Failure(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Check(args) => check(&args),
        Command::Serve(args) => serve(&args),
        Command::Hook(cmd) => hook::run(cmd),
        Command::InstallHooks(args) => install::install(&args),
        Command::Lsp(args) => crate::lsp::run(&args),
        Command::Rules => print(&catalogue::list()),
        Command::Explain { rule } => match catalogue::explain(&rule) {
            Some(text) => print(&text),
            None => Err(Failure(unknown_rule(&rule))),
        },
        Command::Schema { kind } => match crate::schema::text(&kind) {
            Some(t) => print(&format!("{}\n", t.trim_end())),
            None => Err(Failure(format!(
                "no schema for `{kind}`; the kinds are {}",
                crate::schema::SCHEMAS
                    .iter()
                    .map(|(k, _)| *k)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        },
    }
}

/// An unknown rule id, with the closest id for a typo, or else the ids that contain what was
/// typed (`explain destination`).
fn unknown_rule(rule: &str) -> String {
    let hint = crate::suggest::did_you_mean(rule, crate::rules::ids())
        .or_else(|| {
            let needle = rule.to_ascii_lowercase();
            let mut containing: Vec<String> = crate::rules::ids()
                .filter(|id| !needle.is_empty() && id.contains(needle.as_str()))
                .map(|id| format!("`{id}`"))
                .collect();
            containing.sort();
            match containing.as_slice() {
                [] => None,
                [one] => Some(format!("did you mean {one}?")),
                many => Some(format!("did you mean one of {}?", many.join(", "))),
            }
        })
        .map(|h| format!(" ({h})"))
        .unwrap_or_default();
    format!("unknown rule `{rule}`{hint}; `nautes-lint rules` lists them")
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn print(s: &str) -> Result<ExitCode, Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e.into()),
    }
}

pub(crate) use crate::render::new_errors;

/// SIGTERM (Kubernetes) or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutdown signal received");
}
