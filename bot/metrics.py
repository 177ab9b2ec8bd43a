"""Prometheus metrics, served at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter("sharecheck_http_requests_total", "HTTP requests handled", ["route", "status"])
HTTP_LATENCY = Histogram("sharecheck_http_request_seconds", "HTTP request handling time", ["route"])
CHECKS_STARTED = Counter("sharecheck_checks_started_total", "Share-checks started", ["platform"])
CHECKS_FINISHED = Counter(
    "sharecheck_checks_finished_total", "Share-checks completed or cancelled", ["platform", "outcome"]
)
DELIVERIES = Counter("sharecheck_deliveries_total", "Outbox delivery attempts by result", ["platform", "result"])
SCHEDULER_LAG = Histogram(
    "sharecheck_scheduler_lag_seconds",
    "From a message falling due to its delivery",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 15, 60, 300, 900, 3600),
)
