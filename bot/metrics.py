"""Prometheus metrics, served at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("sharecheck_http_requests_total", "HTTP requests handled", ["route", "status"])
HTTP_LATENCY = Histogram("sharecheck_http_request_seconds", "HTTP request handling time", ["route"])
CHECKS_STARTED = Counter("sharecheck_checks_started_total", "Share-checks started", ["platform"])
CHECKS_FINISHED = Counter(
    "sharecheck_checks_finished_total", "Share-checks completed or cancelled", ["platform", "outcome"]
)
DELIVERIES = Counter("sharecheck_deliveries_total", "Outbox delivery attempts by result", ["platform", "result"])
PLATFORM_API_ERRORS = Counter(
    "sharecheck_platform_api_errors_total",
    "Failed deliveries to a platform API: raised (network fault or bug), temporary (retried), permanent, "
    "not_configured",
    ["platform", "error"],
)
DELIVERY_RETRIES = Counter(
    "sharecheck_delivery_retries_total", "Outbox messages put back for a later attempt", ["platform"]
)
SCHEDULER_LAG = Histogram(
    "sharecheck_scheduler_lag_seconds",
    "From a message falling due to its delivery",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 15, 60, 300, 900, 3600),
)
# Gauges read from the shared database: every instance reports the same figure, so aggregate with max(), not sum().
FOLLOW_UPS = Gauge(
    "sharecheck_follow_ups", "Follow-ups by state (whole database; refreshed at most every 15 s)", ["state"]
)
OUTBOX_QUEUED = Gauge("sharecheck_outbox_queued", "Messages waiting in the outbox (whole database)")
AUDIT_SEALED = Counter("sharecheck_audit_sealed_total", "Events sealed into their workspace's audit chain")
AUDIT_UNSEALED = Gauge("sharecheck_audit_unsealed_records", "Records with events not yet sealed (whole database)")
