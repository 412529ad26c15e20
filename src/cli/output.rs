//! Where reports go: the format renderers on a terminal or into files.

use super::*;

pub(crate) fn color_wanted() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Renders the report once per target. When every report goes to a file, the one-line summary
/// goes to standard output; when a machine-readable report holds standard output, the summary
/// goes to standard error instead, so the terminal (or the CI log) still shows the result.
pub(crate) fn emit(
    targets: &[Target],
    stdout_free: bool,
    report: &Report,
    new_only: bool,
) -> Result<(), Failure> {
    let mut stdout_body = None;
    for t in targets {
        let to_file = t.file.is_some();
        let body = render(t.format, report, to_file, new_only);
        match &t.file {
            Some(path) => {
                std::fs::write(path, body)
                    .map_err(|e| Failure(format!("{}: {e}", path.display())))?;
            }
            None if stdout_free => stdout_body = Some((t.format, body)),
            None => {}
        }
    }
    let summary = render::human::summary(report, new_only);
    match stdout_body {
        Some((format, body)) => {
            print(&body)?;
            if format != Format::Human && targets.len() > 1 {
                eprint!("{summary}");
            }
        }
        None if stdout_free => {
            print(&summary)?;
        }
        None => eprint!("{summary}"),
    }
    Ok(())
}

/// One format of the report; `new_only` words the human summary for `check --new-only`.
pub fn render(format: Format, report: &Report, to_file: bool, new_only: bool) -> String {
    match format {
        Format::Json => render::json::render(report),
        Format::Sarif => render::sarif::render(report),
        Format::Junit => render::junit::render(report),
        Format::Gitlab => render::gitlab::render(report),
        Format::Reviewdog => render::reviewdog::render(report),
        Format::Human => {
            let width = if to_file { 100 } else { terminal_width() };
            render::human::render(
                report,
                &render::human::Options {
                    color: !to_file && color_wanted(),
                    width,
                    new_only,
                },
            )
        }
    }
}

pub(crate) fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|w| *w >= 40)
        .unwrap_or(100)
}
