//! `nautes-lint serve`: the GitLab webhook service.
//!
//! The request path only authenticates, parses and stores: a delivery is answered 202 once its
//! job is committed to the queue ([`queue`]: SQLite, or PostgreSQL for several replicas), in milliseconds, because GitLab gives a
//! webhook 10 s and disables hooks that keep failing. Workers ([`worker`]) do the slow part in
//! the background: fetch the archive ([`archive`], [`gitlab`]), validate, post the result.
//!
//! [`run`] is the whole service as a library function, so tests can start it in-process; the CLI
//! wraps it with signal handling and JSON logs.

pub mod archive;
pub mod config;
pub mod event;
pub mod gitlab;
pub mod metrics;
pub mod queue;
pub mod reconcile;
pub mod tenant;
pub mod tenant_store;
pub mod threads;
pub mod threads_sync;
pub mod worker;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use config::ServeConfig;
use metrics::{Metrics, event_label};
use queue::{Database, Enqueued, Queue};
use serde_json::json;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tracing::Instrument;

/// Memory for archives kept between jobs (their YAML, uncompressed): a few trees of a
/// 1,000-runtime repository (0.8 MB each), or one of about 50,000 runtimes.
const ARCHIVE_CACHE_BYTES: usize = 32 << 20;

/// Finished jobs are kept this long so late redeliveries are still recognised as duplicates.
const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Clone)]
struct AppState {
    config: Arc<ServeConfig>,
    queue: Queue,
    metrics: Arc<Metrics>,
    notify: Arc<Notify>,
    ids: Arc<AtomicU64>,
    /// Distinguishes request ids of one process from the next one's.
    boot: u64,
    /// The SQLite file the queue opened, to notice it deleted or replaced under the process.
    database_file: Option<(PathBuf, FileId)>,
    /// The tenant context (`--tenant-project`).
    tenant: Option<Arc<tenant::Tenant>>,
}

/// Binds `config.listen` and runs until `shutdown` resolves.
pub async fn run(
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    run_on(listener, config, shutdown).await
}

/// Runs the service on a bound listener until `shutdown` resolves; then stops accepting,
/// lets in-flight jobs finish for `shutdown_grace`, puts the rest back in the queue, and closes
/// the database.
pub async fn run_on(
    listener: TcpListener,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let config = Arc::new(config);
    let clusters = match &config.clusters {
        Some(p) => Some(Arc::new(
            crate::clusters::load(p, None)
                .map_err(|e| format!("cannot load the cluster inventory: {e}"))?
                .clusters,
        )),
        None => None,
    };
    let (queue, recovered) = Queue::connect(&config.database, config.synchronous)
        .await
        .map_err(|e| e.to_string())?;
    let database_file = match &config.database {
        Database::Sqlite(path) => Some((
            path.clone(),
            file_id(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        )),
        Database::Postgres(_) => None,
    };
    if recovered > 0 {
        tracing::warn!(
            jobs = recovered,
            "jobs interrupted by a crash or a kill are back in the queue"
        );
    }
    match queue.prune(RETENTION).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(jobs = n, "pruned finished jobs older than 30 days"),
        Err(e) => tracing::warn!(error = %e, "cannot prune old jobs"),
    }
    let metrics = Arc::new(Metrics::default());
    let gitlab = gitlab::GitLab::new(
        &config.gitlab_url,
        config.gitlab_token.clone(),
        config.retry,
        metrics.clone(),
    )?;
    let notify = Arc::new(Notify::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let (abort_tx, abort_rx) = watch::channel(false);
    let tenant = tenant::start(&config, &gitlab, &metrics, stop_rx.clone()).await?;
    let ctx = Arc::new(worker::Context {
        config: config.clone(),
        queue: queue.clone(),
        gitlab,
        metrics: metrics.clone(),
        clusters,
        tenant: tenant.clone(),
        notify: notify.clone(),
        archives: archive::ArchiveCache::new(ARCHIVE_CACHE_BYTES),
        yaml: archive::YamlBudget::new(config.yaml.total, config.yaml.per_job),
    });
    // The catch-up stops with the workers' intake: it only queues.
    let catch_up = tokio::spawn(reconcile::run(ctx.clone(), stop_rx.clone()));
    let mut workers = tokio::task::JoinSet::new();
    for n in 0..config.workers {
        workers.spawn(worker::run(
            ctx.clone(),
            n,
            stop_rx.clone(),
            abort_rx.clone(),
        ));
    }

    let state = AppState {
        config: config.clone(),
        queue: queue.clone(),
        metrics: metrics.clone(),
        notify,
        ids: Arc::new(AtomicU64::new(0)),
        boot: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        database_file,
        tenant,
    };
    let app = router(state);
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    tracing::info!(
        addr = %addr,
        gitlab = %config.gitlab_url,
        database = %config.database,
        workers = config.workers,
        "listening"
    );

    // The signal stops the HTTP server and the workers' intake at the same moment.
    let (signal_tx, signal_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = signal_tx.send(true);
    });
    let server = serve_http(listener, app, &config, metrics, signal_rx.clone());
    let mut worker_signal = signal_rx;
    let grace = config.shutdown_grace;
    let supervisor = async move {
        let _ = worker_signal.wait_for(|s| *s).await;
        tracing::info!(
            grace_ms = grace.as_millis() as u64,
            "shutting down: no new work, in-flight jobs may finish"
        );
        let _ = stop_tx.send(true);
        let drained = tokio::time::timeout(grace, async {
            while workers.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            let _ = abort_tx.send(true);
            while workers.join_next().await.is_some() {}
        }
    };
    tokio::join!(server, supervisor);
    let _ = catch_up.await;
    queue.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Serves HTTP/1.1 on `listener` until `stop` turns true. A client gets `header_timeout` to send
/// its headers, so a slow or stalled one cannot hold a connection; at most `max_connections`
/// are open at once (more are answered 503 and closed, before they can exhaust the process's
/// file descriptors). On stop the listener closes, idle connections close at once, and requests
/// in progress get the shutdown grace to finish; whatever is still open then is dropped, so no
/// client keeps the process alive.
async fn serve_http(
    listener: TcpListener,
    app: Router,
    config: &ServeConfig,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(config.header_timeout);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = stopped(&mut stop) => break,
            // Reaps finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            r = listener.accept() => r,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, most likely: wait a little rather than spin.
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::select! {
                    _ = stopped(&mut stop) => break,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(
                limit = config.max_connections,
                "too many open connections; refused one"
            );
            metrics.connection_refused();
            refuse(stream);
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let mut stop = stop.clone();
        connections.spawn(async move {
            let _slot = slot;
            tokio::pin!(conn);
            let done = tokio::select! {
                r = conn.as_mut() => r,
                _ = stopped(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = done {
                tracing::debug!(error = %e, "connection closed");
            }
        });
    }
    drop(listener);
    let drained = tokio::time::timeout(config.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            "connections still open after the grace period; closed"
        );
        connections.shutdown().await;
    }
}

/// Resolves once `stop` is true. The guard `wait_for` returns is dropped here, so no borrow of
/// the channel is held across an await (the futures must be `Send`).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Answers a connection over the limit without reading it, in the service's JSON error shape,
/// and closes it. A new socket's send buffer is empty, so the short answer goes out at once:
/// no task per refused connection, which a flood would multiply.
fn refuse(stream: TcpStream) {
    const BODY: &str = r#"{"error":"too many open connections; try again later"}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = stream.try_write(answer.as_bytes());
}

/// A file's identity: device and inode, so a file replaced under the same name is told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId(u64, u64);

#[cfg(unix)]
fn file_id(path: &Path) -> std::io::Result<FileId> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path)?;
    Ok(FileId(m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(path: &Path) -> std::io::Result<FileId> {
    // No inode to compare: only a deleted file is noticed.
    std::fs::metadata(path).map(|_| FileId(0, 0))
}

fn router(state: AppState) -> Router {
    let timeout = state.config.request_timeout;
    // The webhook handler enforces --max-body-bytes itself, to answer 413 in JSON.
    let webhook = Router::new()
        .route("/webhook/gitlab", post(webhook))
        .layer(DefaultBodyLimit::disable());
    Router::new()
        .merge(webhook)
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/api/v1/context", get(context_document))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), access_log))
        .with_state(state)
}

/// Gives every request an id (in the log span and the `x-request-id` answer header) and logs
/// one line per request: method, path, status, latency. Headers are never logged: they carry
/// the webhook secret.
async fn access_log(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let n = st.ids.fetch_add(1, Ordering::Relaxed);
    let request_id = format!("{:x}-{n:x}", st.boot);
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        path = %req.uri().path(),
        delivery = header(req.headers(), "x-gitlab-webhook-uuid").unwrap_or(""),
    );
    let started = Instant::now();
    let mut resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status();
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            us = started.elapsed().as_micros() as u64,
            "answered"
        )
    });
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

async fn webhook(State(st): State<AppState>, req: Request) -> Response {
    let headers = req.headers().clone();
    let event = header(&headers, "x-gitlab-event");
    let kind = event_label(event);
    let limit = st.config.max_body_bytes;
    let too_large = || {
        st.metrics.event(kind, "too_large");
        answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"error": format!("body over the limit of {limit} bytes")}),
        )
    };
    // A declared length over the limit is refused before anything else is read.
    if header(&headers, "content-length")
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > limit as u64)
    {
        return too_large();
    }
    // Authenticate before reading a byte of the body.
    let token = headers.get("x-gitlab-token").map(|v| v.as_bytes());
    if !event::token_matches(token, &st.config.webhook_secret) {
        st.metrics.event(kind, "unauthorized");
        tracing::warn!("wrong or missing X-Gitlab-Token");
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({"error": "wrong or missing X-Gitlab-Token"}),
        );
    }
    let body = match axum::body::to_bytes(req.into_body(), limit).await {
        Ok(b) => b,
        Err(e) => {
            // A chunked body has no declared length: the limit is found while reading.
            if is_length_limit(&e) {
                return too_large();
            }
            st.metrics.event(kind, "bad_request");
            return answer(
                StatusCode::BAD_REQUEST,
                json!({"error": "cannot read the body"}),
            );
        }
    };
    if let Some(signing) = &st.config.signing_token {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        if let Err(why) = event::signature_valid(
            signing,
            header(&headers, "webhook-id"),
            header(&headers, "webhook-timestamp"),
            header(&headers, "webhook-signature"),
            &body,
            now,
        ) {
            st.metrics.event(kind, "unauthorized");
            tracing::warn!(reason = why, "signature refused");
            return answer(StatusCode::UNAUTHORIZED, json!({"error": why}));
        }
    }
    // A push to the tenant repository refreshes the context and is not a job (nor is its merge
    // request); a push to a product's default branch refreshes its claims and is validated.
    match st.tenant.as_ref().map(|t| t.on_delivery(event, &body)) {
        Some(tenant::Delivery::Refresh) => {
            st.metrics.event(kind, "tenant");
            return answer(
                StatusCode::ACCEPTED,
                json!({"status": "accepted", "tenant": "refresh"}),
            );
        }
        Some(tenant::Delivery::Ignore) => {
            st.metrics.event(kind, "ignored");
            return answer(
                StatusCode::OK,
                json!({"status": "ignored", "reason": "the tenant repository is not a default.project"}),
            );
        }
        Some(tenant::Delivery::Job) | None => {}
    }
    // A blank Idempotency-Key is no key: it must not hide the `webhook-id` behind it.
    let delivery = header(&headers, "idempotency-key")
        .filter(|k| !k.trim().is_empty())
        .or(header(&headers, "webhook-id"));
    let decision = match event::decide(
        event,
        &body,
        header(&headers, "x-gitlab-event-uuid"),
        delivery,
    ) {
        Ok(d) => d,
        Err(event::BadRequest(reason)) => {
            st.metrics.event(kind, "bad_request");
            tracing::info!(reason = %reason, "malformed delivery");
            return answer(StatusCode::BAD_REQUEST, json!({"error": reason}));
        }
    };
    let job = match decision {
        event::Decision::Ignore(reason) => {
            st.metrics.event(kind, "ignored");
            return answer(
                StatusCode::OK,
                json!({"status": "ignored", "reason": reason}),
            );
        }
        event::Decision::Enqueue(job) => job,
    };
    match st.queue.enqueue(job).await {
        Ok(Enqueued::Accepted { id, superseded }) => {
            st.metrics.event(kind, "accepted");
            st.notify.notify_one();
            tracing::debug!(job = id, superseded, "event stored");
            answer(
                StatusCode::ACCEPTED,
                json!({"status": "accepted", "job": id}),
            )
        }
        Ok(Enqueued::Duplicate { id }) => {
            st.metrics.event(kind, "duplicate");
            tracing::info!(job = id, "duplicate delivery; already stored");
            answer(StatusCode::OK, json!({"status": "duplicate", "job": id}))
        }
        Err(e) => {
            st.metrics.event(kind, "error");
            tracing::error!(error = %e, "cannot store the event");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "the queue cannot store the event right now"}),
            )
        }
    }
}

/// Whether `e`, or any error it wraps, is the body length limit: the wrapping depth differs
/// with the body's path through the stack.
fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

async fn readyz(State(st): State<AppState>) -> Response {
    // A write to a deleted or replaced file still succeeds (on the old inode), and every event
    // stored there would be lost at the next start.
    if let Some((path, opened)) = &st.database_file {
        match file_id(path) {
            Ok(id) if id == *opened => {}
            Ok(_) => {
                tracing::warn!("not ready: the database file was replaced");
                return (StatusCode::SERVICE_UNAVAILABLE, "database file replaced\n")
                    .into_response();
            }
            Err(e) => {
                tracing::warn!(error = %e, "not ready: the database file is gone");
                return (StatusCode::SERVICE_UNAVAILABLE, "database file gone\n").into_response();
            }
        }
    }
    match tokio::time::timeout(Duration::from_secs(2), st.queue.probe_write()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: the database does not take writes");
            (StatusCode::SERVICE_UNAVAILABLE, "database not writable\n").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database too slow\n").into_response(),
    }
}

async fn metrics_text(State(st): State<AppState>) -> Response {
    let depth = st.queue.depth().await.unwrap_or_default();
    let mut resp = Response::new(Body::from(st.metrics.render(depth.queued, depth.running)));
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// `GET /api/v1/context`: the tenant context for `check --context` and the hooks, behind a
/// bearer token of its own (it names every product's namespaces; the webhook secret is GitLab's).
async fn context_document(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let Some(expected) = &st.config.tenant.context_token else {
        return answer(
            StatusCode::NOT_FOUND,
            json!({"error": "the context endpoint is off: set NAUTES_LINT_CONTEXT_TOKEN to enable it"}),
        );
    };
    // The scheme is case-insensitive (RFC 9110 §11.1).
    let presented = header(&headers, "authorization")
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    if !event::token_matches(presented.map(str::as_bytes), expected) {
        tracing::warn!("wrong or missing bearer token for the context");
        let mut resp = answer(
            StatusCode::UNAUTHORIZED,
            json!({"error": "wrong or missing Authorization: Bearer token"}),
        );
        resp.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer"),
        );
        return resp;
    }
    let Some(t) = &st.tenant else {
        return answer(
            StatusCode::NOT_FOUND,
            json!({"error": "no tenant context: the service runs without --tenant-project"}),
        );
    };
    let snapshot = t.snapshot();
    if snapshot.inventory.is_none() {
        // Half a context would let `check --context` pass what the service fails.
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "the tenant context is not read yet; try again later"}),
        );
    }
    let mut resp = Response::new(Body::new(Chunks(snapshot.context_json())));
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A response body sent one piece of an iterator at a time.
struct Chunks<I>(I);

impl<I: Iterator<Item = String> + Unpin> axum::body::HttpBody for Chunks<I> {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(
            self.0
                .next()
                .map(|s| Ok(hyper::body::Frame::data(axum::body::Bytes::from(s)))),
        )
    }
}
