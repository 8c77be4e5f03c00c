"""Prometheus metrics, in a registry owned by one app (so tests and workers never collide).

HTTP metrics are labelled by route *template* (``/v1/reviews``), never by raw path,
so an attacker probing random URLs cannot blow up the label space.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from reviewer.models import Review

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """Every metric the service exports."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self._request_children: dict[tuple[str, str, int], Counter] = {}
        self._latency_children: dict[str, Histogram] = {}
        self.requests = Counter(
            "reviewer_http_requests",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "reviewer_http_request_duration_seconds",
            "Time from request to last response byte, by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.reviews = Counter(
            "reviewer_reviews", "Reviews produced, by mode and verdict.", ["mode", "verdict"], registry=r
        )

        def counter(name: str, documentation: str) -> Counter:
            """A counter without labels, in this app's registry."""
            return Counter(name, documentation, registry=r)

        self.degraded = counter("reviewer_degraded_reviews",
                                "Reviews that fell back to the rules because the model failed.")
        self.llm_attempts = counter("reviewer_llm_attempts", "Model calls made (including retries and re-asks).")
        self.llm_reasks = counter("reviewer_llm_reasks", "Re-asks after invalid model output.")
        self.llm_fallbacks = counter("reviewer_llm_fallbacks", "Fallback models used.")
        self.review_errors = counter("reviewer_review_errors",
                                     "Reviews that raised unexpectedly (a batch item error or a 500).")
        self.rejected = counter("reviewer_rejected", "Requests refused with 503 because the queue was full.")
        self.in_flight = Gauge("reviewer_model_reviews_in_flight", "Model-backed reviews running now.", registry=r)
        self.queued = Gauge("reviewer_model_reviews_queued", "Model-backed reviews waiting for a slot.", registry=r)
        self.queue_wait = Histogram(
            "reviewer_queue_wait_seconds", "Time a model-backed review waited for a slot.",
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.queue_wait_max = Gauge(
            "reviewer_queue_wait_max_seconds", "The longest wait for a slot since the worker started.", registry=r
        )
        self._queue_wait_max = 0.0

    def observe_request(self, route: str, method: str, status: int, elapsed_s: float) -> None:
        """Count one HTTP request; label children are cached (``labels()`` is the costly part)."""
        key = (route, method, status)
        counter = self._request_children.get(key)
        if counter is None:
            counter = self._request_children[key] = self.requests.labels(route, method, str(status))
        counter.inc()
        histogram = self._latency_children.get(route)
        if histogram is None:
            histogram = self._latency_children[route] = self.latency.labels(route)
        histogram.observe(elapsed_s)

    def observe_queue_wait(self, seconds: float) -> None:
        self.queue_wait.observe(seconds)
        if seconds > self._queue_wait_max:
            self._queue_wait_max = seconds
            self.queue_wait_max.set(seconds)

    def observe_review(self, review: Review) -> None:
        """Count one finished review and what its engine record says about model calls."""
        engine = review.engine
        self.reviews.labels(engine.mode, review.verdict).inc()
        if engine.degraded:
            self.degraded.inc()
        if engine.attempts:
            self.llm_attempts.inc(engine.attempts)
        if engine.reasks:
            self.llm_reasks.inc(engine.reasks)
        if engine.fallbacks_used:
            self.llm_fallbacks.inc(engine.fallbacks_used)

    def render(self) -> bytes:
        return generate_latest(self.registry)
