//! Merge-request review threads, as a plan: given the new findings, the merge request's diff
//! and the threads the service opened before, which threads to open, resolve and reopen. Pure:
//! the worker makes the GitLab calls (`threads_sync.rs`), the tests here need no HTTP.
//!
//! A thread belongs to a finding by the hidden marker in its first note,
//! `<!-- nautes-lint: fingerprint=... -->`, so a restart or a lost database finds the threads
//! again on GitLab and opens no second one. A thread is resolved by the service when its
//! finding is gone from the head commit, with a reply that says so and carries
//! [`FIXED_MARKER`]; only such a thread is reopened when the finding comes back. A thread a
//! person resolved stays resolved: they decided about it.

use crate::config::ThreadMode;
use crate::diagnostic::{Diagnostic, Origin, Severity};
use crate::render::plural;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The start of the hidden marker of a thread's first note; the fingerprint and ` -->` follow.
pub const MARKER_PREFIX: &str = "<!-- nautes-lint: fingerprint=";
/// Carried by the reply the service adds when it resolves a thread whose finding is fixed.
pub const FIXED_MARKER: &str = "<!-- nautes-lint: fixed -->";
/// Carried by the reply the service adds when it reopens a thread.
pub const BACK_MARKER: &str = "<!-- nautes-lint: back -->";

/// One changed file of the merge request's diff, read from its unified-diff hunks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileDiff {
    pub old_path: String,
    pub new_path: String,
    pub new_file: bool,
    pub deleted_file: bool,
    /// New-side line numbers the diff adds.
    pub added: BTreeSet<u32>,
    /// Unchanged lines shown in the hunks: new line -> old line.
    pub context: BTreeMap<u32, u32>,
    /// Each hunk's end on both sides (one past the last line), in order: where the old and new
    /// line numbers of the unchanged lines between hunks come from.
    hunk_ends: Vec<(u32, u32)>,
}

impl FileDiff {
    /// Reads GitLab's `diff` text of one file (hunks only, no `---`/`+++` header). A line that
    /// is not part of a hunk is ignored; a malformed hunk header ends the reading, so what could
    /// not be read is never taken as changed.
    pub fn parse(old_path: &str, new_path: &str, diff: &str) -> FileDiff {
        let mut f = FileDiff {
            old_path: old_path.to_owned(),
            new_path: new_path.to_owned(),
            ..FileDiff::default()
        };
        let (mut old, mut new) = (0u32, 0u32);
        let mut in_hunk = false;
        for line in diff.lines() {
            if let Some(header) = line.strip_prefix("@@ ") {
                let Some((o, n)) = hunk_starts(header) else {
                    break;
                };
                if in_hunk {
                    f.hunk_ends.push((old, new));
                }
                (old, new, in_hunk) = (o, n, true);
                continue;
            }
            if !in_hunk {
                continue;
            }
            match line.as_bytes().first() {
                Some(b'+') => {
                    f.added.insert(new);
                    new += 1;
                }
                Some(b'-') => old += 1,
                Some(b'\\') => {}
                // A context line (GitLab keeps its leading space; an empty line is an empty one).
                _ => {
                    f.context.insert(new, old);
                    old += 1;
                    new += 1;
                }
            }
        }
        if in_hunk {
            f.hunk_ends.push((old, new));
        }
        f
    }

    /// Where a thread on new-side `line` goes in `mode`, if anywhere.
    pub fn position(&self, line: u32, mode: ThreadMode) -> Option<LinePosition> {
        if mode == ThreadMode::Off || self.deleted_file {
            return None;
        }
        if self.added.contains(&line) {
            return Some(LinePosition {
                new_line: line,
                old_line: None,
            });
        }
        let context = self.context.get(&line).copied();
        match (mode, context) {
            (ThreadMode::DiffContext | ThreadMode::File, Some(old)) => Some(LinePosition {
                new_line: line,
                old_line: Some(old),
            }),
            (ThreadMode::File, None) if !self.new_file => {
                // An unchanged line between hunks: shifted by what the hunks before it did.
                let (old_end, new_end) = self
                    .hunk_ends
                    .iter()
                    .rev()
                    .find(|(_, n)| *n <= line)
                    .copied()
                    .unwrap_or((1, 1));
                let old = (line + old_end).checked_sub(new_end)?;
                (old > 0).then_some(LinePosition {
                    new_line: line,
                    old_line: Some(old),
                })
            }
            _ => None,
        }
    }
}

/// `-a,b +c,d @@ ...` -> (a, c); a hunk of an empty side (`-0,0`) starts at 0.
fn hunk_starts(header: &str) -> Option<(u32, u32)> {
    let mut parts = header.split_whitespace();
    let old = parts.next()?.strip_prefix('-')?;
    let new = parts.next()?.strip_prefix('+')?;
    let start = |s: &str| s.split(',').next()?.parse::<u32>().ok();
    Some((start(old)?, start(new)?))
}

/// A line of the diff a thread can be opened on: `new_line` alone for an added line, with
/// `old_line` for an unchanged one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinePosition {
    pub new_line: u32,
    pub old_line: Option<u32>,
}

/// A thread the service opened before, read from the merge request's discussions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub discussion: String,
    pub fingerprint: String,
    /// The first note's id (the thread's anchor, `#note_<id>`).
    pub note: i64,
    pub resolved: bool,
    /// Resolved by the service because its finding was fixed (its last state reply says so).
    pub resolved_as_fixed: bool,
}

/// One note of a discussion, as much of it as the plan needs.
#[derive(Debug, Clone)]
pub struct NoteView<'a> {
    pub id: i64,
    pub body: &'a str,
    pub author: Option<i64>,
    pub resolved: bool,
}

/// The service's thread in a discussion, if it is one: its first note is the token user's and
/// carries the marker (a reviewer quoting it copies the marker, but that note is not ours).
pub fn existing(discussion: &str, notes: &[NoteView<'_>], me: i64) -> Option<Existing> {
    let first = notes.first()?;
    if first.author != Some(me) {
        return None;
    }
    let fingerprint = first
        .body
        .split_once(MARKER_PREFIX)?
        .1
        .split_once(" -->")?
        .0;
    if fingerprint.is_empty() || !fingerprint.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let last_state = notes.iter().rev().find(|n| {
        n.author == Some(me) && (n.body.contains(FIXED_MARKER) || n.body.contains(BACK_MARKER))
    });
    let resolved = first.resolved;
    Some(Existing {
        discussion: discussion.to_owned(),
        fingerprint: fingerprint.to_owned(),
        note: first.id,
        resolved,
        resolved_as_fixed: resolved && last_state.is_some_and(|n| n.body.contains(FIXED_MARKER)),
    })
}

/// A new finding that may get a thread.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub fingerprint: String,
    pub path: String,
    pub line: u32,
    pub severity: Severity,
}

/// What to do on the merge request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    /// (candidate, where): threads to open, errors first, at most the limit.
    pub open: Vec<(usize, LinePosition)>,
    /// Existing threads (indices) whose finding is gone: resolve with a reply.
    pub resolve: Vec<usize>,
    /// Existing threads resolved as fixed whose finding is back: reopen with a reply.
    pub reopen: Vec<usize>,
    /// (candidate, existing thread): findings that have their thread already.
    pub kept: Vec<(usize, usize)>,
    /// Candidates on a line of the diff over the limit of new threads.
    pub over_limit: Vec<usize>,
    /// Candidates on no line the mode puts a thread on.
    pub outside_diff: Vec<usize>,
}

/// The plan. `present` is every fingerprint of the head commit's findings (new or not): a
/// thread is resolved only when its finding is gone, not when it merely stopped being new.
pub fn plan(
    candidates: &[Candidate],
    present: &HashSet<&str>,
    diffs: &[FileDiff],
    existing: &[Existing],
    mode: ThreadMode,
    max_new: usize,
) -> Plan {
    let mut p = Plan::default();
    if mode == ThreadMode::Off {
        return p;
    }
    let by_path: HashMap<&str, &FileDiff> =
        diffs.iter().map(|d| (d.new_path.as_str(), d)).collect();
    let mut threads: HashMap<&str, usize> = HashMap::new();
    for (i, e) in existing.iter().enumerate() {
        threads.entry(e.fingerprint.as_str()).or_insert(i);
    }
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(candidates[*i].severity));
    for i in order {
        let c = &candidates[i];
        if let Some(&t) = threads.get(c.fingerprint.as_str()) {
            p.kept.push((i, t));
            if existing[t].resolved_as_fixed {
                p.reopen.push(t);
            }
            continue;
        }
        match by_path
            .get(c.path.as_str())
            .and_then(|d| d.position(c.line, mode))
        {
            None => p.outside_diff.push(i),
            Some(_) if p.open.len() >= max_new => p.over_limit.push(i),
            Some(at) => p.open.push((i, at)),
        }
    }
    p.outside_diff.sort_unstable();
    p.over_limit.sort_unstable();
    for (i, e) in existing.iter().enumerate() {
        if !e.resolved && !present.contains(e.fingerprint.as_str()) {
            p.resolve.push(i);
        }
    }
    p
}

/// The first note of a finding's thread: rule, message, help, related places linked at the
/// head commit (`blob` is `<project web_url>/-/blob/<sha>`), the rule's documentation folded,
/// and the hidden marker.
pub fn thread_body(d: &Diagnostic, fingerprint: &str, blob: &str) -> String {
    let severity = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut out = format!(
        "{MARKER_PREFIX}{fingerprint} -->\n**nautes-lint** {severity} `{}`: {}\n",
        d.rule,
        one_line(&d.message)
    );
    if let Some(h) = &d.help {
        out.push_str(&format!("\n**help:** {}\n", one_line(h)));
    }
    if !d.related.is_empty() {
        out.push_str("\nRelated:\n");
        for r in &d.related {
            let (line, _, _, _) = crate::diagnostic::line_col(r.span);
            // Only a place in the checked commit has a page to link to.
            let elsewhere = match &r.origin {
                Origin::Here => None,
                Origin::Base => Some("the target branch".to_owned()),
                Origin::Repository(repo) => Some(repo.to_string()),
            };
            if let Some(place) = elsewhere {
                out.push_str(&format!(
                    "- `{}:{line}` (in {place}): {}\n",
                    r.path,
                    one_line(&r.message)
                ));
            } else {
                out.push_str(&format!(
                    "- [`{}:{line}`]({blob}/{}#L{line}): {}\n",
                    r.path,
                    crate::render::sarif::uri(&r.path),
                    one_line(&r.message)
                ));
            }
        }
    }
    let doc = d.rule.doc();
    if !doc.is_empty() {
        // The documentation's `## ` headings would be the largest text of a review comment.
        let doc: Vec<String> = doc
            .trim()
            .lines()
            .map(|l| match l.strip_prefix("## ") {
                Some(h) => format!("**{h}**"),
                None => l.to_owned(),
            })
            .collect();
        out.push_str(&format!(
            "\n<details><summary>About <code>{}</code></summary>\n\n{}\n\n</details>\n",
            d.rule,
            doc.join("\n")
        ));
    }
    out
}

/// The reply that resolves a thread.
pub fn fixed_reply(sha: &str) -> String {
    format!(
        "{FIXED_MARKER}\nFixed in {}: nautes-lint no longer finds this. Resolving the thread.\n",
        short(sha)
    )
}

/// The reply that reopens a thread.
pub fn back_reply(sha: &str) -> String {
    format!(
        "{BACK_MARKER}\nBack in {}: nautes-lint finds this again. Reopening the thread.\n",
        short(sha)
    )
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(8)]
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// What the threads came to, for the summary note.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub mode: ThreadMode,
    pub max_new: usize,
    /// (finding location `path:line`, thread URL) of the open threads of new findings.
    pub links: Vec<(String, String)>,
    pub opened: usize,
    pub over_limit: usize,
    pub outside_diff: usize,
    /// Positions GitLab refused (400): those findings are in the note only.
    pub refused: usize,
    pub resolved: usize,
    pub reopened: usize,
    /// Why the threads could not be brought up to date this time, if they could not.
    pub failed: Option<String>,
}

/// The summary note's section about the threads.
pub fn note_section(s: &Summary) -> String {
    if s.mode == ThreadMode::Off {
        return String::new();
    }
    let mut out = String::from("\n#### Review threads\n\n");
    if s.links.is_empty() {
        out.push_str("No finding of this merge request has a review thread.\n");
    } else {
        out.push_str(&format!(
            "{} on the changed lines ({} opened by this push):\n",
            plural(s.links.len(), "thread", "threads"),
            s.opened
        ));
        for (at, url) in &s.links {
            out.push_str(&format!("- [`{at}`]({url})\n"));
        }
    }
    let mut notes = Vec::new();
    if s.over_limit > 0 {
        notes.push(format!(
            "{} on the changed lines {} no thread: at most {} threads are opened per push.",
            plural(s.over_limit, "more finding", "more findings"),
            if s.over_limit == 1 { "has" } else { "have" },
            s.max_new
        ));
    }
    if s.outside_diff > 0 {
        let place = match s.mode {
            ThreadMode::Added => "a line this merge request adds",
            ThreadMode::DiffContext => "a line of this merge request's diff",
            _ => "a file this merge request changes",
        };
        notes.push(format!(
            "{} not on {place}: listed above only.",
            plural(s.outside_diff, "finding is", "findings are")
        ));
    }
    if s.refused > 0 {
        notes.push(format!(
            "GitLab refused the diff position of {}: listed above only.",
            plural(s.refused, "finding", "findings")
        ));
    }
    if s.resolved > 0 {
        notes.push(format!(
            "{} resolved: {} fixed.",
            plural(s.resolved, "thread", "threads"),
            if s.resolved == 1 {
                "its finding is"
            } else {
                "their findings are"
            }
        ));
    }
    if s.reopened > 0 {
        notes.push(format!(
            "{} reopened: the finding is back.",
            plural(s.reopened, "thread", "threads")
        ));
    }
    if let Some(why) = &s.failed {
        notes.push(format!(
            "The threads could not be updated: {}.",
            one_line(why)
        ));
    }
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            out.push_str(&n);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str =
        "@@ -1,4 +1,5 @@\n a\n-b\n+B\n+B2\n c\n d\n@@ -20,3 +21,2 @@ spec:\n x\n-y\n z\n";

    fn cand(fp: &str, path: &str, line: u32, severity: Severity) -> Candidate {
        Candidate {
            fingerprint: fp.into(),
            path: path.into(),
            line,
            severity,
        }
    }

    fn thread(fp: &str, resolved: bool, fixed: bool) -> Existing {
        Existing {
            discussion: format!("d-{fp}"),
            fingerprint: fp.into(),
            note: 1,
            resolved,
            resolved_as_fixed: fixed,
        }
    }

    #[test]
    fn hunks_give_added_and_context_lines() {
        let f = FileDiff::parse("a.yaml", "a.yaml", DIFF);
        assert_eq!(f.added, BTreeSet::from([2, 3]));
        assert_eq!(f.context.get(&1), Some(&1));
        assert_eq!(f.context.get(&4), Some(&3));
        assert_eq!(f.context.get(&21), Some(&20));
        assert_eq!(f.context.get(&22), Some(&22));
        let at = |line, mode| f.position(line, mode);
        assert_eq!(
            at(3, ThreadMode::Added),
            Some(LinePosition {
                new_line: 3,
                old_line: None
            })
        );
        assert_eq!(at(4, ThreadMode::Added), None);
        assert_eq!(at(4, ThreadMode::DiffContext).unwrap().old_line, Some(3));
        // Line 10 lies between the hunks: the first hunk added one line more than it removed.
        assert_eq!(at(10, ThreadMode::DiffContext), None);
        assert_eq!(at(10, ThreadMode::File).unwrap().old_line, Some(9));
        // After the second hunk (which removed a line) the shift is back to none.
        assert_eq!(at(30, ThreadMode::File).unwrap().old_line, Some(30));
        assert_eq!(at(3, ThreadMode::Off), None);
    }

    #[test]
    fn a_new_file_is_all_added_and_a_bad_header_stops_the_reading() {
        let f = FileDiff::parse("n.yaml", "n.yaml", "@@ -0,0 +1,3 @@\n+a\n+b\n+c\n");
        assert_eq!(f.added, BTreeSet::from([1, 2, 3]));
        let f = FileDiff::parse("n.yaml", "n.yaml", "@@ -0,0 +1 @@\n+a\n@@ bogus @@\n+b\n");
        assert_eq!(f.added, BTreeSet::from([1]));
    }

    #[test]
    fn the_plan_opens_resolves_reopens_and_caps() {
        let diffs = [FileDiff::parse("a.yaml", "a.yaml", DIFF)];
        let candidates = [
            cand("w1", "a.yaml", 2, Severity::Warning),
            cand("e1", "a.yaml", 3, Severity::Error),
            cand("e2", "a.yaml", 4, Severity::Error),
            cand("e3", "b.yaml", 2, Severity::Error),
            cand("back", "a.yaml", 9, Severity::Error),
            cand("kept", "a.yaml", 2, Severity::Error),
        ];
        let existing = [
            thread("back", true, true),
            thread("kept", false, false),
            thread("gone", false, false),
            thread("gone-already", true, true),
            thread("person-resolved", true, false),
        ];
        let present: HashSet<&str> = ["w1", "e1", "e2", "e3", "back", "kept", "person-resolved"]
            .into_iter()
            .collect();
        let p = plan(
            &candidates,
            &present,
            &diffs,
            &existing,
            ThreadMode::Added,
            1,
        );
        // The error first; the warning on an added line is over the limit of one.
        assert_eq!(p.open.iter().map(|o| o.0).collect::<Vec<_>>(), [1]);
        assert_eq!(p.over_limit, [0]);
        assert_eq!(p.outside_diff, [2, 3]);
        assert_eq!(p.reopen, [0]);
        assert_eq!(p.resolve, [2]);
        assert_eq!(p.kept.len(), 2);

        let p = plan(
            &candidates,
            &present,
            &diffs,
            &existing,
            ThreadMode::Off,
            20,
        );
        assert_eq!(p, Plan::default());
    }

    #[test]
    fn only_the_token_users_marked_first_note_makes_a_thread_ours() {
        fn note(id: i64, body: &str, author: i64, resolved: bool) -> NoteView<'_> {
            NoteView {
                id,
                body,
                author: Some(author),
                resolved,
            }
        }
        let marked = format!("{MARKER_PREFIX}abc123 -->\nbody");
        let (fixed_a, back_b) = (fixed_reply("a"), back_reply("b"));
        let fixed_long = fixed_reply("abcdef0123");
        let e = existing("d1", &[note(5, &marked, 99, false)], 99).unwrap();
        assert_eq!(
            (e.fingerprint.as_str(), e.note, e.resolved),
            ("abc123", 5, false)
        );
        assert!(existing("d1", &[note(5, &marked, 7, false)], 99).is_none());
        assert!(existing("d1", &[note(5, "no marker", 99, false)], 99).is_none());
        // Resolved by the service (its last state reply says fixed) or by a person.
        let fixed = [note(5, &marked, 99, true), note(6, &fixed_long, 99, true)];
        assert!(existing("d1", &fixed, 99).unwrap().resolved_as_fixed);
        let by_person = [note(5, &marked, 99, true), note(6, "done", 7, true)];
        assert!(!existing("d1", &by_person, 99).unwrap().resolved_as_fixed);
        let back_then_person = [
            note(5, &marked, 99, true),
            note(6, &fixed_a, 99, true),
            note(7, &back_b, 99, true),
        ];
        assert!(
            !existing("d1", &back_then_person, 99)
                .unwrap()
                .resolved_as_fixed
        );
    }

    #[test]
    fn a_thread_body_links_related_places_at_the_head_commit() {
        use crate::diagnostic::Related;
        use crate::yaml::{Pos, Span};
        let at = |line| Span {
            start: Pos {
                index: 0,
                line,
                col: 4,
            },
            end: Pos {
                index: 3,
                line,
                col: 7,
            },
        };
        let d = Diagnostic {
            rule: crate::rules::find("dr-project-not-permitted").expect("a rule id"),
            fix: None,
            severity: Severity::Error,
            path: "runtimes/dr dev.yaml".into(),
            span: at(19),
            pointer: "/spec/projectsRef/0".into(),
            message: "project `web-portal` is not permitted".into(),
            help: Some("add a CodeRepoBinding".into()),
            resource: None,
            related: vec![
                Related {
                    path: "runtimes/dr dev.yaml".into(),
                    span: at(13),
                    message: "the manifest code repo".into(),
                    origin: Origin::Here,
                },
                Related {
                    path: "envs/old.yaml".into(),
                    span: at(4),
                    message: "was here".into(),
                    origin: Origin::Base,
                },
            ],
            new: Some(true),
            fingerprint: "f00d".into(),
        };
        let body = thread_body(&d, "f00d", "http://gl/g/p/-/blob/abc");
        assert!(
            body.starts_with("<!-- nautes-lint: fingerprint=f00d -->\n"),
            "{body}"
        );
        assert!(body.contains("**help:** add a CodeRepoBinding"), "{body}");
        assert!(
            body.contains("- [`runtimes/dr dev.yaml:13`](http://gl/g/p/-/blob/abc/runtimes/dr%20dev.yaml#L13): the manifest code repo"),
            "{body}"
        );
        assert!(
            body.contains("- `envs/old.yaml:4` (in the target branch): was here"),
            "{body}"
        );
        assert!(body.contains("<details><summary>About <code>dr-project-not-permitted</code>"));
        assert!(
            body.contains("**What it does**") && !body.contains("## "),
            "{body}"
        );
    }

    #[test]
    fn the_note_section_counts_what_has_no_thread() {
        let s = Summary {
            mode: ThreadMode::Added,
            max_new: 20,
            links: vec![(
                "a.yaml:3".into(),
                "http://x/-/merge_requests/3#note_5".into(),
            )],
            opened: 1,
            over_limit: 30,
            outside_diff: 2,
            refused: 1,
            ..Summary::default()
        };
        let text = note_section(&s);
        assert!(
            text.contains("[`a.yaml:3`](http://x/-/merge_requests/3#note_5)"),
            "{text}"
        );
        assert!(
            text.contains("30 more findings on the changed lines have no thread: at most 20"),
            "{text}"
        );
        assert!(
            text.contains("2 findings are not on a line this merge request adds"),
            "{text}"
        );
        assert!(
            text.contains("refused the diff position of 1 finding"),
            "{text}"
        );
        assert_eq!(
            note_section(&Summary {
                mode: ThreadMode::Off,
                ..s
            }),
            ""
        );
    }
}
