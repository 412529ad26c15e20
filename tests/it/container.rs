//! The image, run for real: `deploy/Containerfile`'s `prebuilt` target is built with podman from
//! a base image made locally with debootstrap (no registry is reachable here) and the binary
//! cargo built for this test run, then run against the fake GitLab. It runs as its unprivileged
//! user, answers `/readyz`, validates a push, keeps its SQLite queue on a volume across a
//! `SIGKILL` and a new container, and stops cleanly on `SIGTERM`.
//!
//! Needs root, podman (with runc) and, to make the base image once, debootstrap. Without them
//! the test is skipped with a note, except when `CI` is set (`.ci/run` installs them): then it
//! fails.

use crate::common::service::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The local base image; made once per machine (a few minutes), then reused.
const BASE_IMAGE: &str = "localhost/nautes-lint-base:bookworm";
/// What this machine's podman needs: the runc runtime, the host's network (the fake GitLab and
/// the service both on 127.0.0.1), and limits below the defaults it refuses.
const RUN_FLAGS: [&str; 8] = [
    "--runtime",
    "runc",
    "--network",
    "host",
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1000:1000",
];
const PODMAN_TIMEOUT: Duration = Duration::from_secs(180);
const BUILD_TIMEOUT: Duration = Duration::from_secs(600);
const DEBOOTSTRAP_TIMEOUT: Duration = Duration::from_secs(1800);
/// The uid the Containerfile's runtime stage runs as.
const SERVICE_UID: &str = "10001";

/// Runs `cmd` to its end or kills it after `timeout` (then panics: a hung podman must not hang
/// the suite).
fn run(mut cmd: Command, timeout: Duration) -> Output {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    // Drained on threads, so a chatty command cannot block on a full pipe.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{shown} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out.join().expect("stdout thread"),
        stderr: err.join().expect("stderr thread"),
    }
}

fn podman(args: &[&str]) -> Command {
    let mut c = Command::new("podman");
    c.args(args);
    c
}

/// `podman args`, which must succeed; its standard output, trimmed.
fn podman_ok(args: &[&str], timeout: Duration) -> String {
    let out = run(podman(args), timeout);
    assert!(
        out.status.success(),
        "podman {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn have(tool: &str, version_flag: &str) -> bool {
    Command::new(tool)
        .arg(version_flag)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the test can run: podman, as root (the test reads the container's process from the
/// host's /proc, and this machine's podman runs rootful), and debootstrap when the base image
/// must be made. Without them the test is skipped with a note, unless CI promised them.
fn can_run() -> bool {
    let mut missing = Vec::new();
    if !have("podman", "--version") {
        missing.push("podman");
    } else if !run(podman(&["image", "exists", BASE_IMAGE]), PODMAN_TIMEOUT)
        .status
        .success()
        && !have("debootstrap", "--version")
    {
        missing.push("debootstrap (to make the base image)");
    }
    if uid_of("self") != "0" {
        missing.push("root");
    }
    if missing.is_empty() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI is set but {missing:?} missing: .ci/run installs podman, runc and debootstrap");
    }
    eprintln!(
        "SKIPPED: the container test needs {missing:?} (apt-get install podman runc debootstrap)"
    );
    false
}

/// The Debian mirror apt uses on this machine (its sources list), for debootstrap.
fn debian_mirror() -> String {
    let mut texts = Vec::new();
    if let Ok(t) = std::fs::read_to_string("/etc/apt/sources.list") {
        texts.push(t);
    }
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("list" | "sources")
            ) && let Ok(t) = std::fs::read_to_string(&p)
            {
                texts.push(t);
            }
        }
    }
    texts
        .iter()
        .flat_map(|t| t.lines())
        .filter_map(|l| {
            let l = l.trim();
            // deb822 (`URIs: ...`) or one-line (`deb [opts] URI suite ...`) entries.
            let uri = if let Some(rest) = l.strip_prefix("URIs:") {
                rest.split_whitespace().next()
            } else if l.starts_with("deb ") {
                l.split_whitespace().skip(1).find(|w| !w.starts_with('['))
            } else {
                None
            }?;
            (uri.contains("debian") && !uri.contains("security")).then(|| uri.to_owned())
        })
        .next()
        .unwrap_or_else(|| "http://deb.debian.org/debian".to_owned())
}

/// Makes [`BASE_IMAGE`] unless it exists: Debian bookworm (minbase, with CA certificates) from
/// the machine's Debian mirror, imported into podman. The host's binary needs the glibc of
/// the Debian release it was built on; bookworm's is 2.36.
fn ensure_base_image() {
    if run(podman(&["image", "exists", BASE_IMAGE]), PODMAN_TIMEOUT)
        .status
        .success()
    {
        return;
    }
    let root = tempfile::tempdir().expect("tempdir");
    let target = root.path().join("rootfs");
    let mirror = debian_mirror();
    eprintln!("making {BASE_IMAGE} with debootstrap from {mirror} (once per machine)");
    let mut debootstrap = Command::new("debootstrap");
    debootstrap
        .args(["--variant=minbase", "--include=ca-certificates", "bookworm"])
        .arg(&target)
        .arg(&mirror);
    let out = run(debootstrap, DEBOOTSTRAP_TIMEOUT);
    assert!(
        out.status.success(),
        "debootstrap failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut import = Command::new("sh");
    import
        .arg("-c")
        .arg(r#"tar -C "$1" -c . | podman import - "$2""#)
        .arg("sh")
        .arg(&target)
        .arg(BASE_IMAGE);
    let out = run(import, PODMAN_TIMEOUT);
    assert!(
        out.status.success(),
        "podman import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Removes what the test made (containers, volume, image) however it ends.
struct Cleanup {
    containers: Vec<String>,
    volume: String,
    image: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = run(podman(&["rm", "-f", "-t", "0", c]), PODMAN_TIMEOUT);
        }
        let _ = run(
            podman(&["volume", "rm", "-f", &self.volume]),
            PODMAN_TIMEOUT,
        );
        let _ = run(podman(&["rmi", "-f", &self.image]), PODMAN_TIMEOUT);
    }
}

/// A port nothing listens on now, for the service inside the container (host network).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Starts a container of `image` with the queue on `volume`; the secrets pass through
/// podman's environment (`-e NAME`), not its arguments.
fn start_container(name: &str, image: &str, volume: &str, gitlab: &str, port: u16) {
    let listen = format!("NAUTES_LINT_LISTEN=127.0.0.1:{port}");
    let gitlab = format!("NAUTES_LINT_GITLAB_URL={gitlab}");
    let mount = format!("{volume}:/var/lib/nautes-lint");
    let mut args = vec!["run", "-d", "--name", name];
    args.extend(RUN_FLAGS);
    args.extend([
        "-v",
        &mount,
        "-e",
        &listen,
        "-e",
        &gitlab,
        "-e",
        "NAUTES_LINT_WEBHOOK_SECRET",
        "-e",
        "NAUTES_LINT_GITLAB_TOKEN",
        // A killed container's running job is taken again after one second, not thirty.
        "-e",
        "NAUTES_LINT_JOB_LEASE=1",
        "-e",
        "NAUTES_LINT_RETRY_BASE_MS=50",
        image,
    ]);
    let mut cmd = podman(&args);
    cmd.env("NAUTES_LINT_WEBHOOK_SECRET", SECRET)
        .env("NAUTES_LINT_GITLAB_TOKEN", TOKEN);
    let out = run(cmd, PODMAN_TIMEOUT);
    assert!(
        out.status.success(),
        "podman run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn logs(name: &str) -> String {
    let out = run(podman(&["logs", name]), PODMAN_TIMEOUT);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Waits until `/readyz` answers 200.
async fn wait_ready(name: &str, port: u16) {
    let deadline = Instant::now() + WAIT;
    let url = format!("http://127.0.0.1:{port}/readyz");
    loop {
        if let Ok(r) = reqwest::get(&url).await
            && r.status() == 200
        {
            assert_eq!(r.text().await.unwrap(), "ready\n");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the container never became ready:\n{}",
            logs(name)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn deliver(port: u16, body: String) -> u16 {
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/webhook/gitlab"))
        .header("content-type", "application/json")
        .header("X-Gitlab-Event", "Push Hook")
        .header("X-Gitlab-Token", SECRET)
        .body(body)
        .send()
        .await
        .expect("delivery")
        .status()
        .as_u16()
}

/// The real uid of process `pid` (a number, or `self`), from /proc.
fn uid_of(pid: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|u| u.split_whitespace().next())
        .expect("Uid line")
        .to_owned()
}

/// The uid the container's main process runs as, read from the host's /proc (rootful podman
/// maps no user namespace).
fn process_uid(name: &str) -> String {
    let pid = podman_ok(
        &["inspect", "--format", "{{.State.Pid}}", name],
        PODMAN_TIMEOUT,
    );
    uid_of(&pid)
}

/// A folder holding only the binary cargo built for this run: the `prebuilt` target's context.
fn build_context() -> tempfile::TempDir {
    let ctx = tempfile::tempdir().expect("tempdir");
    let to = ctx.path().join("nautes-lint");
    // A link costs nothing; a copy where the temporary folder is on another file system.
    if std::fs::hard_link(BIN, &to).is_err() {
        std::fs::copy(BIN, &to).expect("copy the binary");
    }
    ctx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_runs_unprivileged_validates_keeps_its_queue_and_stops_cleanly() {
    if !can_run() {
        return;
    }
    ensure_base_image();
    let tag = format!("nautes-lint-test-{}", std::process::id());
    let image = format!("localhost/{tag}:latest");
    let first = format!("{tag}-a");
    let second = format!("{tag}-b");
    let _cleanup = Cleanup {
        containers: vec![first.clone(), second.clone()],
        volume: tag.clone(),
        image: image.clone(),
    };

    let ctx = build_context();
    let containerfile = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/Containerfile");
    let base_arg = format!("BASE={BASE_IMAGE}");
    let mut build = vec!["build"];
    build.extend(RUN_FLAGS);
    build.extend([
        "-f",
        containerfile.to_str().expect("utf-8 path"),
        "--target",
        "prebuilt",
        "--build-arg",
        &base_arg,
        "-t",
        &image,
        ctx.path().to_str().expect("utf-8 path"),
    ]);
    podman_ok(&build, BUILD_TIMEOUT);
    podman_ok(&["volume", "create", &tag], PODMAN_TIMEOUT);

    let gl = gitlab().await;
    let port = free_port();
    start_container(&first, &image, &tag, &gl.url, port);
    wait_ready(&first, port).await;
    assert_eq!(process_uid(&first), SERVICE_UID, "the service runs as root");

    // A push is validated: its commit gets `success`.
    assert_eq!(deliver(port, push(CLEAN, BASE)).await, 202);
    gl.wait_for("the push's status", WAIT, |c| finals(c, CLEAN) == 1)
        .await;
    assert_eq!(gl.states(CLEAN), ["pending", "success"]);

    // A push accepted, its run held at the archive download, then SIGKILL.
    gl.hold_archive_of(BROKEN);
    assert_eq!(deliver(port, push(BROKEN, CLEAN)).await, 202);
    gl.wait_for("the held job's pending status", WAIT, |_| {
        gl.states(BROKEN) == ["pending"]
    })
    .await;
    podman_ok(&["kill", "--signal", "KILL", &first], PODMAN_TIMEOUT);
    let code = podman_ok(&["wait", &first], PODMAN_TIMEOUT);
    assert_eq!(code, "137", "killed by SIGKILL");
    gl.hold_archives(false);
    assert_eq!(finals(&gl.calls(), BROKEN), 0, "checked before the kill");

    // A new container on the same volume finishes the job from the queue it finds there.
    podman_ok(&["rm", &first], PODMAN_TIMEOUT);
    start_container(&second, &image, &tag, &gl.url, port);
    wait_ready(&second, port).await;
    gl.wait_for("the status after the restart", WAIT, |c| {
        finals(c, BROKEN) == 1
    })
    .await;
    assert_eq!(gl.states(BROKEN).last().map(String::as_str), Some("failed"));

    // SIGTERM (the image's STOPSIGNAL, what `podman stop` and Kubernetes send): exit 0, in time.
    let out = run(podman(&["stop", "--time", "60", &second]), PODMAN_TIMEOUT);
    assert!(out.status.success(), "podman stop: {out:?}");
    let code = podman_ok(
        &["inspect", "--format", "{{.State.ExitCode}}", &second],
        PODMAN_TIMEOUT,
    );
    let log = logs(&second);
    assert_eq!(code, "0", "exit code after SIGTERM:\n{log}");
    assert!(
        log.contains("\"stopped\""),
        "no clean stop in the log:\n{log}"
    );
    assert!(
        !log.contains(SECRET) && !log.contains(TOKEN),
        "a secret was logged"
    );
}
