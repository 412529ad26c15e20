//! `nautes-lint lsp`: the real binary driven over stdio with JSON-RPC messages, as an editor
//! drives it.

use crate::common::tools::{copy_dir, copy_invalid_fixture};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

/// A guard against a hung server only, far above any real answer; no test measures time.
const PATIENCE: Duration = Duration::from_secs(120);

struct Client {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    next_id: i64,
    /// Notifications received while waiting for something else.
    pending: Vec<Value>,
    root: PathBuf,
}

impl Client {
    /// Starts the server on `root` and completes `initialize`.
    fn start(root: &Path, extra: &[&str]) -> (Client, Value) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nautes-lint"))
            .arg("lsp")
            .args(extra)
            .env_remove("NAUTES_LINT_CLUSTERS")
            .env_remove("NAUTES_LINT_RULES_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the binary starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut len = None;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        len = v.parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; len.expect("Content-Length header")];
                r.read_exact(&mut body).expect("message body");
                let v: Value = serde_json::from_slice(&body).expect("JSON message");
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        let root = root.canonicalize().expect("root");
        let mut client = Client {
            child,
            stdin,
            incoming: rx,
            next_id: 1,
            pending: Vec::new(),
            root: root.clone(),
        };
        let result = client.request(
            "initialize",
            json!({
                "processId": null,
                "rootUri": url(&root),
                "capabilities": {},
            }),
        );
        client.notify("initialized", json!({}));
        (client, result)
    }

    fn send(&mut self, v: Value) {
        let body = v.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        self.stdin.flush().expect("flush");
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn next(&mut self) -> Value {
        match self.incoming.recv_timeout(PATIENCE) {
            Ok(v) => v,
            Err(RecvTimeoutError::Timeout) => panic!("no message from the server"),
            Err(RecvTimeoutError::Disconnected) => panic!("the server closed its output"),
        }
    }

    /// Sends a request and returns its result (panics on an error response).
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let v = self.next();
            if v["id"] == json!(id) && v.get("method").is_none() {
                assert!(v.get("error").is_none(), "{method} failed: {v}");
                return v["result"].clone();
            }
            self.pending.push(v);
        }
    }

    /// The next diagnostics published for `rel` (a path under the root).
    fn diagnostics(&mut self, rel: &str) -> Vec<Value> {
        let uri = url(&self.root.join(rel));
        let matches = |v: &Value| {
            v["method"] == "textDocument/publishDiagnostics" && v["params"]["uri"] == uri
        };
        if let Some(i) = self.pending.iter().position(matches) {
            let v = self.pending.remove(i);
            return v["params"]["diagnostics"].as_array().expect("list").clone();
        }
        loop {
            let v = self.next();
            if matches(&v) {
                return v["params"]["diagnostics"].as_array().expect("list").clone();
            }
            self.pending.push(v);
        }
    }

    fn open(&mut self, rel: &str) -> String {
        let text = std::fs::read_to_string(self.root.join(rel)).expect("fixture file");
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {
                "uri": url(&self.root.join(rel)), "languageId": "yaml", "version": 1, "text": text
            }}),
        );
        text
    }

    fn change(&mut self, rel: &str, version: i32, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": url(&self.root.join(rel)), "version": version},
                "contentChanges": [{"text": text}],
            }),
        );
    }

    fn uri(&self, rel: &str) -> String {
        url(&self.root.join(rel))
    }

    /// `shutdown` then `exit`; the server must exit 0.
    fn stop(mut self) {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "{status}");
    }
}

fn url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// The LSP position (UTF-16 units) of the first `needle` in `text`.
fn position_of(text: &str, needle: &str) -> Value {
    position_at(text, text.find(needle).expect("needle in text"))
}

fn position_at(text: &str, at: usize) -> Value {
    let line = text[..at].matches('\n').count();
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let character = text[line_start..at].encode_utf16().count();
    json!({"line": line, "character": character})
}

/// The diagnostic whose code is `rule`; the test fails, listing them all, when there is none.
fn with_code<'a>(diags: &'a [Value], rule: &str) -> &'a Value {
    diags
        .iter()
        .find(|d| d["code"] == rule)
        .unwrap_or_else(|| panic!("no {rule} among {diags:?}"))
}

/// The range of `needle` where it ends the first `context` of `text`.
fn range_of(text: &str, context: &str, needle: &str) -> Value {
    assert!(context.ends_with(needle));
    let at = text.find(context).expect("context in text") + context.len() - needle.len();
    let start = position_at(text, at);
    let end = json!({
        "line": start["line"],
        "character": start["character"].as_u64().unwrap() + needle.encode_utf16().count() as u64,
    });
    json!({"start": start, "end": end})
}

fn rules(diags: &[Value]) -> Vec<&str> {
    diags
        .iter()
        .map(|d| d["code"].as_str().expect("code"))
        .collect()
}

/// Applies LSP text edits (sorted, non-overlapping, as the server sends them) to `text`.
fn apply(text: &str, edits: &[Value]) -> String {
    let offset = |p: &Value| {
        let line = p["line"].as_u64().unwrap() as usize;
        let ch = p["character"].as_u64().unwrap() as usize;
        let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
        let mut units = 0;
        for (i, c) in text[start..].char_indices() {
            if units >= ch {
                return start + i;
            }
            units += c.len_utf16();
        }
        text.len()
    };
    let mut out = text.to_owned();
    let mut sorted: Vec<&Value> = edits.iter().collect();
    sorted.sort_by_key(|e| std::cmp::Reverse(offset(&e["range"]["start"])));
    for e in sorted {
        let (s, t) = (offset(&e["range"]["start"]), offset(&e["range"]["end"]));
        out.replace_range(s..t, e["newText"].as_str().unwrap());
    }
    out
}

#[test]
fn a_missing_environment_is_reported_at_its_range_and_cleared_when_fixed() {
    let dir = copy_invalid_fixture("dr-environment-not-found");
    let (mut c, init) = Client::start(
        dir.path(),
        &["--rules-url", "https://docs.example/rules.md"],
    );
    assert_eq!(init["capabilities"]["definitionProvider"], true, "{init}");
    let rel = "runtimes/dr-dev.yaml";
    let text = c.open(rel);
    let diags = c.diagnostics(rel);
    let d = with_code(&diags, "dr-environment-not-found");
    assert_eq!(
        d["range"],
        range_of(&text, "environment: env-dve", "env-dve")
    );
    assert_eq!(d["severity"], 1);
    assert_eq!(d["source"], "nautes-lint");
    assert!(d["message"].as_str().unwrap().contains("`env-dve`"), "{d}");
    assert_eq!(
        d["codeDescription"]["href"],
        "https://docs.example/rules.md#dr-environment-not-found"
    );

    c.change(rel, 2, &text.replace("env-dve", "env-dev"));
    assert_eq!(c.diagnostics(rel), Vec::<Value>::new());
    c.stop();
}

#[test]
fn ranges_count_utf16_units_on_non_ascii_lines() {
    let dir = copy_invalid_fixture("dr-environment-not-found");
    let (mut c, _) = Client::start(dir.path(), &[]);
    let rel = "runtimes/dr-dev.yaml";
    let text = c.open(rel);
    // On one line, after characters of one and of two UTF-16 units.
    let edited = text.replace(
        "  destination:\n    environment: env-dve\n    namespaces:\n    - dr-dev\n",
        "  destination: {namespaces: [\"é😀\"], environment: env-dve}\n",
    );
    assert_ne!(edited, text);
    let _ = c.diagnostics(rel);
    c.change(rel, 2, &edited);
    let diags = c.diagnostics(rel);
    let d = with_code(&diags, "dr-environment-not-found");
    assert_eq!(
        d["range"],
        range_of(&edited, "environment: env-dve", "env-dve")
    );
    c.stop();
}

/// The demo with its cluster inventory beside it, as its configuration expects.
fn demo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/valid");
    copy_dir(&fixtures.join("demo"), &dir.path().join("demo"));
    copy_dir(&fixtures.join("clusters"), &dir.path().join("clusters"));
    dir
}

#[test]
fn renaming_an_environment_reports_its_runtimes_and_clears_them_again() {
    let dir = demo();
    let root = dir.path().join("demo");
    let (mut c, _) = Client::start(&root, &[]);
    let env = "envs/env-dev.yaml";
    let text = c.open(env);
    assert_eq!(c.diagnostics(env), Vec::<Value>::new());
    c.change(env, 2, &text.replace("name: env-dev", "name: env-devel"));
    // A runtime on disk, never opened, that names env-dev.
    let runtime = "runtimes/dr-api-server-dev.yaml";
    let runtime_text = std::fs::read_to_string(root.join(runtime)).unwrap();
    let diags = c.diagnostics(runtime);
    let d = with_code(&diags, "dr-environment-not-found");
    assert_eq!(
        d["range"],
        range_of(&runtime_text, "environment: env-dev", "env-dev")
    );
    // Back as it was: the runtime's findings are withdrawn with an empty list.
    c.change(env, 3, &text);
    assert_eq!(c.diagnostics(runtime), Vec::<Value>::new());
    c.stop();
}

#[test]
fn definition_from_an_environment_reference_lands_on_its_name() {
    let dir = demo();
    let root = dir.path().join("demo");
    let (mut c, _) = Client::start(&root, &[]);
    let rel = "runtimes/dr-api-server-dev.yaml";
    let text = c.open(rel);
    let mut at = position_of(&text, "environment: env-dev");
    at["character"] = json!(at["character"].as_u64().unwrap() + "environment: e".len() as u64);
    let def = c.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": c.uri(rel)}, "position": at}),
    );
    let env_text = std::fs::read_to_string(root.join("envs/env-dev.yaml")).unwrap();
    assert_eq!(def["uri"], c.uri("envs/env-dev.yaml"), "{def}");
    assert_eq!(
        def["range"],
        range_of(&env_text, "name: env-dev", "env-dev")
    );

    // And back: the runtimes that use env-dev include this one.
    let refs = c.request(
        "textDocument/references",
        json!({
            "textDocument": {"uri": c.uri("envs/env-dev.yaml")},
            "position": position_of(&env_text, "env-dev\n"),
            "context": {"includeDeclaration": false},
        }),
    );
    let refs = refs.as_array().expect("locations");
    assert!(
        refs.iter().any(|l| l["uri"] == c.uri(rel)
            && l["range"] == range_of(&text, "environment: env-dev", "env-dev")),
        "{refs:?}"
    );
    assert!(refs.iter().all(|l| {
        let path = l["uri"].as_str().unwrap().trim_start_matches("file://");
        std::fs::read_to_string(path).unwrap().contains("env-dev")
    }));

    // Hover on the reference: the environment in one line.
    let hover = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": c.uri(rel)}, "position": at}),
    );
    let shown = hover["contents"]["value"].as_str().expect("markdown");
    assert!(
        shown.starts_with("Environment `env-dev`") && shown.contains("envs/env-dev.yaml"),
        "{shown}"
    );
    assert!(!shown.contains('\n'), "{shown}");
    c.stop();
}

#[test]
fn completion_offers_the_environments_in_a_destination() {
    let dir = demo();
    let root = dir.path().join("demo");
    let (mut c, _) = Client::start(&root, &[]);
    let rel = "runtimes/dr-api-server-dev.yaml";
    let text = c.open(rel);
    let typing = text.replace("environment: env-dev", "environment: env-");
    c.change(rel, 2, &typing);
    let mut at = position_of(&typing, "environment: env-");
    at["character"] = json!(at["character"].as_u64().unwrap() + "environment: env-".len() as u64);
    let items = c.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": c.uri(rel)}, "position": at}),
    );
    let labels: Vec<&str> = items
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["label"].as_str().unwrap())
        .collect();
    let mut envs: Vec<String> = std::fs::read_dir(root.join("envs"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".yaml")
                .to_owned()
        })
        .collect();
    envs.sort();
    assert_eq!(labels, envs);
    c.stop();
}

/// The quick fixes offered for the diagnostic of `rule` on `rel`, applied one by one.
fn fixed_by_code_action(c: &mut Client, rel: &str, text: &str, rule: &str, title: &str) -> String {
    let diags = c.diagnostics(rel);
    let d = with_code(&diags, rule).clone();
    let actions = c.request(
        "textDocument/codeAction",
        json!({
            "textDocument": {"uri": c.uri(rel)},
            "range": d["range"],
            "context": {"diagnostics": [d]},
        }),
    );
    let action = actions
        .as_array()
        .expect("actions")
        .iter()
        .find(|a| a["title"].as_str().unwrap().contains(title))
        .unwrap_or_else(|| panic!("{actions}"))
        .clone();
    assert_eq!(action["kind"], "quickfix");
    let edits = action["edit"]["changes"][c.uri(rel)]
        .as_array()
        .expect("edits")
        .clone();
    apply(text, &edits)
}

#[test]
fn a_code_action_applies_the_safe_fix() {
    let dir = copy_invalid_fixture("dr-legacy-destination");
    let (mut c, _) = Client::start(dir.path(), &[]);
    let rel = "runtimes/dr-dev.yaml";
    let text = c.open(rel);
    let fixed = fixed_by_code_action(&mut c, rel, &text, "dr-legacy-destination", "Fix");
    assert!(
        fixed.contains("  destination:\n    environment: env-dev\n"),
        "{fixed}"
    );
    c.change(rel, 2, &fixed);
    let after = c.diagnostics(rel);
    assert!(
        !rules(&after).contains(&"dr-legacy-destination"),
        "{after:?}"
    );
    c.stop();
}

#[test]
fn a_code_action_replaces_a_missing_name_with_the_close_one() {
    let dir = copy_invalid_fixture("dr-environment-not-found");
    let (mut c, _) = Client::start(dir.path(), &[]);
    let rel = "runtimes/dr-dev.yaml";
    let text = c.open(rel);
    let fixed = fixed_by_code_action(
        &mut c,
        rel,
        &text,
        "dr-environment-not-found",
        "with `env-dev`",
    );
    assert_eq!(
        fixed,
        text.replace("environment: env-dve", "environment: env-dev")
    );
    c.change(rel, 2, &fixed);
    assert_eq!(c.diagnostics(rel), Vec::<Value>::new());
    c.stop();
}

#[test]
fn hover_on_a_suppressed_rule_id_shows_its_documentation() {
    let dir = copy_invalid_fixture("dr-environment-not-found");
    let (mut c, _) = Client::start(dir.path(), &[]);
    let rel = "runtimes/dr-dev.yaml";
    let text = c.open(rel).replace(
        "  creationTimestamp: null\n",
        "  creationTimestamp: null\n  annotations:\n    lint.nautes.io/ignore: dr-manifest-path, dr-environment-not-found\n",
    );
    c.change(rel, 2, &text);
    let mut at = range_of(
        &text,
        "path, dr-environment-not-found",
        "dr-environment-not-found",
    )["start"]
        .clone();
    at["character"] = json!(at["character"].as_u64().unwrap() + 3);
    let hover = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": c.uri(rel)}, "position": at}),
    );
    let shown = hover["contents"]["value"].as_str().expect("markdown");
    let explain = tools_explain("dr-environment-not-found");
    // The same text `explain` prints, below the rule id.
    let doc_line = explain
        .lines()
        .find(|l| l.starts_with("Checks"))
        .expect("a line of the documentation");
    assert!(shown.contains(doc_line), "{shown}\n---\n{explain}");
    c.stop();
}

fn tools_explain(rule: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_nautes-lint"))
        .args(["explain", rule])
        .output()
        .expect("explain runs");
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn a_broken_configuration_is_said_not_hidden() {
    let dir = copy_invalid_fixture("dr-environment-not-found");
    std::fs::write(
        dir.path().join(".nautes-lint.yaml"),
        "rules: [not, a, map\n",
    )
    .unwrap();
    let (mut c, _) = Client::start(dir.path(), &[]);
    let rel = "runtimes/dr-dev.yaml";
    c.open(rel);
    let diags = c.diagnostics(rel);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(
        diags[0]["message"]
            .as_str()
            .unwrap()
            .contains("nothing was checked"),
        "{diags:?}"
    );
    assert_eq!(diags[0]["severity"], 1);
    c.stop();
}

#[test]
fn related_places_are_related_information() {
    let dir = copy_invalid_fixture("duplicate-name");
    let (mut c, _) = Client::start(dir.path(), &[]);
    let rel = "envs/env-dev.yaml";
    c.open(rel);
    let diags = c.diagnostics(rel);
    let d = with_code(&diags, "duplicate-name");
    let other = "envs/env-dev-copy.yaml";
    let other_text = std::fs::read_to_string(dir.path().join(other)).unwrap();
    let related = d["relatedInformation"].as_array().expect("related places");
    assert_eq!(related.len(), 1, "{related:?}");
    assert_eq!(related[0]["location"]["uri"], c.uri(other));
    assert_eq!(
        related[0]["location"]["range"],
        range_of(&other_text, "name: env-dev", "env-dev")
    );
    c.stop();
}

#[test]
fn a_new_unsaved_file_is_checked_with_the_others() {
    let dir = copy_invalid_fixture("dr-environment-not-found");
    let (mut c, _) = Client::start(dir.path(), &[]);
    let rel = "runtimes/dr-new.yaml";
    let text = std::fs::read_to_string(dir.path().join("runtimes/dr-dev.yaml"))
        .unwrap()
        .replace("name: dr-dev", "name: dr-new")
        .replace("- dr-dev", "- dr-new")
        .replace("env-dve", "env-nope");
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {
            "uri": c.uri(rel), "languageId": "yaml", "version": 1, "text": text
        }}),
    );
    let diags = c.diagnostics(rel);
    let d = with_code(&diags, "dr-environment-not-found");
    assert_eq!(
        d["range"],
        range_of(&text, "environment: env-nope", "env-nope")
    );
    // Closed without saving: it is gone, and so are its findings.
    c.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": c.uri(rel)}}),
    );
    assert_eq!(c.diagnostics(rel), Vec::<Value>::new());
    c.stop();
}

#[test]
fn a_save_picks_up_files_changed_outside_the_editor() {
    let dir = demo();
    let root = dir.path().join("demo");
    let (mut c, _) = Client::start(&root, &[]);
    let env = "envs/env-dev.yaml";
    c.open(env);
    assert_eq!(c.diagnostics(env), Vec::<Value>::new());
    // A checkout changes a runtime on disk; the editor saves another file.
    let runtime = "runtimes/dr-api-server-dev.yaml";
    let changed = std::fs::read_to_string(root.join(runtime))
        .unwrap()
        .replace("environment: env-dev", "environment: env-gone");
    std::fs::write(root.join(runtime), &changed).unwrap();
    c.notify(
        "textDocument/didSave",
        json!({"textDocument": {"uri": c.uri(env)}}),
    );
    let diags = c.diagnostics(runtime);
    let d = with_code(&diags, "dr-environment-not-found");
    assert_eq!(
        d["range"],
        range_of(&changed, "environment: env-gone", "env-gone")
    );
    c.stop();
}

/// Neovim, when installed (`.ci/run` installs Debian's; in CI its absence is a failure).
fn neovim() -> Option<&'static str> {
    let found = Command::new("nvim")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var_os("CI").is_some() {
        panic!("Neovim is not installed: `apt-get install neovim`");
    }
    found.then_some("nvim")
}

/// A real editor client: Neovim, headless, starts the server on a fixture, opens the broken
/// runtime, waits for its diagnostics and writes them to a file.
#[test]
fn neovim_receives_the_diagnostics() {
    let Some(nvim) = neovim() else {
        eprintln!("SKIPPED: Neovim is not installed");
        return;
    };
    let dir = copy_invalid_fixture("dr-environment-not-found");
    let root = dir.path().canonicalize().unwrap();
    let out = root.join("diagnostics.txt");
    // `vim.lsp.start_client` and `buf_attach_client` exist from Neovim 0.5 to today; Debian
    // bookworm ships 0.7.
    let script = format!(
        r#"
local client = vim.lsp.start_client({{
  name = 'nautes-lint',
  cmd = {{ {bin:?}, 'lsp' }},
  root_dir = {root:?},
}})
vim.cmd('edit ' .. {file:?})
local buf = vim.api.nvim_get_current_buf()
vim.lsp.buf_attach_client(buf, client)
local ok = vim.wait(60000, function() return #vim.diagnostic.get(buf) > 0 end, 50)
local lines = {{}}
if not ok then table.insert(lines, 'TIMEOUT') end
for _, d in ipairs(vim.diagnostic.get(buf)) do
  table.insert(lines, string.format('%s %d:%d-%d:%d %d %s', d.code or d.user_data.lsp.code,
    d.lnum, d.col, d.end_lnum, d.end_col, d.severity, d.message:gsub('\n.*', '')))
end
vim.fn.writefile(lines, {out:?})
vim.lsp.stop_client(client)
vim.cmd('qall!')
"#,
        bin = env!("CARGO_BIN_EXE_nautes-lint"),
        root = root.display().to_string(),
        file = root.join("runtimes/dr-dev.yaml").display().to_string(),
        out = out.display().to_string(),
    );
    let script_path = root.join("attach.lua");
    std::fs::write(&script_path, script).unwrap();
    let status = Command::new(nvim)
        .args(["--headless", "--clean", "-n", "-c"])
        .arg(format!("luafile {}", script_path.display()))
        .current_dir(&root)
        .stdin(Stdio::null())
        .env_remove("NAUTES_LINT_CLUSTERS")
        .status()
        .expect("nvim runs");
    assert!(status.success(), "{status}");
    let got = std::fs::read_to_string(&out).expect("the script wrote the diagnostics");
    let text = std::fs::read_to_string(root.join("runtimes/dr-dev.yaml")).unwrap();
    let r = range_of(&text, "environment: env-dve", "env-dve");
    // Neovim's columns are byte offsets of the line; this line is ASCII, so they are the same.
    let want = format!(
        "dr-environment-not-found {}:{}-{}:{} 1 environment `env-dve` does not exist",
        r["start"]["line"], r["start"]["character"], r["end"]["line"], r["end"]["character"]
    );
    assert_eq!(
        got.lines().collect::<Vec<_>>(),
        vec![want.as_str()],
        "{got}"
    );
}

#[test]
fn the_config_flag_applies_as_in_check() {
    let dir = copy_invalid_fixture("dr-environment-not-found");
    let elsewhere = tempfile::tempdir().unwrap();
    let config = elsewhere.path().join("lint.yaml");
    std::fs::write(
        &config,
        "product: product-7\nrules:\n  dr-environment-not-found: warning\n",
    )
    .unwrap();
    let (mut c, _) = Client::start(dir.path(), &["--config", config.to_str().unwrap()]);
    let rel = "runtimes/dr-dev.yaml";
    c.open(rel);
    let diags = c.diagnostics(rel);
    let d = with_code(&diags, "dr-environment-not-found");
    // 2: Warning, as the configuration says (the rule's default is an error).
    assert_eq!(d["severity"], 2, "{d}");
    c.stop();
}
