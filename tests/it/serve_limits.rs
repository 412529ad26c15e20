//! The webhook service under hostile input and at its limits, through the real binary: archive
//! records that would take unbounded memory, the YAML memory budget, archives with nothing to
//! check, slow or idle connections, oversized bodies, logs, and readiness when the database file
//! goes away. Waits poll with a deadline; no assertion is about speed.

use crate::common::fake_gitlab::{FakeGitLab, TarBuilder, tar_gz_of_dir, tar_gz_of_dir_then};
use crate::common::service::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const HEAD: &str = "1111aaaa22223333444455556666777788889999";
const HEAD2: &str = "2222aaaa22223333444455556666777788889999";
const HEAD3: &str = "3333aaaa22223333444455556666777788889999";

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/valid/demo")
}

/// A push of `after` to `branch`, a new branch (no base to fetch).
fn push_to(branch: &str, after: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(&push(after, ZERO)).expect("json");
    v["ref"] = format!("refs/heads/{branch}").into();
    v.to_string()
}

/// Posts a push of `sha` to `main` and returns the description of its final status.
async fn final_description(svc: &Service, gl: &FakeGitLab, sha: &str) -> String {
    let (code, body) = post(svc, "Push Hook", push(sha, ZERO), Some(SECRET), &[]).await;
    assert_eq!(code, 202, "{body}");
    final_of(gl, sha).await
}

/// Waits for the `success` or `failed` status of `sha` and returns its description.
async fn final_of(gl: &FakeGitLab, sha: &str) -> String {
    gl.wait_for("the final status", WAIT, |_| {
        gl.states(sha)
            .iter()
            .any(|s| s == "success" || s == "failed")
    })
    .await;
    let last = gl.statuses(sha).last().expect("a status").clone();
    format!(
        "{} {}",
        last.body["state"].as_str().unwrap_or(""),
        last.body["description"].as_str().unwrap_or("")
    )
}

/// An entry named `name`; over 100 bytes, the builder writes a GNU long-name record (`L`) first.
fn gnu_long_name(b: &mut TarBuilder, name: &str) {
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    // The builder writes the `././@LongLink` record itself for a path over 100 bytes.
    b.append_data(&mut h, name, &b"a: 1\n"[..]).expect("append");
}

/// A PAX extended header (`x`) with a `path` record, then the entry it renames.
fn pax_path(b: &mut TarBuilder, path: &str, data: &[u8]) {
    let record = {
        let body = format!(" path={path}\n");
        // The length prefix counts its own digits.
        let mut n = body.len() + 1;
        while format!("{n}{body}").len() != n {
            n += 1;
        }
        format!("{n}{body}")
    };
    let mut x = tar::Header::new_ustar();
    x.set_path("PaxHeader/entry").expect("path");
    x.set_size(record.len() as u64);
    x.set_mode(0o644);
    x.set_entry_type(tar::EntryType::XHeader);
    x.set_cksum();
    b.append(&x, record.as_bytes()).expect("pax header");
    let mut h = tar::Header::new_ustar();
    h.set_path("short-name-replaced-by-pax").expect("path");
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    b.append(&h, data).expect("entry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_long_name_or_pax_record_fails_the_job_with_a_reason() {
    let gl = FakeGitLab::start(TOKEN).await;
    let huge = format!("p-x-x/docs/{}.yaml", "n".repeat(1 << 20));
    gl.add_archive(
        HEAD,
        tar_gz_of_dir_then(&demo(), "p-x-x", |b| gnu_long_name(b, &huge)),
    );
    gl.add_archive(
        HEAD2,
        tar_gz_of_dir_then(&demo(), "p-x-x", |b| pax_path(b, &huge, b"a: 1\n")),
    );
    let svc = Service::start_temp(&gl.url, &["--workers", "1"]).await;
    let said = final_description(&svc, &gl, HEAD).await;
    assert!(said.starts_with("failed "), "{said}");
    assert!(
        said.contains("long-name record exceeds the limit"),
        "{said}"
    );
    let said = final_description(&svc, &gl, HEAD2).await;
    assert!(said.starts_with("failed "), "{said}");
    assert!(said.contains("PAX record exceeds the limit"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_paths_within_the_limit_are_still_read() {
    // GitLab's top folder is `<project>-<ref>-<sha>`: long project names give every entry a
    // path over the 100 bytes of a plain tar header.
    let top = format!("{}-main-{HEAD}", "a-very-long-project-name".repeat(3));
    let gl = FakeGitLab::start(TOKEN).await;
    gl.add_archive(HEAD, tar_gz_of_dir(&demo(), &top));
    let broken = std::fs::read(
        crate::common::fixture_tree::invalid_fixture("dr-environment-not-found")
            .join("runtimes/dr-dev.yaml"),
    )
    .expect("fixture");
    gl.add_archive(
        HEAD2,
        tar_gz_of_dir_then(&demo(), "p-x-x", |b| {
            pax_path(
                b,
                &format!("p-x-x/runtimes/{}.yaml", "d".repeat(150)),
                &broken,
            )
        }),
    );
    let svc = Service::start_temp(&gl.url, &["--workers", "1"]).await;
    let said = final_description(&svc, &gl, HEAD).await;
    assert!(
        said.starts_with("success no findings in 32 files"),
        "{said}"
    );
    // The file named by the PAX record is read, under that name.
    let said = final_description(&svc, &gl, HEAD2).await;
    assert!(
        said.starts_with("failed ") && said.contains("in 33 files"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_files_over_the_job_budget_fail_the_job_and_other_files_do_not_count() {
    let gl = FakeGitLab::start(TOKEN).await;
    // The demo tree's resource files take about 80 KB; a 1 MiB file outside the layout folders
    // is skipped, not kept.
    let big = vec![b'#'; 1 << 20];
    gl.add_archive(
        HEAD,
        tar_gz_of_dir_then(&demo(), "p-x-x", |b| {
            let mut h = tar::Header::new_gnu();
            h.set_size(big.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, "p-x-x/docs/big.yaml", big.as_slice())
                .expect("append");
        }),
    );
    gl.add_archive(
        HEAD2,
        tar_gz_of_dir_then(&demo(), "p-x-x", |b| {
            let mut h = tar::Header::new_gnu();
            h.set_size(big.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, "p-x-x/envs/big.yaml", big.as_slice())
                .expect("append");
        }),
    );
    let budget = (512 * 1024).to_string();
    let svc = Service::start_temp(
        &gl.url,
        &["--workers", "1", "--max-job-yaml-bytes", &budget],
    )
    .await;
    let said = final_description(&svc, &gl, HEAD).await;
    assert!(
        said.starts_with("success no findings in 32 files"),
        "{said}"
    );
    let said = final_description(&svc, &gl, HEAD2).await;
    assert!(said.starts_with("failed "), "{said}");
    assert!(said.contains("--max-job-yaml-bytes"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_wait_for_the_process_yaml_budget_instead_of_exceeding_it() {
    let gl = FakeGitLab::start(TOKEN).await;
    gl.add_archive(HEAD, tar_gz_of_dir(&demo(), "p-x-x"));
    gl.add_archive(HEAD2, tar_gz_of_dir(&demo(), "p-y-y"));
    gl.hold_archives(true);
    // Room for one job's YAML at a time, with two workers.
    let budget = (1 << 20).to_string();
    let svc = Service::start_temp(
        &gl.url,
        &[
            "--workers",
            "2",
            "--max-yaml-bytes",
            &budget,
            "--max-job-yaml-bytes",
            &budget,
        ],
    )
    .await;
    for (branch, sha) in [("a", HEAD), ("b", HEAD2)] {
        let (code, _) = post(&svc, "Push Hook", push_to(branch, sha), Some(SECRET), &[]).await;
        assert_eq!(code, 202);
    }
    svc.wait_log("waiting for YAML memory").await;
    gl.hold_archives(false);
    for sha in [HEAD, HEAD2] {
        let said = final_of(&gl, sha).await;
        assert!(said.starts_with("success "), "{said}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_without_resource_files_fails_never_succeeds() {
    let gl = FakeGitLab::start(TOKEN).await;
    // The layout folders at the archive's root: no GitLab top folder to strip.
    let no_top = {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        let mut h = tar::Header::new_gnu();
        let data = std::fs::read(demo().join("envs/env-dev.yaml")).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, "envs/env-dev.yaml", data.as_slice())
            .unwrap();
        b.into_inner().unwrap().finish().unwrap()
    };
    let empty_tar = {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        tar::Builder::new(gz)
            .into_inner()
            .unwrap()
            .finish()
            .unwrap()
    };
    // Only a long-name record, naming an entry that never comes.
    let only_long_name = {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        let name = format!("p-x-x/envs/{}.yaml", "e".repeat(200));
        let mut h = tar::Header::new_gnu();
        h.set_path("././@LongLink").unwrap();
        h.set_size(name.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::GNULongName);
        h.set_cksum();
        b.append(&h, name.as_bytes()).unwrap();
        b.into_inner().unwrap().finish().unwrap()
    };
    gl.add_archive(HEAD, no_top);
    gl.add_archive(HEAD2, empty_tar);
    gl.add_archive(HEAD3, only_long_name);
    let svc = Service::start_temp(&gl.url, &["--workers", "1"]).await;
    for sha in [HEAD, HEAD2, HEAD3] {
        let said = final_description(&svc, &gl, sha).await;
        assert!(said.starts_with("failed "), "{sha}: {said}");
        assert!(said.contains("no resource files"), "{sha}: {said}");
    }
}

/// Connects and sends the start of a request, never its end.
fn half_request(svc: &Service) -> TcpStream {
    let mut s = TcpStream::connect(&svc.addr).expect("connect");
    s.write_all(b"POST /webhook/gitlab HTTP/1.1\r\nHost: x\r\nX-Gitlab-Ev")
        .expect("write");
    s
}

/// Reads until the server closes the connection; `None` when it is still open after `limit`.
fn read_until_closed(s: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    s.set_read_timeout(Some(limit)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(got),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None;
            }
            Err(e) => panic!("read: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_half_its_headers_or_stays_idle_is_disconnected() {
    let gl = FakeGitLab::start(TOKEN).await;
    let svc = Service::start_temp(&gl.url, &["--workers", "0", "--header-timeout", "1"]).await;
    let mut s = half_request(&svc);
    // A liveness bound, far above the one-second timeout.
    let closed = tokio::task::spawn_blocking(move || read_until_closed(&mut s, WAIT))
        .await
        .unwrap();
    assert!(closed.is_some(), "the connection is still open");
    // A keep-alive connection left idle after its answer waits for the next request's headers:
    // closed by the same timeout.
    let mut idle = TcpStream::connect(&svc.addr).expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let got = tokio::task::spawn_blocking(move || read_until_closed(&mut idle, WAIT))
        .await
        .unwrap()
        .expect("the idle connection is still open");
    assert!(got.starts_with(b"HTTP/1.1 200"), "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_half_sent_request_open_exits_within_the_grace() {
    let gl = FakeGitLab::start(TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let mut svc = Service::start(
        &gl.url,
        &dir.path().join("q.db"),
        &[
            "--workers",
            "0",
            "--header-timeout",
            "600",
            "--shutdown-grace",
            "1",
        ],
    )
    .await;
    let _half = half_request(&svc);
    // An idle keep-alive connection too: a request answered, the connection left open.
    let mut idle = TcpStream::connect(&svc.addr).expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).expect("answer");
    assert_eq!(&first, b"HTTP/1.1 200");
    svc.sigterm();
    // Liveness, not speed: the grace plus a generous margin.
    let status = svc.wait_exit(Duration::from_secs(1 + 10)).await;
    assert!(status.success(), "{status}\n{}", svc.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_are_refused_and_health_returns_when_they_close() {
    let gl = FakeGitLab::start(TOKEN).await;
    let svc = Service::start_temp(
        &gl.url,
        &[
            "--workers",
            "0",
            "--max-connections",
            "2",
            "--header-timeout",
            "600",
        ],
    )
    .await;
    let held = [half_request(&svc), half_request(&svc)];
    let addr = svc.addr.clone();
    let answer = tokio::task::spawn_blocking(move || {
        // The two held connections may still be on their way through accept: retry until the
        // refusal comes, within the liveness bound.
        let deadline = Instant::now() + WAIT;
        loop {
            let mut s = TcpStream::connect(&addr).expect("connect");
            let got = read_until_closed(&mut s, Duration::from_millis(500));
            if let Some(got) = got {
                return String::from_utf8_lossy(&got).into_owned();
            }
            assert!(Instant::now() < deadline, "never refused");
        }
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(body).expect(&answer);
    assert!(v["error"].as_str().unwrap().contains("connections"), "{v}");
    drop(held);
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(r) = reqwest::get(svc.url("/healthz")).await
            && r.status() == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "/healthz never answered again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics = svc.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("nautes_lint_connections_refused_total ")
                && l != "nautes_lint_connections_refused_total 0"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_get_a_json_413_chunked_or_not() {
    let gl = FakeGitLab::start(TOKEN).await;
    let svc = Service::start_temp(&gl.url, &["--workers", "0", "--max-body-bytes", "4096"]).await;
    let db = svc.db();
    // With a Content-Length.
    let mut big = payload("push.json");
    big["padding"] = "x".repeat(8192).into();
    let (code, body) = post(&svc, "Push Hook", big.to_string(), Some(SECRET), &[]).await;
    assert_eq!(code, 413, "{body}");
    assert!(body["error"].as_str().unwrap().contains("4096"), "{body}");
    // Chunked: the size is only known while reading.
    let addr = svc.addr.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(&addr).expect("connect");
        let head = format!(
            "POST /webhook/gitlab HTTP/1.1\r\nHost: x\r\nX-Gitlab-Event: Push Hook\r\n\
             X-Gitlab-Token: {SECRET}\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        s.write_all(head.as_bytes()).expect("head");
        let chunk = "y".repeat(1000);
        for _ in 0..8 {
            // The server may answer and close before the last chunks.
            if s.write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes())
                .is_err()
            {
                break;
            }
        }
        let _ = s.write_all(b"0\r\n\r\n");
        String::from_utf8_lossy(&read_until_closed(&mut s, WAIT).expect("answered")).into_owned()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(body).expect(&answer);
    assert!(v["error"].as_str().unwrap().contains("4096"), "{v}");
    assert!(jobs(&db).is_empty());
    let metrics = svc.metrics().await;
    assert!(
        metrics.contains("kind=\"push\",outcome=\"too_large\"} 2"),
        "{metrics}"
    );
}

#[test]
fn text_logs_carry_no_colour_codes_when_not_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--gitlab-url",
            "http://127.0.0.1:9",
            "--workers",
            "0",
            "--log-format",
            "text",
        ])
        .arg("--database")
        .arg(dir.path().join("q.db"))
        .env_remove("NO_COLOR")
        .env("NAUTES_LINT_WEBHOOK_SECRET", SECRET)
        .env("NAUTES_LINT_GITLAB_TOKEN", TOKEN)
        .env("NAUTES_LINT_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start");
    let mut seen = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.expect("line");
        let done = line.contains("listening");
        seen.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen.iter().any(|l| l.contains("listening")),
        "no listening line: {seen:?}"
    );
    assert!(
        seen.iter().all(|l| !l.contains('\u{1b}')),
        "colour codes: {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_when_the_database_file_is_deleted_or_replaced() {
    let gl = FakeGitLab::start(TOKEN).await;
    let ready = |svc: &Service| {
        let url = svc.url("/readyz");
        async move { reqwest::get(url).await.expect("readyz").status().as_u16() }
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    let svc = Service::start(&gl.url, &db, &["--workers", "0"]).await;
    assert_eq!(ready(&svc).await, 200);
    std::fs::remove_file(&db).unwrap();
    assert_eq!(ready(&svc).await, 503);
    drop(svc);

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    let svc = Service::start(&gl.url, &db, &["--workers", "0"]).await;
    assert_eq!(ready(&svc).await, 200);
    let other = dir.path().join("other.db");
    std::fs::copy(&db, &other).unwrap();
    std::fs::rename(&other, &db).unwrap();
    assert_eq!(ready(&svc).await, 503);
    svc.wait_log("not ready").await;
}
