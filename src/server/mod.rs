//! `nautes-lint serve`: the GitLab webhook service.
//!
//! The request path only authenticates, parses and stores: a delivery is answered 202 once its
//! job is committed to the SQLite queue ([`queue`]), in milliseconds, because GitLab gives a
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
use queue::{Enqueued, Queue};
use serde_json::json;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
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
        Some(p) => Some(
            crate::clusters::load(p, None)
                .map_err(|e| format!("cannot load the cluster inventory: {e}"))?
                .clusters,
        ),
        None => None,
    };
    let (queue, recovered) =
        Queue::open_with(&config.database, config.synchronous).map_err(|e| e.to_string())?;
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
    let ctx = Arc::new(worker::Context {
        config: config.clone(),
        queue: queue.clone(),
        gitlab,
        metrics: metrics.clone(),
        clusters,
        notify: notify.clone(),
        archives: archive::ArchiveCache::new(ARCHIVE_CACHE_BYTES),
    });
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
        metrics,
        notify,
        ids: Arc::new(AtomicU64::new(0)),
        boot: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    };
    let app = router(state);
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    tracing::info!(
        addr = %addr,
        gitlab = %config.gitlab_url,
        database = %config.database.display(),
        workers = config.workers,
        "listening"
    );

    // The signal stops the HTTP server and the workers' intake at the same moment.
    let (signal_tx, signal_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = signal_tx.send(true);
    });
    let mut http_signal = signal_rx.clone();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = http_signal.wait_for(|s| *s).await;
    });
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
    let (served, ()) = tokio::join!(server, supervisor);
    queue.close().await;
    served.map_err(|e| format!("the HTTP server failed: {e}"))?;
    tracing::info!("stopped");
    Ok(())
}

fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    let timeout = state.config.request_timeout;
    let webhook = Router::new()
        .route("/webhook/gitlab", post(webhook))
        // One limit, enforced by tower-http: 413 before the body is read when Content-Length is
        // too large, and while streaming otherwise.
        .layer(DefaultBodyLimit::disable())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(limit));
    Router::new()
        .merge(webhook)
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
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
    let kind = event_label(header(req.headers(), "x-gitlab-event"));
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
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        st.metrics.event(kind, "too_large");
    }
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
    let body = match axum::body::to_bytes(req.into_body(), usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            // The limit layer's error surfaces here when the body streams past the limit.
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                st.metrics.event(kind, "too_large");
                return answer(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    json!({"error": format!("body over the limit of {} bytes", st.config.max_body_bytes)}),
                );
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
    let delivery = header(&headers, "idempotency-key").or(header(&headers, "webhook-id"));
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

async fn readyz(State(st): State<AppState>) -> Response {
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
