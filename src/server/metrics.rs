//! Prometheus text exposition, written by hand: a few counters and one histogram do not need a
//! metrics framework. Label sets are small and fixed, so a mutex-guarded map is cheap enough
//! (one lock per event, far below the cost of the fsync each accepted event waits for).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the job duration buckets, in seconds.
const BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    /// (kind, outcome) -> count
    events: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// outcome -> count
    jobs: Mutex<BTreeMap<&'static str, u64>>,
    /// (endpoint, class) -> count
    gitlab_errors: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    durations: Mutex<Histogram>,
    /// "hit" (from the cache) or "download" -> count
    archives: Mutex<BTreeMap<&'static str, u64>>,
    /// Connections answered 503 for being over `--max-connections`.
    refused_connections: AtomicU64,
    /// Merge-request review thread actions (opened, resolved, reopened, refused, failed) -> count
    threads: Mutex<BTreeMap<&'static str, u64>>,
    /// Catch-up sweeps by outcome ("done", "stopped").
    sweeps: Mutex<BTreeMap<&'static str, u64>>,
    /// Commits the catch-up queued: each one a delivery the service missed.
    caught_up: AtomicU64,
}

fn bump<K: Ord>(m: &Mutex<BTreeMap<K, u64>>, k: K) {
    let mut g = m.lock().unwrap_or_else(|p| p.into_inner());
    *g.entry(k).or_insert(0) += 1;
}

/// Event kinds as they appear in the `X-Gitlab-Event` header, folded to a fixed set so a client
/// sending random headers cannot grow the label set.
pub fn event_label(header: Option<&str>) -> &'static str {
    match header {
        Some("Push Hook") => "push",
        Some("Merge Request Hook") => "merge_request",
        Some("Tag Push Hook") => "tag_push",
        Some("Note Hook") => "note",
        Some(_) => "other",
        None => "none",
    }
}

impl Metrics {
    pub fn event(&self, kind: &'static str, outcome: &'static str) {
        bump(&self.events, (kind, outcome));
    }

    pub fn job(&self, outcome: &'static str, took: Duration) {
        bump(&self.jobs, outcome);
        let mut h = self.durations.lock().unwrap_or_else(|p| p.into_inner());
        if h.counts.is_empty() {
            h.counts = vec![0; BUCKETS.len()];
        }
        let secs = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    pub fn archive(&self, source: &'static str) {
        bump(&self.archives, source);
    }

    pub fn connection_refused(&self) {
        self.refused_connections.fetch_add(1, Ordering::Relaxed);
    }

    /// A review thread action: `opened`, `resolved`, `reopened`, `refused` (GitLab's 400 for
    /// the position), `failed` (a job whose threads could not be brought up to date).
    pub fn thread(&self, action: &'static str) {
        bump(&self.threads, action);
    }

    pub fn gitlab_error(&self, endpoint: &'static str, class: &'static str) {
        bump(&self.gitlab_errors, (endpoint, class));
    }

    pub fn sweep(&self, outcome: &'static str) {
        bump(&self.sweeps, outcome);
    }

    pub fn caught_up(&self) {
        self.caught_up.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text; `queued` and `running` come from the database at scrape time.
    pub fn render(&self, queued: u64, running: u64) -> String {
        let mut out = String::new();
        out.push_str("# HELP nautes_lint_webhook_events_total Webhook deliveries by event kind and outcome.\n");
        out.push_str("# TYPE nautes_lint_webhook_events_total counter\n");
        for ((kind, outcome), n) in self.events.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "nautes_lint_webhook_events_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str("# HELP nautes_lint_queue_depth Jobs in the durable queue by state.\n");
        out.push_str("# TYPE nautes_lint_queue_depth gauge\n");
        let _ = writeln!(out, "nautes_lint_queue_depth{{state=\"queued\"}} {queued}");
        let _ = writeln!(
            out,
            "nautes_lint_queue_depth{{state=\"running\"}} {running}"
        );
        out.push_str("# HELP nautes_lint_jobs_total Finished job runs by outcome.\n");
        out.push_str("# TYPE nautes_lint_jobs_total counter\n");
        for (outcome, n) in self.jobs.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "nautes_lint_jobs_total{{outcome=\"{outcome}\"}} {n}");
        }
        out.push_str(
            "# HELP nautes_lint_job_duration_seconds Time from claiming a job to its result.\n",
        );
        out.push_str("# TYPE nautes_lint_job_duration_seconds histogram\n");
        {
            let h = self.durations.lock().unwrap_or_else(|p| p.into_inner());
            for (i, b) in BUCKETS.iter().enumerate() {
                let c = h.counts.get(i).copied().unwrap_or(0);
                let _ = writeln!(
                    out,
                    "nautes_lint_job_duration_seconds_bucket{{le=\"{b}\"}} {c}"
                );
            }
            let _ = writeln!(
                out,
                "nautes_lint_job_duration_seconds_bucket{{le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "nautes_lint_job_duration_seconds_sum {}", h.sum);
            let _ = writeln!(out, "nautes_lint_job_duration_seconds_count {}", h.count);
        }
        out.push_str("# HELP nautes_lint_archives_total Trees a job needed, by where they came from (hit: the cache, download: GitLab).\n");
        out.push_str("# TYPE nautes_lint_archives_total counter\n");
        for (source, n) in self
            .archives
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(out, "nautes_lint_archives_total{{source=\"{source}\"}} {n}");
        }
        out.push_str("# HELP nautes_lint_gitlab_api_errors_total Failed GitLab API calls by endpoint and class.\n");
        out.push_str("# TYPE nautes_lint_gitlab_api_errors_total counter\n");
        for ((endpoint, class), n) in self
            .gitlab_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "nautes_lint_gitlab_api_errors_total{{endpoint=\"{endpoint}\",class=\"{class}\"}} {n}"
            );
        }
        out.push_str("# HELP nautes_lint_connections_refused_total Connections answered 503 for being over --max-connections.\n");
        out.push_str("# TYPE nautes_lint_connections_refused_total counter\n");
        let _ = writeln!(
            out,
            "nautes_lint_connections_refused_total {}",
            self.refused_connections.load(Ordering::Relaxed)
        );
        out.push_str("# HELP nautes_lint_mr_threads_total Merge-request review thread actions (opened, resolved, reopened, refused: a position GitLab would not take, failed: a job whose threads could not be updated).\n");
        out.push_str("# TYPE nautes_lint_mr_threads_total counter\n");
        for (action, n) in self
            .threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "nautes_lint_mr_threads_total{{action=\"{action}\"}} {n}"
            );
        }
        out.push_str("# HELP nautes_lint_catch_up_sweeps_total Catch-up sweeps by outcome (done, stopped: GitLab or the queue cut it short).\n");
        out.push_str("# TYPE nautes_lint_catch_up_sweeps_total counter\n");
        for (outcome, n) in self.sweeps.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "nautes_lint_catch_up_sweeps_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str("# HELP nautes_lint_catch_up_queued_total Commits the catch-up queued: deliveries the service missed.\n");
        out.push_str("# TYPE nautes_lint_catch_up_queued_total counter\n");
        let _ = writeln!(
            out,
            "nautes_lint_catch_up_queued_total {}",
            self.caught_up.load(Ordering::Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.event("push", "accepted");
        m.event("push", "accepted");
        m.job("success", Duration::from_millis(70));
        m.job("failed", Duration::from_secs(3));
        m.gitlab_error("statuses", "5xx_or_network");
        m.archive("hit");
        m.connection_refused();
        m.thread("opened");
        m.sweep("done");
        m.caught_up();
        let t = m.render(4, 1);
        assert!(
            t.contains("nautes_lint_webhook_events_total{kind=\"push\",outcome=\"accepted\"} 2")
        );
        assert!(t.contains("nautes_lint_queue_depth{state=\"queued\"} 4"));
        assert!(t.contains("nautes_lint_job_duration_seconds_bucket{le=\"0.1\"} 1"));
        assert!(t.contains("nautes_lint_job_duration_seconds_bucket{le=\"5\"} 2"));
        assert!(t.contains("nautes_lint_job_duration_seconds_count 2"));
        assert!(t.contains("endpoint=\"statuses\",class=\"5xx_or_network\"} 1"));
        assert!(t.contains("nautes_lint_archives_total{source=\"hit\"} 1"));
        assert!(t.contains("nautes_lint_connections_refused_total 1"));
        assert!(t.contains("nautes_lint_mr_threads_total{action=\"opened\"} 1"));
        assert!(t.contains("nautes_lint_catch_up_sweeps_total{outcome=\"done\"} 1"));
        assert!(t.contains("nautes_lint_catch_up_queued_total 1"));
    }
}
