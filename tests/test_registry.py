"""BackendRegistry: lazy discovery through entry points, caching, isolation, thread safety, errors."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import polykv
from polykv.backend_registry import BackendRegistry
from polykv.backends.memory import MemoryStore
from polykv.errors import BackendNotFoundError, InvalidURLError, PluginLoadError, RegistrationError

#: The ``make_dist`` fixture (tests/conftest.py): installs a throwaway plugin distribution.
MakeDist = Callable[..., Path]


PLUGIN_SOURCE = """
from polykv.backends.memory import MemoryStore

class ThirdPartyStore(MemoryStore):
    _backend_type = "thirdparty"
    url_schemes = ("thirdparty",)

    def __init__(self, *, greeting="hi", **kw):
        super().__init__(**kw)
        self.greeting = greeting

    @classmethod
    def from_url(cls, url, **options):
        return cls(**options)
"""


def test_builtin_backends_listed_without_import() -> None:
    registry = BackendRegistry()
    assert {"memory", "sqlite"} <= set(registry.keys())
    assert "memory" in registry and "nope" not in registry
    assert len(registry) == len(registry.keys())


def test_entry_point_plugin_is_listed_before_import_and_imported_on_access(make_dist: MakeDist) -> None:
    make_dist(
        "polykv-thirdparty",
        {"polykv.backends": {"thirdparty:thirdparty": "thirdparty_mod:ThirdPartyStore"}},
        {"thirdparty_mod": PLUGIN_SOURCE},
    )
    registry = BackendRegistry(config={"thirdparty": {"greeting": "hello"}})
    assert "thirdparty" in registry.keys()  # noqa: SIM118
    assert "thirdparty_mod" not in sys.modules
    declaration = registry.describe("thirdparty")
    assert (declaration.source, declaration.distribution) == ("entry_point", "polykv-thirdparty")
    assert "thirdparty_mod" not in sys.modules
    store = registry["thirdparty"]
    assert "thirdparty_mod" in sys.modules
    assert store.greeting == "hello"
    assert registry["thirdparty"] is store


def test_plugin_installed_after_registry_creation_is_found(make_dist: MakeDist) -> None:
    registry = BackendRegistry()
    assert "late" not in registry.keys()  # noqa: SIM118
    make_dist(
        "polykv-late",
        {"polykv.backends": {"late": "late_mod:LateStore"}},
        {
            "late_mod": "from polykv.backends.memory import MemoryStore\n"
            "class LateStore(MemoryStore):\n    _backend_type = 'late'\n"
        },
    )
    assert type(registry["late"]).__name__ == "LateStore"


def test_broken_plugin_fails_only_itself(make_dist: MakeDist) -> None:
    make_dist(
        "polykv-broken",
        {
            "polykv.backends": {
                "broken": "broken_mod:Nothing",
                "wrongkey": "wrong_mod:Wrong",
                "notastore": "wrong_mod:NotAStore",
            }
        },
        {
            "broken_mod": "raise ImportError('needs a missing dependency: pandas')",
            "wrong_mod": "from polykv.backends.memory import MemoryStore\n"
            "class Wrong(MemoryStore):\n    _backend_type = 'other_name'\n"
            "class NotAStore:\n    pass\n",
        },
    )
    registry = BackendRegistry()
    assert {"broken", "wrongkey", "notastore", "memory"} <= set(registry.keys())
    with pytest.raises(PluginLoadError) as info:
        registry["broken"]
    assert "polykv-broken" in str(info.value) and "pandas" in str(info.value)
    with pytest.raises(PluginLoadError, match="_backend_type"):
        registry["wrongkey"]
    with pytest.raises(PluginLoadError, match="not a polykv store class"):
        registry["notastore"]
    assert isinstance(registry["memory"], MemoryStore)


def test_conflicting_entry_points_name_both_distributions(make_dist: MakeDist) -> None:
    source = "from polykv.backends.memory import MemoryStore\nclass S{n}(MemoryStore):\n    pass\n"
    make_dist("polykv-one", {"polykv.backends": {"twice": "one_mod:S1"}}, {"one_mod": source.format(n=1)})
    make_dist("polykv-two", {"polykv.backends": {"twice": "two_mod:S2"}}, {"two_mod": source.format(n=2)})
    with pytest.raises(PluginLoadError) as info:
        BackendRegistry()["twice"]
    assert "polykv-one" in str(info.value) and "polykv-two" in str(info.value)


def test_unknown_backend_lists_names_and_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    from polykv.catalog import KNOWN_BACKENDS, KnownBackend

    monkeypatch.setitem(KNOWN_BACKENDS, "couchdb", KnownBackend("couchdb", "polykv-couchdb", ("couchdb",)))
    registry = BackendRegistry()
    with pytest.raises(BackendNotFoundError) as info:
        registry["couchdb"]
    message = str(info.value)
    assert isinstance(info.value, KeyError)
    assert "memory" in message and "sqlite" in message and "pip install polykv-couchdb" in message
    assert registry.get("couchdb") is None


def test_cached_instance_and_thread_safety() -> None:
    created: list[object] = []
    lock = threading.Lock()

    class Counting(MemoryStore):
        def __init__(self, **kw: object) -> None:
            super().__init__()
            with lock:
                created.append(self)

    registry = BackendRegistry()
    registry.register("counting", Counting)
    barrier = threading.Barrier(32)

    def lookup(_: int) -> object:
        barrier.wait()
        return registry["counting"]

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lookup, range(32)))
    assert len(created) == 1
    assert all(r is created[0] for r in results)


def test_independent_registries_share_no_instances() -> None:
    a, b = BackendRegistry(), BackendRegistry()
    assert a["memory"] is not b["memory"]
    a["memory"].set("k", 1)
    assert b["memory"].get("k") is None


def test_read_only_mapping() -> None:
    registry = BackendRegistry()
    assert isinstance(registry, Mapping)
    with pytest.raises(TypeError):
        registry["memory"] = MemoryStore()  # type: ignore[index]
    with pytest.raises(TypeError):
        del registry["memory"]
    with pytest.raises(TypeError):
        registry.update({})


def test_manual_registration_of_instance_and_class() -> None:
    registry = BackendRegistry()
    mine = MemoryStore()
    registry.register("mine", mine)
    registry.register("scratch", MemoryStore)
    assert registry["mine"] is mine
    assert isinstance(registry["scratch"], MemoryStore) and registry["scratch"] is not mine
    assert {"mine", "scratch"} <= set(registry.keys())
    assert "mine" not in BackendRegistry()
    with pytest.raises(RegistrationError):
        registry.register("mine", MemoryStore)
    with pytest.raises(RegistrationError):
        registry.register("Bad Name", MemoryStore)
    with pytest.raises(RegistrationError):
        registry.register("thing", object())  # type: ignore[arg-type]


def test_close_closes_only_created_stores_and_allows_replacement() -> None:
    closed: list[str] = []

    class Closing(MemoryStore):
        def close(self) -> None:
            closed.append("created")

    class External(MemoryStore):
        def close(self) -> None:
            closed.append("external")

    with BackendRegistry() as registry:
        registry.register("closing", Closing)
        registry.register("external", External())
        first = registry["closing"]
    assert closed == ["created"]
    assert registry["closing"] is not first  # a closed cache is replaced on next use


def test_evict_replaces_one_store() -> None:
    registry = BackendRegistry()
    first = registry["memory"]
    registry.evict("memory")
    assert registry["memory"] is not first


def test_default_registry_and_connect() -> None:
    assert polykv.registry is polykv.registry
    assert isinstance(polykv.registry["memory"], MemoryStore)
    assert isinstance(polykv.connect("memory://"), MemoryStore)
    assert polykv.open_store is polykv.connect


def test_connect_through_entry_point_scheme(make_dist: MakeDist) -> None:
    make_dist(
        "polykv-scheme",
        {"polykv.backends": {"thirdparty:thirdparty": "scheme_mod:ThirdPartyStore"}},
        {"scheme_mod": PLUGIN_SOURCE},
    )
    store = polykv.connect("thirdparty://anything", greeting="yo")
    assert store.greeting == "yo"


@pytest.mark.parametrize("url", ["", "no-scheme", "unknown://x", 5])
def test_bad_urls(url: object) -> None:
    with pytest.raises(InvalidURLError):
        polykv.connect(url)  # type: ignore[arg-type]


def test_unknown_scheme_hint_and_password_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    from polykv.catalog import KNOWN_BACKENDS, KnownBackend

    monkeypatch.setitem(KNOWN_BACKENDS, "couchdb", KnownBackend("couchdb", "polykv-couchdb", ("couchdb",)))
    with pytest.raises(InvalidURLError) as info:
        polykv.connect("couchdb://user:s3cret@127.0.0.1:1/0")
    assert "s3cret" not in str(info.value)
    assert "pip install polykv-couchdb" in str(info.value)


def test_import_polykv_imports_no_plugin_or_client() -> None:
    code = (
        "import sys, json, polykv\n"
        "heavy = ['redis', 'fsspec', 'pluggy', 'metaclass_registry', 'sqlite3',"
        " 'polykv.backend_registry', 'polykv.registration', 'importlib.metadata']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_registry_construction_reads_no_entry_points_until_asked() -> None:
    code = (
        "import sys, polykv\n"
        "from polykv.backend_registry import BackendRegistry\n"
        "r = BackendRegistry()\n"
        "print('importlib.metadata' in sys.modules)\n"
        "r.keys()\n"
        "print('importlib.metadata' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]


def test_entry_point_name_carries_backend_and_schemes() -> None:
    from polykv.catalog import parse_entry_point_name

    assert parse_entry_point_name("redis:redis,rediss") == ("redis", ("redis", "rediss"))
    assert parse_entry_point_name(" fsspec : file , FSSPEC+ ") == ("fsspec", ("file", "fsspec+"))
    assert parse_entry_point_name("plain") == ("plain", ())


def test_entry_point_schemes_must_match_the_class_body(make_dist: MakeDist) -> None:
    source = PLUGIN_SOURCE.replace('"thirdparty"', '"drift"')
    make_dist(
        "polykv-drift", {"polykv.backends": {"drift:drift,extra": "drift_mod:ThirdPartyStore"}}, {"drift_mod": source}
    )
    registry = BackendRegistry()
    assert "drift" in registry.keys() and "drift_mod" not in sys.modules  # noqa: SIM118
    with pytest.raises(PluginLoadError, match="'drift:drift'") as info:
        registry["drift"]
    assert "polykv-drift" in str(info.value) and "url_schemes" in str(info.value)
    with pytest.raises(PluginLoadError, match="url_schemes"):
        polykv.connect("extra://")
    assert isinstance(registry["memory"], MemoryStore)  # the drift breaks only its own names


def test_install_hints_come_from_the_one_table() -> None:
    from polykv.catalog import KNOWN_BACKENDS, install_hint

    assert install_hint(backend="redis_cluster") == "; install it with: pip install polykv-redis"
    assert install_hint(scheme="rediss") == "; install it with: pip install polykv-redis"
    assert install_hint(scheme="fsspec+memory") == "; install it with: pip install polykv-fsspec"
    assert install_hint(backend="memory") == install_hint(scheme="nope") == ""
    assert {k.distribution for k in KNOWN_BACKENDS.values()} == {
        "polykv-core",
        "polykv-redis",
        "polykv-fsspec",
        "polykv-postgres",
    }


def test_the_table_and_the_entry_points_say_what_the_classes_say() -> None:
    """The one declaration is the class body: the built-in rows of KNOWN_BACKENDS, the install hints for
    polykv's own plugins and their installed entry points must repeat it exactly."""
    from importlib.metadata import PackageNotFoundError, distribution

    from polykv.backend_registry import load_store_class
    from polykv.catalog import KNOWN_BACKENDS, backend_entry_points

    entry_points = backend_entry_points()
    for known in KNOWN_BACKENDS.values():
        if known.builtin:
            assert known.target is not None
            cls = load_store_class(known.name, known.target, known.schemes, "polykv")
            assert tuple(vars(cls)["url_schemes"]) == known.schemes
            continue
        try:
            distribution(known.distribution)
        except PackageNotFoundError:
            continue
        (entry,) = [e for e in entry_points[known.name] if e.distribution == known.distribution]
        assert entry.schemes == known.schemes, known
        cls = load_store_class(known.name, entry.target, entry.schemes, known.distribution)
        assert tuple(vars(cls)["url_schemes"]) == known.schemes
