"""The asyncio face's S3 store (``AsyncS3Store``) against the real S3 server, beside the sync ``S3Store``.

Both faces run the same store code; only the file system under ``ObjectIO`` differs. So what one face writes,
the other reads back equal: KV pairs, records, long (hashed-name) keys, batches and prefix listings; and both
raise the same errors. Until ``polykv.aio``'s facade wraps it, the async store's methods run through
``polykv.aio.bridge.run`` on one event loop per test, which closes the store on that loop at its end.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from polykv_fsspec import S3Store
from polykv_fsspec.aio import AsyncS3Store
from polykv_fsspec.awaited import AwaitedS3FileSystem
from s3_fixtures import BUCKET, open_async_s3, open_s3
from s3_server import S3Server, free_port

from polykv.aio.bridge import run as call
from polykv.capabilities import Capability
from polykv.errors import (
    BackendUnavailableError,
    KeyNotFoundError,
    NotSupportedError,
    PolyKVError,
    RecordExistsError,
    RecordNotFoundError,
)

PLUGIN = Path(__file__).resolve().parents[1]
LONG = "long/" + "ключ" * 60  # its encoded name is far over the plain limit: a hashed name with a key header


@pytest.fixture
def sync_store(s3_server: S3Server, unique: str) -> Iterator[S3Store]:
    with open_s3(s3_server, unique) as store:
        yield store


@pytest.fixture
def async_store(s3_server: S3Server, unique: str) -> AsyncS3Store:
    return open_async_s3(s3_server, unique)  # closed on its loop by on_loop


def on_loop(store: AsyncS3Store, scenario: Callable[[], Awaitable[None]]) -> None:
    """Run ``scenario`` on a new event loop, then close ``store`` on that loop."""

    async def main() -> None:
        try:
            await scenario()
        finally:
            await call(store.close)

    asyncio.run(main())


def keys(store: S3Store, prefix: str = "") -> list[str]:
    return sorted(store.keys_by_prefix(prefix))


# == the declaration ===============================================================================
def test_s3_store_declares_its_async_face() -> None:
    assert vars(S3Store)["async_face"] == "polykv_fsspec.aio:AsyncS3Store"
    module, _, name = S3Store.async_face.partition(":")  # type: ignore[union-attr]
    assert getattr(__import__(module, fromlist=[name]), name) is AsyncS3Store
    assert issubclass(AsyncS3Store, S3Store) and "_backend_type" not in vars(AsyncS3Store)  # not registered


def test_only_the_io_layer_differs(async_store: AsyncS3Store, sync_store: S3Store) -> None:
    overridden = {name for name in vars(AsyncS3Store) if not name.startswith(("__", "_abc_"))}
    assert overridden <= {"fs", "_filesystem", "close"}, overridden
    assert type(async_store.io) is type(sync_store.io)  # the same ObjectIO: conditional writes, ETags, listing
    assert isinstance(async_store.fs, AwaitedS3FileSystem)
    assert async_store.capabilities == sync_store.capabilities == frozenset({Capability.ADD})
    assert async_store._path("", LONG) == sync_store._path("", LONG)


def test_import_loads_no_client_library_and_construction_does_no_io() -> None:
    code = (
        "import sys, threading\n"
        "import polykv_fsspec, polykv_fsspec.s3, polykv_fsspec.aio\n"
        "heavy = ('s3fs', 'aiobotocore', 'aiohttp', 'botocore', 'fsspec')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
        "store = polykv_fsspec.AsyncS3Store('bucket', 'p', endpoint_url='http://127.0.0.1:9', key='k', secret='s')\n"
        "print(threading.active_count(), type(store).__name__)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=PLUGIN
    ).stdout.split("\n")
    assert out[0] == "[]"  # importing the plugin, its S3 module and its asyncio module loads none of them
    assert out[1] == "1 AsyncS3Store"  # building the store started no thread (no fsspec IO loop) and connected nowhere


def test_sync_calls_outside_the_loop_are_refused(async_store: AsyncS3Store) -> None:
    with pytest.raises(PolyKVError, match=r"outside a bridged call.*polykv\.aio"):
        async_store.get("k")


# == KV pairs ======================================================================================
def test_kv_round_trips_both_ways(sync_store: S3Store, async_store: AsyncS3Store) -> None:
    values: dict[str, Any] = {"plain": {"a": [1, 2.5, None, True]}, "Case/Key ü": "text", LONG: [LONG]}

    async def scenario() -> None:
        for key, value in values.items():
            sync_store[key] = value
            assert await call(async_store.get, key) == value
            await call(async_store.set, key, {"again": key})
            assert sync_store[key] == {"again": key}
        assert await call(async_store.get, "absent", "default") == "default"
        with pytest.raises(KeyNotFoundError):
            await call(async_store.__getitem__, "absent")
        assert await call(async_store.delete, "plain") is True
        assert "plain" not in sync_store
        assert await call(async_store.delete, "plain") is False

    on_loop(async_store, scenario)
    assert keys(sync_store) == sorted(["Case/Key ü", LONG])


def test_ttl_is_refused_the_same_way_on_both_faces(sync_store: S3Store, async_store: AsyncS3Store) -> None:
    with pytest.raises(NotSupportedError) as sync_error:
        sync_store.set("k", 1, ttl=5)

    async def scenario() -> None:
        with pytest.raises(NotSupportedError) as async_error:
            await call(async_store.set, "k", 1, ttl=5)
        assert (async_error.value.capability, async_error.value.backend) == (
            sync_error.value.capability,
            sync_error.value.backend,
        )
        assert await call(async_store.get, "k") is None

    on_loop(async_store, scenario)


# == records =======================================================================================
def test_records_both_ways(sync_store: S3Store, async_store: AsyncS3Store) -> None:
    async def scenario() -> None:
        sync_store.insert_record("users", "ada", {"name": "Ada", "age": 36})
        assert await call(async_store.get_record, "users", dict, "ada") == {"name": "Ada", "age": 36}
        with pytest.raises(RecordExistsError):  # If-None-Match: * on the async face too
            await call(async_store.insert_record, "users", "ada", {"name": "again"})
        await call(async_store.insert_record, "users", "bob", {"name": "Bob", "age": 17})
        await call(async_store.update_record, "users", "ada", {"name": "Ada", "age": 37})  # If-Match: <ETag>
        assert sync_store.get_record("users", dict, "ada") == {"name": "Ada", "age": 37}
        with pytest.raises(RecordNotFoundError):
            await call(async_store.update_record, "users", "nobody", {"name": "x"})
        adults = await call(async_store.filter_record, "users", dict, age__gte=18)
        assert adults == [{"name": "Ada", "age": 37}]
        assert await call(async_store.count, "users") == 2
        assert await call(async_store.list_schemas) == sync_store.list_schemas() == ["users"]
        await call(async_store.drop_schema, "users")
        assert sync_store.list_schemas() == [] and not sync_store.exists("users", "ada")

    on_loop(async_store, scenario)


def test_concurrent_inserts_on_the_loop_admit_one(async_store: AsyncS3Store, sync_store: S3Store) -> None:
    async def insert(n: int) -> bool:
        try:
            await call(async_store.insert_record, "locks", "one", {"owner": n})
        except RecordExistsError:
            return False
        return True

    async def scenario() -> None:
        won = await asyncio.gather(*(insert(n) for n in range(16)))
        assert won.count(True) == 1
        assert sync_store.get_record("locks", dict, "one") == {"owner": won.index(True)}

    on_loop(async_store, scenario)


# == batches and listings ==========================================================================
def test_batches_both_ways(sync_store: S3Store, async_store: AsyncS3Store) -> None:
    first = {f"a:{i:03d}": {"i": i} for i in range(150)} | {LONG: "long"}
    second = {f"b:{i:03d}": [i] for i in range(150)}

    async def scenario() -> None:
        sync_store.set_many(first)
        assert await call(async_store.get_many, [*first, "a:missing"]) == first
        await call(async_store.set_many, second)
        assert sync_store.get_many(second) == second
        gone = [f"b:{i:03d}" for i in range(0, 150, 2)] + ["b:missing", LONG]
        assert await call(async_store.delete_many, gone) == 76
        assert sync_store.count(prefix="b:") == 75 and LONG not in sync_store

    on_loop(async_store, scenario)


def test_prefix_listing_matches(sync_store: S3Store, async_store: AsyncS3Store) -> None:
    written = {"user:1": 1, "user:10": 10, "user:2": 2, "users": 0, "User:3": 3, LONG: 4, "long/x": 5, "other": 6}
    sync_store.set_many(written)

    async def listed(prefix: str) -> tuple[list[str], list[tuple[str, Any]], int]:
        found = await call(lambda: sorted(async_store.keys_by_prefix(prefix)))
        items = await call(lambda: sorted(async_store.fetch_by_prefix(prefix)))
        return found, items, await call(async_store.count, prefix=prefix)

    async def scenario() -> None:
        for prefix in ("", "user", "user:", "user:1", "long/", "long/кл", "nothing"):
            expected = sorted(k for k in written if k.startswith(prefix))
            found, items, count = await listed(prefix)
            assert found == keys(sync_store, prefix) == expected, prefix
            assert items == sorted((k, written[k]) for k in expected) and count == len(expected)
        assert await call(async_store.clear, "user:") == 3
        assert keys(sync_store) == sorted(["users", "User:3", LONG, "long/x", "other"])

    on_loop(async_store, scenario)


def test_a_listing_does_not_hide_another_clients_writes(sync_store: S3Store, async_store: AsyncS3Store) -> None:
    """s3fs keeps folder listings and answered exists() from them: delete() after a listing skipped a key
    another client had written since (both faces; the store now turns s3fs's listings cache off)."""
    sync_store["x"] = 1

    async def scenario() -> None:
        assert await call(lambda: list(async_store.keys())) == ["x"]
        sync_store["k"] = 2
        assert await call(async_store.delete, "k") is True
        assert "k" not in sync_store
        assert keys(sync_store) == ["x"]
        await call(async_store.set, "k2", 3)
        assert sync_store.delete("k2") is True

    on_loop(async_store, scenario)


# == concurrency on the loop =======================================================================
def test_get_many_runs_its_requests_concurrently_and_bounded(s3_server: S3Server, unique: str) -> None:
    store = open_async_s3(s3_server, unique, max_connections=8)
    wanted = {f"k{i}": i for i in range(60)}

    async def scenario() -> None:
        await call(store.set_many, wanted)
        fs = store.fs.filesystem()  # the s3fs of this loop
        original, inside, most = fs._cat_file, 0, 0

        async def counting(path: str, **kwargs: Any) -> bytes:
            nonlocal inside, most
            inside += 1
            most = max(most, inside)
            try:
                data: bytes = await original(path, **kwargs)
                return data
            finally:
                inside -= 1

        fs._cat_file = counting
        try:
            assert await call(store.get_many, list(wanted)) == wanted
        finally:
            del fs._cat_file
        assert most == 8  # as many at once as the store's connection pool allows, no more

    on_loop(store, scenario)


def test_many_tasks_share_the_store(sync_store: S3Store, async_store: AsyncS3Store) -> None:
    sync_store.set_many({f"k{i}": {"key": f"k{i}"} for i in range(40)})

    async def scenario() -> None:
        singles = [call(async_store.get, f"k{i}") for i in range(40)]
        batches = [call(async_store.get_many, [f"k{j}" for j in range(i, 40, 7)]) for i in range(7)]
        got = await asyncio.gather(*singles, *batches)
        assert got[:40] == [{"key": f"k{i}"} for i in range(40)]
        for i, batch in enumerate(got[40:]):
            assert batch == {f"k{j}": {"key": f"k{j}"} for j in range(i, 40, 7)}

    on_loop(async_store, scenario)


# == lifecycle and faults ==========================================================================
def test_each_loop_gets_its_own_client_and_close_releases_it(sync_store: S3Store, async_store: AsyncS3Store) -> None:
    sync_store["k"] = "v"
    seen = []

    async def scenario() -> None:
        assert await call(async_store.get, "k") == "v"
        seen.append(async_store.fs.filesystem())

    on_loop(async_store, scenario)
    assert async_store.fs._by_loop == {}  # closed on its loop
    on_loop(async_store, scenario)  # a new loop: a new s3fs and session, the same store
    assert seen[0] is not seen[1]
    assert seen[0]._s3 is None and seen[1]._s3 is None


def test_close_on_the_loop_leaves_no_open_session(s3_server: S3Server, unique: str) -> None:
    code = (
        "import asyncio, gc, sys\n"
        "from s3_fixtures import open_async_s3\n"
        "from s3_server import S3Server\n"
        "from polykv.aio.bridge import run\n"
        "server = S3Server(None, sys.argv[2], sys.argv[3], {'s3.port': int(sys.argv[1])})\n"
        "store = open_async_s3(server, sys.argv[4])\n"
        "async def main():\n"
        "    await run(store.set_many, {f'k{i}': i for i in range(20)})\n"
        "    assert len(await run(store.get_many, [f'k{i}' for i in range(20)])) == 20\n"
        "    await run(store.close)\n"
        "asyncio.run(main())\n"
        "del store; gc.collect()\n"
        "print('done')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    port = s3_server.ports["s3.port"]
    args = [str(port), s3_server.access_key, s3_server.secret_key, unique]
    done = subprocess.run(
        [sys.executable, "-W", "always::ResourceWarning", "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=PLUGIN / "scripts",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"
    assert "Unclosed" not in done.stderr and "unclosed" not in done.stderr, done.stderr


def test_unreachable_server_raises_backend_unavailable() -> None:
    store = AsyncS3Store(
        BUCKET, "p", endpoint_url=f"http://127.0.0.1:{free_port()}", key="k", secret="s", connect_timeout=1, retries=1
    )

    async def scenario() -> None:
        for action in (
            partial(store.get, "k"),
            partial(store.set, "k", 1),
            partial(store.get_many, ["a", "b"]),
            lambda: list(store.keys()),
        ):
            with pytest.raises(BackendUnavailableError) as info:
                await call(action)
            assert info.value.backend == "s3" and "'s'" not in str(info.value)

    on_loop(store, scenario)
