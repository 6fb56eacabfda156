"""``InstrumentedStore``: per-operation counts, errors and latency histograms (and OpenTelemetry when installed).

An operation is one primitive call on the wrapped store (``get``, ``get_many``, ``set``, ``scan``...): what
the backend is asked to do, whichever public method asked. A stream (``scan``, ``scan_items``, ``filter``,
``list_schemas``) is timed from the call until it is exhausted, closed or fails.
"""

from __future__ import annotations

import bisect
import importlib.util
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import InvalidArgumentError
from ..records import Condition
from ..store import KeyValueStore, _Missing
from .base import StoreWrapper, close_iterator

if TYPE_CHECKING:
    from .telemetry import Telemetry

__all__ = ["DEFAULT_BUCKETS", "InstrumentedStore", "OperationStats"]

T = TypeVar("T")

#: Upper bounds (seconds) of the latency buckets: OpenTelemetry's advice for database operations, plus a
#: finer start for in-process stores. A last, open bucket counts everything slower.
DEFAULT_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)


@dataclass
class OperationStats:
    """What one operation did: ``count`` calls (failed ones included), ``errors`` of them raised,
    ``total_seconds`` spent, and ``histogram[i]`` calls that took at most ``bounds[i]`` seconds (and more
    than ``bounds[i - 1]``); the last entry of ``histogram`` counts the calls slower than every bound."""

    bounds: tuple[float, ...]
    count: int = 0
    errors: int = 0
    total_seconds: float = 0.0
    histogram: list[int] = field(default_factory=list)
    error_types: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.histogram:
            self.histogram = [0] * (len(self.bounds) + 1)

    @property
    def mean_seconds(self) -> float:
        """Mean duration of a call (0.0 before any)."""
        return self.total_seconds / self.count if self.count else 0.0

    def quantile(self, q: float) -> float:
        """An upper bound (seconds) on the ``q`` quantile (0 < q <= 1): the bound of the bucket it falls in
        (``inf`` when it falls in the open bucket, 0.0 before any call)."""
        if not 0 < q <= 1:
            raise InvalidArgumentError(f"q must be in (0, 1], got {q!r}")
        if not self.count:
            return 0.0
        wanted, seen = q * self.count, 0
        for index, calls in enumerate(self.histogram):
            seen += calls
            if seen >= wanted:
                return self.bounds[index] if index < len(self.bounds) else float("inf")
        return float("inf")  # pragma: no cover - the buckets add up to count

    def _copy(self) -> OperationStats:
        return OperationStats(
            self.bounds, self.count, self.errors, self.total_seconds, list(self.histogram), dict(self.error_types)
        )


def _opentelemetry_installed() -> bool:
    """Whether ``opentelemetry-api`` can be imported, found without importing it (nor anything else)."""
    try:
        return importlib.util.find_spec("opentelemetry") is not None and (
            importlib.util.find_spec("opentelemetry.trace") is not None
        )
    except (ImportError, ValueError):
        return False


def _innermost_backend(store: KeyValueStore) -> str:
    while isinstance(store, StoreWrapper):
        store = store.inner
    return store.backend_name


class InstrumentedStore(StoreWrapper):
    """Counts, errors and latency histograms per operation of the wrapped store, read with ``stats()``.

    ``opentelemetry``: None (default) emits OpenTelemetry spans and ``db.client.operation.duration``
    metrics when ``opentelemetry-api`` is installed and does nothing (and imports nothing) otherwise; True
    requires it (``MissingDependencyError`` without it); False never uses it. ``tracer_provider`` and
    ``meter_provider`` default to the global ones. ``buckets``: increasing upper bounds in seconds.
    Capabilities and behaviour are exactly the wrapped store's; errors propagate unchanged.
    """

    wrapper_name = "instrumented"

    def __init__(
        self,
        store: KeyValueStore,
        *,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        opentelemetry: bool | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        owns: bool = False,
    ) -> None:
        super().__init__(store, owns=owns)
        bounds = tuple(float(b) for b in buckets)
        if not bounds or any(b <= 0 for b in bounds) or list(bounds) != sorted(set(bounds)):
            raise InvalidArgumentError(f"buckets must be increasing numbers of seconds > 0, got {buckets!r}")
        self.buckets = bounds
        self._stats: dict[str, OperationStats] = {}
        self._lock = threading.Lock()
        self.telemetry: Telemetry | None = None
        if opentelemetry is None:
            opentelemetry = _opentelemetry_installed()
        if opentelemetry:
            from .telemetry import Telemetry

            self.telemetry = Telemetry(_innermost_backend(self.inner), tracer_provider, meter_provider)

    def __repr__(self) -> str:
        otel = " opentelemetry" if self.telemetry is not None else ""
        return f"<InstrumentedStore{otel} of {self.inner!r}>"

    def stats(self) -> dict[str, OperationStats]:
        """A snapshot: operation name -> ``OperationStats``, for the operations called so far."""
        with self._lock:
            return {op: stats._copy() for op, stats in sorted(self._stats.items())}

    def reset_stats(self) -> None:
        """Forget every count so far."""
        with self._lock:
            self._stats.clear()

    # -- measuring --------------------------------------------------------------------------------
    def _record(self, op: str, seconds: float, error: BaseException | None) -> None:
        with self._lock:
            stats = self._stats.get(op)
            if stats is None:
                stats = self._stats[op] = OperationStats(self.buckets)
            stats.count += 1
            stats.total_seconds += seconds
            stats.histogram[bisect.bisect_left(self.buckets, seconds)] += 1
            if error is not None:
                stats.errors += 1
                name = type(error).__qualname__
                stats.error_types[name] = stats.error_types.get(name, 0) + 1

    def _call(self, op: str, ns: str, function: Any, *args: Any) -> Any:
        telemetry = self.telemetry
        span = attributes = None
        if telemetry is not None:
            attributes = telemetry.attributes(op, ns)
            span = telemetry.start(op, ns, attributes)
        error: BaseException | None = None
        start = time.perf_counter()
        try:
            return function(*args)
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._finish(op, start, span, attributes, error)

    def _stream(self, op: str, ns: str, function: Any, *args: Any) -> Iterator[Any]:
        """Call ``function`` now (as the wrapped store would) and time the stream it returns until it ends."""
        telemetry = self.telemetry
        span = attributes = None
        if telemetry is not None:
            attributes = telemetry.attributes(op, ns)
            span = telemetry.start(op, ns, attributes)
        start = time.perf_counter()
        try:
            items = function(*args)
        except BaseException as exc:
            self._finish(op, start, span, attributes, exc)
            raise
        return self._timed(items, op, start, span, attributes)

    def _timed(
        self, items: Iterator[Any], op: str, start: float, span: Any, attributes: dict[str, str] | None
    ) -> Iterator[Any]:
        error: BaseException | None = None
        try:
            yield from items
        except GeneratorExit:  # closed early: not a failure
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            close_iterator(items)
            self._finish(op, start, span, attributes, error)

    def _finish(
        self, op: str, start: float, span: Any, attributes: dict[str, str] | None, error: BaseException | None
    ) -> None:
        seconds = time.perf_counter() - start
        self._record(op, seconds, error)
        if self.telemetry is not None and attributes is not None:
            self.telemetry.finish(span, attributes, seconds, error)

    # -- primitives -------------------------------------------------------------------------------
    def _get(self, ns: str, key: str) -> bytes | None:
        result: bytes | None = self._call("get", ns, self.inner._get, ns, key)
        return result

    def _set(self, ns: str, key: str, data: bytes, ttl: float | None) -> None:
        self._call("set", ns, self.inner._set, ns, key, data, ttl)

    def _delete(self, ns: str, key: str) -> bool:
        return bool(self._call("delete", ns, self.inner._delete, ns, key))

    def _scan(self, ns: str, prefix: str) -> Iterator[str]:
        return self._stream("scan", ns, self.inner._scan, ns, prefix)

    def _schemas(self) -> Iterator[str]:
        return self._stream("list_schemas", "", self.inner._schemas)

    def _get_many(self, ns: str, keys: Sequence[str]) -> list[bytes | None]:
        result: list[bytes | None] = self._call("get_many", ns, self.inner._get_many, ns, keys)
        return result

    def _set_many(self, ns: str, items: Sequence[tuple[str, bytes]], ttl: float | None) -> None:
        self._call("set_many", ns, self.inner._set_many, ns, items, ttl)

    def _delete_many(self, ns: str, keys: Sequence[str]) -> int:
        return int(self._call("delete_many", ns, self.inner._delete_many, ns, keys))

    def _count(self, ns: str, prefix: str) -> int:
        return int(self._call("count", ns, self.inner._count, ns, prefix))

    def _scan_items(self, ns: str, prefix: str) -> Iterator[tuple[str, bytes]]:
        return self._stream("scan_items", ns, self.inner._scan_items, ns, prefix)

    def _clear(self, ns: str, prefix: str) -> int:
        return int(self._call("clear", ns, self.inner._clear, ns, prefix))

    def _drop_schema(self, ns: str) -> None:
        self._call("drop_schema", ns, self.inner._drop_schema, ns)

    def _filter(
        self, ns: str, conditions: list[Condition], indexes: tuple[str, ...]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        return self._stream("filter", ns, self.inner._filter, ns, conditions, indexes)

    def _replace(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        return bool(self._call("replace", ns, self.inner._replace, ns, key, data, ttl))

    def _add(self, ns: str, key: str, data: bytes, ttl: float | None) -> bool:
        return bool(self._call("add", ns, self.inner._add, ns, key, data, ttl))

    def _compare_and_set(self, ns: str, key: str, expected: Any, data: bytes) -> bool:
        return bool(self._call("compare_and_set", ns, self.inner._compare_and_set, ns, key, expected, data))

    def _incr(self, ns: str, key: str, amount: int) -> int:
        return int(self._call("incr", ns, self.inner._incr, ns, key, amount))

    def _ttl(self, ns: str, key: str) -> float | _Missing | None:
        result: float | _Missing | None = self._call("ttl", ns, self.inner._ttl, ns, key)
        return result
