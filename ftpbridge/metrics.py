"""The process's own Prometheus metrics (prometheus-client): HTTP requests and their
latency (the web service), and job runs per partner (the daemon). Counted per process, as
Prometheus expects: with several replicas it scrapes each. What the store knows (items by
status, files, last successful poll) is read from the store at scrape time instead
(``ftpbridge.web.health``), so every replica reports the same truth."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "ftpbridge_http_requests",
    "HTTP requests answered, by method, route and status.",
    ["method", "path", "status"],
)
HTTP_LATENCY = Histogram(
    "ftpbridge_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by route.",
    ["path"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
JOB_RUNS = Counter(
    "ftpbridge_job_runs",
    "Export and poll runs of this process, by partner, job and outcome (ok, failed, elsewhere).",
    ["partner", "job", "outcome"],
)


def job_ran(partner: str, job: str, ok: bool | None) -> None:
    """Count one run of ``job`` (True: worked, False: failed, None: ran on another replica)."""
    outcome = "elsewhere" if ok is None else ("ok" if ok else "failed")
    JOB_RUNS.labels(partner=partner, job=job, outcome=outcome).inc()
