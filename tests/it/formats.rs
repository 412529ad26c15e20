//! The CI report formats (SARIF, JUnit, GitLab Code Quality) on every invalid fixture, several
//! reports from one run, and the GitLab CI template.

use crate::common::assert_snapshot;
use crate::common::tools::{self, copy_invalid_fixture, lint_ci as bin};
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;

/// Every rule's fixture, whole (`crate::common::tools::invalid_fixture`), by id.
fn fixtures() -> Vec<(String, crate::common::tools::Fixture)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/invalid");
    let mut ids: Vec<String> = std::fs::read_dir(&root)
        .expect("fixtures/invalid exists")
        .map(|e| e.expect("readable entry").path())
        // A fixture with `base/` and `head/` trees needs a repository (tests/fixtures.rs).
        .filter(|p| p.is_dir() && !p.join("base").is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    assert!(ids.len() >= 40, "the fixtures are there");
    ids.into_iter()
        .map(|id| {
            let tree = crate::common::tools::invalid_fixture(&id);
            (id, tree)
        })
        .collect()
}

/// Runs `check .` in `dir` (so paths in the report are relative, as in CI) with `args`.
fn check(dir: &Path, args: &[&str]) -> (String, String, i32) {
    let out = bin()
        .current_dir(dir)
        .arg("check")
        .arg(".")
        .args(args)
        .output()
        .expect("the binary runs");
    let code = out.status.code().expect("exited");
    assert!(
        code == 0 || code == 1,
        "{}: exit {code}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).expect("UTF-8 output"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        code,
    )
}

fn report(dir: &Path) -> Value {
    serde_json::from_str(&check(dir, &["--format", "json"]).0).expect("JSON report")
}

/// The expected rule and `path:line` of a fixture.
fn expected(dir: &Path) -> (String, String) {
    let text = std::fs::read_to_string(dir.join("expected.txt")).expect("expected.txt");
    let mut parts = text.split_whitespace();
    (
        parts.next().expect("rule").to_owned(),
        parts.next().expect("path:line").to_owned(),
    )
}

#[test]
fn sarif_snapshots_and_schema() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json"),
    )
    .expect("the SARIF schema is shipped");
    // The shipped schema's `language` pattern (`...[a-zA-Z]{2}]?$`) is not a valid ECMA regex, so
    // the draft-07 meta-schema rejects the schema itself. The OASIS errata replaced it with the
    // pattern below; the file stays as published and the erratum is applied here.
    const BAD_PATTERN: &str = r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#;
    assert_eq!(text.matches(BAD_PATTERN).count(), 2, "the known erratum");
    let text = text.replace(BAD_PATTERN, r#""^[a-zA-Z]{2}(-[a-zA-Z]{2})?$""#);
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    let validator = jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles");
    for (id, dir) in fixtures() {
        let (out, _, code) = check(&dir, &["--format", "sarif"]);
        let sarif: Value = serde_json::from_str(&out).expect("SARIF is JSON");
        let errors: Vec<String> = validator
            .iter_errors(&sarif)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{id}: {errors:#?}");

        let run = &sarif["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        let results = run["results"].as_array().unwrap();
        assert_eq!(
            code == 1,
            results.iter().any(|r| r["level"] == "error"),
            "{id}"
        );
        for r in results {
            let rule = &rules[r["ruleIndex"].as_u64().unwrap() as usize];
            assert_eq!(rule["id"], r["ruleId"], "{id}");
            let region = &r["locations"][0]["physicalLocation"]["region"];
            for k in ["startLine", "startColumn", "endLine", "endColumn"] {
                assert!(region[k].as_u64().unwrap() >= 1, "{id}: {k} is 1-based");
            }
            let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap();
            assert!(
                !uri.starts_with('/') && !uri.starts_with("./"),
                "{id}: {uri}"
            );
            assert!(
                uri.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~/%".contains(&b)),
                "{id}: {uri} is a relative URI reference"
            );
            assert!(r["partialFingerprints"]["nautesLint/v1"].is_string());
        }
        // The fixture's own finding is there, where expected.txt says.
        let (rule, at) = expected(&dir);
        assert!(
            results.iter().any(|r| {
                let loc = &r["locations"][0]["physicalLocation"];
                r["ruleId"] == rule.as_str()
                    && format!(
                        "{}:{}",
                        loc["artifactLocation"]["uri"].as_str().unwrap(),
                        loc["region"]["startLine"]
                    ) == at
            }),
            "{id}: no {rule} at {at}"
        );
        // Help texts are the rule documentation; the snapshot shows where they go, not their text.
        let mut shown = sarif.clone();
        for rule in shown["runs"][0]["tool"]["driver"]["rules"]
            .as_array_mut()
            .unwrap()
        {
            let doc = nautes_lint::rules::doc(rule["id"].as_str().unwrap()).unwrap();
            assert_eq!(rule["help"]["text"], doc);
            assert_eq!(rule["help"]["markdown"], doc);
            rule["help"] = serde_json::json!({"text": "<rules::doc>", "markdown": "<rules::doc>"});
        }
        let text = serde_json::to_string_pretty(&shown)
            .unwrap()
            .replace(env!("CARGO_PKG_VERSION"), "<version>");
        assert_snapshot!(format!("sarif__{id}"), text);
    }
}

#[test]
fn junit_snapshots_and_parse() {
    for (id, dir) in fixtures() {
        let (xml, _, _) = check(&dir, &["--format", "junit"]);
        let json = report(&dir);
        let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{id}: {e}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
        assert_eq!(suites.len(), 1, "{id}: one test suite");
        let suite = suites[0];
        assert_eq!(suite.tag_name().name(), "testsuite");
        let cases: Vec<_> = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(
            cases.len() as u64,
            json["summary"]["files"].as_u64().unwrap(),
            "{id}: one test case per checked file"
        );
        assert_eq!(
            suite.attribute("tests"),
            Some(cases.len().to_string().as_str())
        );
        let names: HashSet<&str> = cases.iter().filter_map(|c| c.attribute("name")).collect();
        assert_eq!(names.len(), cases.len(), "{id}: test case names are unique");
        let failures: Vec<_> = cases
            .iter()
            .flat_map(|c| c.children().filter(|n| n.has_tag_name("failure")))
            .collect();
        assert_eq!(
            failures.len() as u64,
            json["summary"]["errors"].as_u64().unwrap(),
            "{id}: one failure per error"
        );
        let failed_cases = cases
            .iter()
            .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
            .count();
        assert_eq!(
            suite.attribute("failures"),
            Some(failed_cases.to_string().as_str())
        );
        // Each error's location is in the text of its failure.
        for d in json["diagnostics"].as_array().unwrap() {
            if d["severity"] != "error" {
                continue;
            }
            let at = format!(
                "{}:{}:{}: error[{}]",
                d["path"].as_str().unwrap(),
                d["line"],
                d["column"],
                d["rule"].as_str().unwrap()
            );
            assert!(
                failures
                    .iter()
                    .any(|f| f.text().is_some_and(|t| t.starts_with(&at))),
                "{id}: no failure starts with {at}"
            );
        }
        assert_snapshot!(format!("junit__{id}"), xml);
    }
}

fn code_quality(dir: &Path) -> Vec<Value> {
    let (out, _, _) = check(dir, &["--format", "gitlab"]);
    assert!(out.starts_with('['), "no byte-order mark, a JSON array");
    serde_json::from_str::<Value>(&out)
        .expect("Code Quality is JSON")
        .as_array()
        .expect("an array")
        .clone()
}

#[test]
fn gitlab_snapshots_and_fields() {
    for (id, dir) in fixtures() {
        let issues = code_quality(&dir);
        let json = report(&dir);
        assert_eq!(issues.len(), json["diagnostics"].as_array().unwrap().len());
        for (i, d) in issues.iter().zip(json["diagnostics"].as_array().unwrap()) {
            assert!(i["description"].as_str().is_some_and(|s| !s.is_empty()));
            assert_eq!(i["check_name"], d["rule"]);
            let expected = if d["severity"] == "error" {
                "major"
            } else {
                "minor"
            };
            assert_eq!(i["severity"], expected, "{id}");
            assert_eq!(i["location"]["path"], d["path"]);
            assert_eq!(i["location"]["lines"]["begin"], d["line"]);
        }
        let (out, _, _) = check(&dir, &["--format", "gitlab"]);
        assert_snapshot!(format!("gitlab__{id}"), out);
    }
}

#[test]
fn code_quality_fingerprints_are_unique_and_stable() {
    let mut all = HashSet::new();
    for (id, dir) in fixtures() {
        let first: Vec<Value> = code_quality(&dir)
            .iter()
            .map(|i| i["fingerprint"].clone())
            .collect();
        let second: Vec<Value> = code_quality(&dir)
            .iter()
            .map(|i| i["fingerprint"].clone())
            .collect();
        assert_eq!(first, second, "{id}: stable across runs");
        let unique: HashSet<String> = first.iter().map(|f| f.to_string()).collect();
        assert_eq!(unique.len(), first.len(), "{id}: unique in a report");
        for f in unique {
            all.insert((id.clone(), f));
        }
    }
    assert!(!all.is_empty());
}

#[test]
fn fingerprints_survive_moved_lines() {
    let tmp = copy_invalid_fixture("dr-environment-not-found");
    let before = code_quality(tmp.path());
    let file = tmp.path().join("runtimes/dr-dev.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("# a comment\n# and another\n{text}")).unwrap();
    let after = code_quality(tmp.path());
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b["fingerprint"], a["fingerprint"]);
        assert_eq!(
            a["location"]["lines"]["begin"].as_u64().unwrap(),
            b["location"]["lines"]["begin"].as_u64().unwrap() + 2
        );
    }
}

#[test]
fn several_reports_from_one_run() {
    let dir = crate::common::tools::invalid_fixture("dr-environment-not-found");
    let out = tempfile::tempdir().unwrap();
    let gl = out.path().join("gl-code-quality-report.json");
    let junit = out.path().join("junit.xml");
    let sarif = out.path().join("report.sarif");
    let run = bin()
        .current_dir(&dir)
        .args([
            "check", ".", "--format", "human", "--format", "gitlab", "--output",
        ])
        .arg(&gl)
        .args(["--format", "junit", "--output"])
        .arg(&junit)
        .args(["--output"])
        .arg(&sarif)
        .output()
        .unwrap();
    // `--output` twice after one `--format` is a usage error, not a silent overwrite.
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("no --format before it"));

    let run = bin()
        .current_dir(&dir)
        .args([
            "check", ".", "--format", "human", "--format", "gitlab", "--output",
        ])
        .arg(&gl)
        .args(["--format", "junit", "--output"])
        .arg(&junit)
        .args(["--format", "sarif", "--output"])
        .arg(&sarif)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "one error in the fixture");
    let stdout = String::from_utf8(run.stdout).unwrap();
    assert!(stdout.contains("dr-environment-not-found"), "{stdout}");
    assert!(stdout.contains("failed: 1 error, 0 warnings"), "{stdout}");
    let issues: Value = serde_json::from_str(&std::fs::read_to_string(&gl).unwrap()).unwrap();
    assert_eq!(issues.as_array().unwrap().len(), 1);
    let xml = std::fs::read_to_string(&junit).unwrap();
    roxmltree::Document::parse(&xml).unwrap();
    let sarif: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 1);

    // All reports to files: the summary still reaches the terminal.
    let run = bin()
        .current_dir(&dir)
        .args(["check", ".", "--output"])
        .arg(&gl)
        .args(["--format", "gitlab"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(run.stdout).unwrap();
    assert!(
        stdout.starts_with("note:") || stdout.starts_with("failed:"),
        "{stdout}"
    );
    assert!(!stdout.contains('['));

    // Two reports without a file: refused, since both would go to standard output.
    let run = bin()
        .current_dir(&dir)
        .args(["check", ".", "--format", "json", "--format", "gitlab"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
}

#[test]
fn output_dash_writes_to_standard_output() {
    let dir = copy_invalid_fixture("dr-environment-not-found");
    let (stdout, _, code) = check(dir.path(), &["--format", "json", "--output", "-"]);
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).expect("the JSON report on stdout");
    assert_eq!(report["diagnostics"][0]["rule"], "dr-environment-not-found");
    assert!(!dir.path().join("-").exists(), "no file named `-`");
}

/// The CI template writes the reports it publishes, checks against the merge request's target
/// branch with the flags the CLI has, and keeps the reports of a failed job.
#[test]
fn gitlab_ci_template() {
    let parsed = tools::ci_file("ci/gitlab-ci.yml");
    let root = &parsed.documents[0].root;
    let job = root.get("nautes-lint").expect("a nautes-lint job");
    let artifacts = job.get("artifacts").expect("artifacts");
    assert_eq!(
        artifacts.get("when").and_then(|w| w.as_str()),
        Some("always"),
        "reports of a failing job are published too"
    );
    let reports = artifacts.get("reports").expect("reports");
    let cq = reports
        .get("codequality")
        .and_then(|v| v.as_str())
        .expect("a codequality report");
    let junit = reports
        .get("junit")
        .and_then(|v| v.as_str())
        .expect("a junit report");
    let script: String = job
        .get("script")
        .and_then(|s| s.as_seq())
        .expect("a script")
        .iter()
        .filter_map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        script.contains(&format!("--format gitlab --output {cq}")),
        "{script}"
    );
    assert!(
        script.contains(&format!("--format junit --output {junit}")),
        "{script}"
    );
    assert!(script.contains("--base"), "{script}");
    assert!(script.contains("--new-only"), "{script}");
    assert!(
        script.contains("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"),
        "{script}"
    );
    assert!(
        script.contains("CI_MERGE_REQUEST_DIFF_BASE_SHA"),
        "{script}"
    );
    assert!(!script.contains("cargo install nautes-lint"), "{script}");
}

#[test]
fn the_repository_pipeline_tests_builds_and_pushes_the_images_the_template_pulls() {
    let parsed = tools::ci_file(".gitlab-ci.yml");
    let root = &parsed.documents[0].root;
    let test = tools::job_script(&parsed, "test");
    for step in [
        "cargo fmt --all -- --check",
        "cargo clippy --all-targets --locked -- -D warnings",
        "cargo nextest run --locked",
    ] {
        assert!(test.contains(step), "{test}");
    }
    let build = tools::job_script(&parsed, "build");
    assert!(build.contains("cargo build --release --locked"), "{build}");
    let artifact = root
        .get("build")
        .and_then(|j| j.get("artifacts"))
        .and_then(|a| a.get("paths"))
        .and_then(|p| p.as_seq())
        .and_then(|p| p.first())
        .and_then(|p| p.as_str());
    assert_eq!(artifact, Some("target/release/nautes-lint"));
    let image = tools::job_script(&parsed, "container-image");
    assert!(
        image.contains("docker build -f deploy/Containerfile -t \"$CI_REGISTRY_IMAGE:"),
        "{image}"
    );
    assert!(
        image.contains("--target ci -t \"$CI_REGISTRY_IMAGE/ci:"),
        "{image}"
    );
    assert!(
        image.contains("docker push \"$CI_REGISTRY_IMAGE/ci:$tag\""),
        "{image}"
    );
    let containerfile =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/Containerfile"))
            .expect("deploy/Containerfile");
    assert!(containerfile.contains(" AS ci\n"), "a `ci` stage");
    // The template's default image is that `ci` image, under the registry of the group that
    // keeps nautes-lint.
    let template = tools::ci_file("ci/gitlab-ci.yml");
    let default_image = template.documents[0]
        .root
        .get("variables")
        .and_then(|v| v.get("NAUTES_LINT_IMAGE"))
        .and_then(|v| v.as_str())
        .expect("NAUTES_LINT_IMAGE");
    assert!(
        default_image.starts_with("$CI_REGISTRY/") && default_image.ends_with("/ci:latest"),
        "{default_image}"
    );
}

/// Runs the template's script as GitLab's runner would, in the clone `dir`, for a merge request
/// into `main` whose merge base is `base`. The binary under test is the one on the PATH.
fn run_ci_template(dir: &Path, base: &str) -> std::process::Output {
    tools::ci_template(dir)
        .env("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main")
        .env("CI_MERGE_REQUEST_DIFF_BASE_SHA", base)
        // Shallower than the merge base, so the job has to deepen its fetch.
        .env("NAUTES_LINT_FETCH_DEPTH", "1")
        .output()
        .expect("sh runs")
}

#[test]
fn the_ci_template_compares_a_merge_request_with_its_merge_base() {
    let tmp = tempfile::tempdir().unwrap();
    let origin = tmp.path().join("origin");
    let git = |dir: &Path, args: &[&str]| {
        let out = crate::common::tools::git_cmd(dir)
            .args(args)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    std::fs::create_dir_all(&origin).unwrap();
    git(&origin, &["init", "-q"]);
    crate::common::tools::copy_dir(
        &crate::common::tools::invalid_fixture("dr-destination-changed/base"),
        &origin,
    );
    // An old error on main: a runtime whose environment does not exist.
    let runtime = std::fs::read_to_string(origin.join("runtimes/dr-dev.yaml")).unwrap();
    std::fs::write(
        origin.join("runtimes/dr-old.yaml"),
        runtime
            .replace("name: dr-dev", "name: dr-old")
            .replace("environment: env-dev", "environment: env-gone")
            .replace("path: manifests/development", "path: manifests/old"),
    )
    .unwrap();
    git(&origin, &["add", "-A"]);
    git(&origin, &["commit", "-qm", "old error"]);
    let merge_base = git(&origin, &["rev-parse", "HEAD"]);
    // The merge request branches off, changes something harmless...
    git(&origin, &["checkout", "-qb", "mr"]);
    std::fs::write(origin.join("README.md"), "docs\n").unwrap();
    git(&origin, &["add", "-A"]);
    git(&origin, &["commit", "-qm", "docs"]);
    // ...and main fixes the old error afterwards.
    git(&origin, &["checkout", "-q", "main"]);
    git(&origin, &["rm", "-q", "runtimes/dr-old.yaml"]);
    git(&origin, &["commit", "-qm", "fix the old error"]);
    let clone = |name: &str| {
        let url = format!("file://{}", origin.display());
        let dir = tmp.path().join(name);
        git(
            tmp.path(),
            &["clone", "-q", "--depth", "1", "--branch", "mr", &url, name],
        );
        dir
    };
    let ci = clone("ci");
    let out = run_ci_template(&ci, &merge_base);
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        log.contains("ok: no new errors (1 already in the base)"),
        "{log}"
    );
    assert!(ci.join("gl-code-quality-report.json").exists());
    // Against the target's tip the old error would have counted as the merge request's.
    let out = bin()
        .current_dir(&ci)
        .args(["check", ".", "--base", "origin/main", "--new-only"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // A new error in the merge request still fails the job.
    git(&origin, &["checkout", "-q", "mr"]);
    std::fs::write(
        origin.join("runtimes/dr-dev.yaml"),
        runtime.replace("codeRepo: repo-42", "codeRepo: repo-43"),
    )
    .unwrap();
    git(&origin, &["commit", "-qam", "a new error"]);
    let ci = clone("ci2");
    let out = run_ci_template(&ci, &merge_base);
    let log =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("dr-coderepo-not-found (new)"), "{log}");
}

/// The byte offset of reviewdog's 1-based line and byte column in `text`.
fn rd_offset(text: &str, pos: &Value) -> usize {
    let line = pos["line"].as_u64().expect("line") as usize;
    let column = pos["column"].as_u64().expect("column") as usize;
    let start: usize = text
        .split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum();
    start + column - 1
}

#[test]
fn reviewdog_snapshots_and_fields() {
    let mut suggested = 0;
    for (id, dir) in fixtures() {
        let json = report(&dir);
        let diags = json["diagnostics"].as_array().unwrap();
        let (out, _, _) = check(&dir, &["--format", "reviewdog"]);
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{id}: {e}: {l}")))
            .collect();
        assert_eq!(lines.len(), diags.len(), "{id}: one line per finding");
        for (r, d) in lines.iter().zip(diags) {
            let message = r["message"].as_str().unwrap();
            assert!(message.starts_with(d["message"].as_str().unwrap()), "{id}");
            if let Some(help) = d["help"].as_str() {
                assert!(message.ends_with(&format!("\nhelp: {help}")), "{id}");
            }
            let expected = if d["severity"] == "error" {
                "ERROR"
            } else {
                "WARNING"
            };
            assert_eq!(r["severity"], expected, "{id}");
            assert_eq!(r["source"]["name"], "nautes-lint");
            assert_eq!(r["code"]["value"], d["rule"]);
            let path = d["path"].as_str().unwrap();
            assert_eq!(r["location"]["path"], path);
            let start = &r["location"]["range"]["start"];
            assert_eq!(start["line"], d["line"], "{id}");
            // reviewdog counts bytes: the start is the byte where our character column is.
            let text = std::fs::read_to_string(dir.join(path)).unwrap_or_default();
            if let Some(l) = text.lines().nth(d["line"].as_u64().unwrap() as usize - 1) {
                let chars = d["column"].as_u64().unwrap() as usize - 1;
                let bytes: usize = l.chars().take(chars).map(char::len_utf8).sum();
                assert_eq!(start["column"], bytes + 1, "{id}");
            }
            let end = &r["location"]["range"]["end"];
            assert_eq!(end["line"], d["end_line"], "{id}");
            let related = r["related_locations"].as_array().map_or(0, Vec::len);
            assert_eq!(related, d["related"].as_array().unwrap().len(), "{id}");
            for rel in r["related_locations"].as_array().into_iter().flatten() {
                assert!(rel["message"].as_str().is_some_and(|m| !m.is_empty()));
            }
            // A suggestion is the edit `--fix` makes: applying it gives the fixed file.
            if let Some(s) = r["suggestions"].as_array() {
                suggested += 1;
                let copy = copy_invalid_fixture(&id);
                check(copy.path(), &["--fix"]);
                let fixed = std::fs::read_to_string(copy.path().join(path)).unwrap();
                let mut applied = text.clone();
                for s in s.iter().rev() {
                    let range = rd_offset(&text, &s["range"]["start"])
                        ..rd_offset(&text, &s["range"]["end"]);
                    applied.replace_range(range, s["text"].as_str().unwrap());
                }
                assert_eq!(applied, fixed, "{id}");
            }
        }
        assert_snapshot!(format!("reviewdog__{id}"), out);
    }
    assert!(suggested >= 2, "the fixable rules carry suggestions");
}
