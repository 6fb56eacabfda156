"""InstrumentedStore: the conformance suite over memory and sqlite, counts and histograms, OpenTelemetry output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import polykv
from polykv.backends.memory import MemoryStore
from polykv.backends.sqlite import SQLiteStore
from polykv.errors import InvalidArgumentError, InvalidURLError, ReadOnlyError
from polykv.store import KeyValueStore
from polykv.testing import StoreSuite
from polykv.wrappers import InstrumentedStore, OperationStats, PrefixStore, ReadOnlyStore


class TestInstrumentedOverMemoryConformance(StoreSuite):
    @staticmethod
    def open_store(tmp_path: Path) -> KeyValueStore:
        return InstrumentedStore(MemoryStore(), opentelemetry=False)


class TestInstrumentedOverSQLiteConformance(StoreSuite):
    @staticmethod
    def open_store(tmp_path: Path) -> KeyValueStore:
        return InstrumentedStore(SQLiteStore(tmp_path / "i.db"), owns=True)  # with OpenTelemetry (no SDK)


class TestInstrumentedStackedURLConformance(StoreSuite):
    @staticmethod
    def open_store(tmp_path: Path) -> KeyValueStore:
        return polykv.connect(f"instrumented+prefix:p/+sqlite:///{tmp_path}/u.db")


def test_counts_errors_and_histograms(inner: KeyValueStore) -> None:
    store = InstrumentedStore(inner, opentelemetry=False)
    store.set("a", 1)
    store.set_many({"b": 2, "c": 3})
    assert store.get("a") == 1 and store.get("zz") is None
    assert store.get_many(["a", "b"]) == {"a": 1, "b": 2}
    assert sorted(store.keys()) == ["a", "b", "c"]
    store.insert_record("users", "u1", {"id": "u1"})
    stats = store.stats()
    assert stats["get"].count == 2 and stats["get"].errors == 0
    assert stats["set"].count == 1 and stats["set_many"].count == 1 and stats["get_many"].count == 1
    assert stats["scan"].count == 1 and stats["add"].count == 1  # insert_record is one atomic add
    for each in stats.values():
        assert sum(each.histogram) == each.count and each.total_seconds >= 0
        assert 0 < each.quantile(0.5) <= each.quantile(1.0)
    store.reset_stats()
    assert store.stats() == {}


def test_errors_are_counted_by_type_and_propagate(inner: KeyValueStore) -> None:
    store = InstrumentedStore(ReadOnlyStore(inner), opentelemetry=False)
    with pytest.raises(ReadOnlyError):
        store.set("a", 1)
    with pytest.raises(ReadOnlyError):
        store.delete("a")
    stats = store.stats()
    assert (stats["set"].count, stats["set"].errors) == (1, 1)
    assert stats["set"].error_types == {"ReadOnlyError": 1}


def test_streams_are_timed_until_they_end_and_stop_early_cleanly(inner: KeyValueStore) -> None:
    inner.set_many({f"k{n}": n for n in range(20)})
    store = InstrumentedStore(inner, opentelemetry=False)
    items = store.fetch_by_prefix("k")
    next(items)
    assert "scan_items" not in store.stats()  # not finished yet
    items.close()
    assert store.stats()["scan_items"].count == 1
    assert store.stats()["scan_items"].errors == 0


def test_histogram_buckets_and_quantile() -> None:
    stats = OperationStats((0.001, 0.01))
    assert stats.quantile(0.5) == 0.0 and stats.mean_seconds == 0.0
    stats.histogram = [1, 2, 1]
    stats.count = 4
    assert stats.quantile(0.25) == 0.001 and stats.quantile(0.75) == 0.01 and stats.quantile(1.0) == float("inf")
    with pytest.raises(InvalidArgumentError):
        stats.quantile(0)
    for buckets in ([], [0.1, 0.01], [0, 1], [1, 1]):
        with pytest.raises(InvalidArgumentError):
            InstrumentedStore(MemoryStore(), buckets=buckets)


def test_behaviour_and_capabilities_are_the_wrapped_stores() -> None:
    inner = PrefixStore(MemoryStore(), "p/")
    store = InstrumentedStore(inner)
    assert store.capabilities == inner.capabilities
    assert store.backend_name == "instrumented+prefix+memory"
    store.set("k", 1, ttl=100)
    assert 0 < store.ttl("k") <= 100  # type: ignore[operator]
    assert store.incr("n") == 1 and store.compare_and_set("n", 1, 5)


def test_url() -> None:
    with polykv.connect("instrumented+memory://") as store:
        assert isinstance(store, InstrumentedStore)
    with pytest.raises(InvalidURLError):
        polykv.connect("instrumented:x+memory://")


# == OpenTelemetry =======================================================================================
@pytest.fixture
def otel() -> Any:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    return tracer_provider, meter_provider, exporter, reader


def test_spans_and_metrics_follow_the_database_conventions(otel: Any, inner: KeyValueStore) -> None:
    from opentelemetry.trace import SpanKind, StatusCode

    tracer_provider, meter_provider, exporter, reader = otel
    store = InstrumentedStore(
        ReadOnlyStore(inner), opentelemetry=True, tracer_provider=tracer_provider, meter_provider=meter_provider
    )
    system = inner.backend_name
    assert store.get("missing") is None
    assert store.count("users") == 0
    with pytest.raises(ReadOnlyError):
        store.set("k", 1)
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["get", "count users", "set"]
    assert all(s.kind is SpanKind.CLIENT for s in spans)
    assert dict(spans[0].attributes) == {"db.system.name": system, "db.operation.name": "get"}
    assert dict(spans[1].attributes) == {
        "db.system.name": system,
        "db.operation.name": "count",
        "db.collection.name": "users",
    }
    assert spans[2].status.status_code is StatusCode.ERROR
    assert spans[2].attributes["error.type"] == "ReadOnlyError"
    assert spans[2].events[0].name == "exception"

    data = reader.get_metrics_data()
    metrics = [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    (duration,) = [m for m in metrics if m.name == "db.client.operation.duration"]
    assert duration.unit == "s"
    points = {tuple(sorted(p.attributes.items())): p for p in duration.data.data_points}
    assert len(points) == 3
    failed = next(p for key, p in points.items() if ("error.type", "ReadOnlyError") in key)
    assert failed.count == 1
    assert list(failed.explicit_bounds) == [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0]


def test_stream_span_ends_when_the_stream_does(otel: Any) -> None:
    tracer_provider, meter_provider, exporter, _ = otel
    inner = MemoryStore()
    inner.set_many({"a": 1, "b": 2})
    store = InstrumentedStore(inner, tracer_provider=tracer_provider, meter_provider=meter_provider)
    keys = store.keys_by_prefix("")
    assert exporter.get_finished_spans() == ()
    assert sorted(keys) == ["a", "b"]
    assert [s.name for s in exporter.get_finished_spans()] == ["scan"]


def test_without_opentelemetry_nothing_is_imported_and_stats_still_work() -> None:
    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "from polykv.wrappers import InstrumentedStore\n"
        "from polykv.backends.memory import MemoryStore\n"
        "from polykv.errors import MissingDependencyError\n"
        "s = InstrumentedStore(MemoryStore()); s.set('k', 1); assert s.telemetry is None\n"
        "assert s.stats()['set'].count == 1\n"
        "try:\n    InstrumentedStore(MemoryStore(), opentelemetry=True)\n"
        "except MissingDependencyError as exc:\n    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "polykv-core[otel]" in done.stdout
    code = (
        "import sys\nfrom polykv.wrappers import InstrumentedStore\nfrom polykv.backends.memory import MemoryStore\n"
        "InstrumentedStore(MemoryStore(), opentelemetry=False).set('k', 1)\n"
        "sys.exit(1 if any(n.startswith('opentelemetry') for n in sys.modules) else 0)\n"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
