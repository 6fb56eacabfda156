"""The OpenTelemetry side of ``InstrumentedStore``: spans and the ``db.client.operation.duration`` histogram.

Imported only when an ``InstrumentedStore`` uses OpenTelemetry (``opentelemetry-api`` installed, or asked
for): ``import polykv`` never imports it. Names follow the database semantic conventions: a CLIENT span
named ``"<db.operation.name> <db.collection.name>"`` (the operation alone for the KV surface) with
``db.system.name``, ``db.operation.name``, ``db.collection.name`` (the record schema) and, on failure,
``error.type``; the same attributes on the histogram, in seconds, with the conventions' bucket advice.
"""

from __future__ import annotations

from typing import Any

from ..options import require_module

__all__ = ["DURATION_BUCKETS", "Telemetry"]

#: The bucket boundaries (seconds) the conventions advise for ``db.client.operation.duration``.
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)

_SCOPE = "polykv"


class Telemetry:
    """A tracer and a duration histogram from the given (or the global) OpenTelemetry providers."""

    def __init__(self, system: str, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        trace = require_module("opentelemetry.trace", "polykv-core[otel]", "InstrumentedStore's OpenTelemetry output")
        metrics = require_module(
            "opentelemetry.metrics", "polykv-core[otel]", "InstrumentedStore's OpenTelemetry output"
        )
        self.system = system
        self._kind = trace.SpanKind.CLIENT
        self._error = trace.StatusCode.ERROR
        self._status = trace.Status
        self.tracer = trace.get_tracer(_SCOPE, tracer_provider=tracer_provider)
        meter = metrics.get_meter(_SCOPE, meter_provider=meter_provider)
        self.duration = meter.create_histogram(
            "db.client.operation.duration",
            unit="s",
            description="Duration of database client operations.",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )

    def attributes(self, op: str, ns: str) -> dict[str, str]:
        """The conventions' attributes of one operation (``ns`` is the record schema, "" for KV)."""
        found = {"db.system.name": self.system, "db.operation.name": op}
        if ns:
            found["db.collection.name"] = ns
        return found

    def start(self, op: str, ns: str, attributes: dict[str, str]) -> Any:
        """A started span (not made current: streams end it from another frame)."""
        return self.tracer.start_span(f"{op} {ns}" if ns else op, kind=self._kind, attributes=attributes)

    def finish(self, span: Any, attributes: dict[str, str], seconds: float, error: BaseException | None) -> None:
        """End ``span`` and record the duration; with ``error``, mark both with its ``error.type``."""
        if error is not None:
            attributes = {**attributes, "error.type": type(error).__qualname__}
            span.set_attribute("error.type", attributes["error.type"])
            span.record_exception(error)
            span.set_status(self._status(self._error, type(error).__qualname__))
        span.end()
        self.duration.record(seconds, attributes)
