//! Keystroke latency of `nautes-lint lsp`: drives the server over stdio with scripted LSP
//! messages and times each `didChange` until the edited file's diagnostics arrive.
//!
//!   cargo run --release --example generate -- /tmp/lsp-bench 10000
//!   cargo build --release --bin nautes-lint
//!   cargo run --release --example lsp_latency -- /tmp/lsp-bench [EDITS]
//!
//! Each edit alternates a runtime's environment between a missing and an existing name, so every
//! other keystroke adds a finding and the next one withdraws it. Prints the first check, the
//! percentiles of the edits, and the server's peak memory (VmHWM).

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(args.next().expect("usage: lsp_latency DIR [EDITS]"));
    let edits: usize = args
        .next()
        .map_or(200, |n| n.parse().expect("EDITS is a number"));
    let root = root.canonicalize().expect("DIR exists");
    let bin = std::env::var("NAUTES_LINT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/nautes-lint")
        });
    let mut child = Command::new(&bin)
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("nautes-lint starts");
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut send = |v: Value| {
        let body = v.to_string();
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        stdin.flush().expect("flush");
    };
    let uri_of = |p: &Path| format!("file://{}", p.display());
    send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"processId": null, "rootUri": uri_of(&root), "capabilities": {}}}));
    wait_for(&mut out, |v| v["id"] == 1);
    send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));

    let runtimes = root.join("runtimes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&runtimes)
        .expect("runtimes/")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let file = files
        .into_iter()
        .find(|p| {
            std::fs::read_to_string(p)
                .map(|t| t.contains("environment: "))
                .unwrap_or(false)
        })
        .expect("a runtime with an environment");
    let text = std::fs::read_to_string(&file).expect("read");
    let env = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("environment: "))
        .expect("environment line")
        .to_owned();
    let broken = text.replace(
        &format!("environment: {env}"),
        &format!("environment: {env}-x"),
    );
    let uri = uri_of(&file);
    let published = |v: &Value| {
        v["method"] == "textDocument/publishDiagnostics" && v["params"]["uri"] == uri.as_str()
    };

    let started = Instant::now();
    send(
        json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument":
        {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}}),
    );
    wait_for(&mut out, published);
    let first = started.elapsed();

    let mut times: Vec<Duration> = Vec::with_capacity(edits);
    for i in 0..edits {
        let body = if i % 2 == 0 { &broken } else { &text };
        let started = Instant::now();
        send(
            json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri, "version": i + 2},
            "contentChanges": [{"text": body}]}}),
        );
        let v = wait_for(&mut out, published);
        times.push(started.elapsed());
        let n = v["params"]["diagnostics"].as_array().map_or(0, Vec::len);
        assert_eq!(n > 0, i % 2 == 0, "edit {i}: {v}");
    }
    let peak = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    send(json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": null}));
    wait_for(&mut out, |v| v["id"] == 2);
    send(json!({"jsonrpc": "2.0", "method": "exit", "params": null}));
    let _ = child.wait();

    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1];
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!("file: {}", file.display());
    println!("first check (didOpen -> diagnostics): {}", ms(first));
    println!(
        "{} edits: p50 {}, p95 {}, max {}",
        times.len(),
        ms(pct(0.50)),
        ms(pct(0.95)),
        ms(pct(1.0))
    );
    println!("server peak memory (VmHWM): {peak}");
}

/// Reads messages until one satisfies `want`, and returns it.
fn wait_for(out: &mut BufReader<ChildStdout>, want: impl Fn(&Value) -> bool) -> Value {
    loop {
        let mut len = None;
        loop {
            let mut line = String::new();
            assert!(out.read_line(&mut line).expect("read") > 0, "server exited");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("Content-Length: ") {
                len = v.parse::<usize>().ok();
            }
        }
        let mut body = vec![0; len.expect("Content-Length")];
        out.read_exact(&mut body).expect("body");
        let v: Value = serde_json::from_slice(&body).expect("JSON");
        if want(&v) {
            return v;
        }
    }
}
