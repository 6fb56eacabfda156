"""The asyncio face of the S3 store (``polykv.aio`` over ``AsyncS3Store``) against the real S3 server, beside the
sync ``S3Store``.

Both faces run the same store code; only the file system under ``ObjectIO`` differs. So what one face writes,
the other reads back equal: KV pairs, records, long (hashed-name) keys, batches and prefix listings; and both
raise the same errors. Each test runs on its own event loop and closes the async store on it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from polykv_fsspec import S3Store
from polykv_fsspec.aio import AsyncS3Store
from polykv_fsspec.awaited import AwaitedS3FileSystem
from s3_fixtures import BUCKET, open_async, open_s3, s3_url
from s3_server import S3Server, free_port

import polykv.aio
from polykv.aio import AsyncKeyValueStore, BridgeRunner
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
def async_store(s3_server: S3Server, unique: str) -> AsyncKeyValueStore:
    return open_async(s3_server, unique)  # closed on its loop by on_loop


def on_loop(store: AsyncKeyValueStore, scenario: Callable[[], Awaitable[None]]) -> None:
    """Run ``scenario`` on a new event loop, then close ``store`` on that loop."""

    async def main() -> None:
        async with store:
            await scenario()

    asyncio.run(main())


def inner(store: AsyncKeyValueStore) -> AsyncS3Store:
    """The store the async face runs (for the checks that look under it)."""
    runs = store._store
    assert isinstance(runs, AsyncS3Store)
    return runs


async def listed(items: AsyncIterator[Any]) -> list[Any]:
    return sorted([item async for item in items])


def keys(store: S3Store, prefix: str = "") -> list[str]:
    return sorted(store.keys_by_prefix(prefix))


# == the declaration ===============================================================================
def test_s3_store_declares_its_async_face() -> None:
    assert vars(S3Store)["async_face"] == "polykv_fsspec.aio:AsyncS3Store"
    assert issubclass(AsyncS3Store, S3Store) and "_backend_type" not in vars(AsyncS3Store)  # not registered


def test_connect_opens_the_native_face(s3_server: S3Server, unique: str) -> None:
    async def main() -> None:
        async with polykv.aio.connect(s3_url(s3_server, unique)) as store:
            assert store.runner.kind == "bridge" and type(inner(store)) is AsyncS3Store
            assert store.capabilities == frozenset({Capability.ADD}) and s3_server.secret_key not in repr(store)
            await store.set("k", 1)
            assert await store.get("k") == 1

    asyncio.run(main())


def test_only_the_io_layer_differs(async_store: AsyncKeyValueStore, sync_store: S3Store) -> None:
    overridden = {name for name in vars(AsyncS3Store) if not name.startswith(("__", "_abc_"))}
    assert overridden <= {"fs", "batch_concurrency", "_filesystem", "close"}, overridden
    runs = inner(async_store)
    assert type(runs.io) is type(sync_store.io)  # the same ObjectIO: conditional writes, ETags, listing
    assert isinstance(runs.fs, AwaitedS3FileSystem)
    assert runs.capabilities == sync_store.capabilities == frozenset({Capability.ADD})
    assert runs._path("", LONG) == sync_store._path("", LONG)


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


def test_sync_calls_outside_the_loop_are_refused(async_store: AsyncKeyValueStore) -> None:
    with pytest.raises(PolyKVError, match=r"outside a bridged call.*polykv\.aio"):
        inner(async_store).get("k")


# == KV pairs ======================================================================================
def test_kv_round_trips_both_ways(sync_store: S3Store, async_store: AsyncKeyValueStore) -> None:
    values: dict[str, Any] = {"plain": {"a": [1, 2.5, None, True]}, "Case/Key ü": "text", LONG: [LONG]}

    async def scenario() -> None:
        for key, value in values.items():
            sync_store[key] = value
            assert await async_store.get(key) == value
            await async_store.set(key, {"again": key})
            assert sync_store[key] == {"again": key}
        assert await async_store.get("absent", "default") == "default"
        with pytest.raises(KeyNotFoundError):
            await async_store.pop("absent")
        assert await async_store.delete("plain") is True
        assert "plain" not in sync_store
        assert await async_store.delete("plain") is False

    on_loop(async_store, scenario)
    assert keys(sync_store) == sorted(["Case/Key ü", LONG])


def test_ttl_is_refused_the_same_way_on_both_faces(sync_store: S3Store, async_store: AsyncKeyValueStore) -> None:
    with pytest.raises(NotSupportedError) as sync_error:
        sync_store.set("k", 1, ttl=5)

    async def scenario() -> None:
        with pytest.raises(NotSupportedError) as async_error:
            await async_store.set("k", 1, ttl=5)
        assert (async_error.value.capability, async_error.value.backend) == (
            sync_error.value.capability,
            sync_error.value.backend,
        )
        assert await async_store.get("k") is None

    on_loop(async_store, scenario)


# == records =======================================================================================
def test_records_both_ways(sync_store: S3Store, async_store: AsyncKeyValueStore) -> None:
    async def scenario() -> None:
        sync_store.insert_record("users", "ada", {"name": "Ada", "age": 36})
        assert await async_store.get_record("users", dict, "ada") == {"name": "Ada", "age": 36}
        with pytest.raises(RecordExistsError):  # If-None-Match: * on the async face too
            await async_store.insert_record("users", "ada", {"name": "again"})
        await async_store.insert_record("users", "bob", {"name": "Bob", "age": 17})
        await async_store.update_record("users", "ada", {"name": "Ada", "age": 37})  # If-Match: <ETag>
        assert sync_store.get_record("users", dict, "ada") == {"name": "Ada", "age": 37}
        with pytest.raises(RecordNotFoundError):
            await async_store.update_record("users", "nobody", {"name": "x"})
        assert await async_store.filter_record("users", dict, age__gte=18) == [{"name": "Ada", "age": 37}]
        assert await async_store.count("users") == 2
        assert await listed(async_store.record_keys("users")) == ["ada", "bob"]
        assert await async_store.list_schemas() == sync_store.list_schemas() == ["users"]
        await async_store.drop_schema("users")
        assert sync_store.list_schemas() == [] and not sync_store.exists("users", "ada")

    on_loop(async_store, scenario)


def test_concurrent_inserts_on_the_loop_admit_one(async_store: AsyncKeyValueStore, sync_store: S3Store) -> None:
    async def insert(n: int) -> bool:
        try:
            await async_store.insert_record("locks", "one", {"owner": n})
        except RecordExistsError:
            return False
        return True

    async def scenario() -> None:
        won = await asyncio.gather(*(insert(n) for n in range(16)))
        assert won.count(True) == 1
        assert sync_store.get_record("locks", dict, "one") == {"owner": won.index(True)}

    on_loop(async_store, scenario)


# == batches and listings ==========================================================================
def test_batches_both_ways(sync_store: S3Store, async_store: AsyncKeyValueStore) -> None:
    first = {f"a:{i:03d}": {"i": i} for i in range(150)} | {LONG: "long"}
    second = {f"b:{i:03d}": [i] for i in range(150)}

    async def scenario() -> None:
        sync_store.set_many(first)
        assert await async_store.get_many([*first, "a:missing"]) == first
        await async_store.set_many(second)
        assert sync_store.get_many(second) == second
        gone = [f"b:{i:03d}" for i in range(0, 150, 2)] + ["b:missing", LONG]
        assert await async_store.delete_many(gone) == 76
        assert sync_store.count(prefix="b:") == 75 and LONG not in sync_store

    on_loop(async_store, scenario)


def test_prefix_listing_matches(sync_store: S3Store, async_store: AsyncKeyValueStore) -> None:
    written = {"user:1": 1, "user:10": 10, "user:2": 2, "users": 0, "User:3": 3, LONG: 4, "long/x": 5, "other": 6}
    sync_store.set_many(written)

    async def scenario() -> None:
        for prefix in ("", "user", "user:", "user:1", "long/", "long/кл", "nothing"):
            expected = sorted(k for k in written if k.startswith(prefix))
            assert await listed(async_store.keys_by_prefix(prefix)) == keys(sync_store, prefix) == expected, prefix
            assert await listed(async_store.fetch_by_prefix(prefix)) == sorted((k, written[k]) for k in expected)
            assert await async_store.count(prefix=prefix) == len(expected)
        assert await listed(async_store.keys()) == sorted(written)
        assert await async_store.clear("user:") == 3
        assert keys(sync_store) == sorted(["users", "User:3", LONG, "long/x", "other"])

    on_loop(async_store, scenario)


def test_a_listing_does_not_hide_another_clients_writes(sync_store: S3Store, async_store: AsyncKeyValueStore) -> None:
    """s3fs kept folder listings and answered exists() from them: delete() after a listing skipped a key
    another client had written since (both faces; the store turns s3fs's listings cache off)."""
    sync_store["x"] = 1

    async def scenario() -> None:
        assert await listed(async_store.keys()) == ["x"]
        sync_store["k"] = 2
        assert await async_store.delete("k") is True
        assert "k" not in sync_store and keys(sync_store) == ["x"]
        await async_store.set("k2", 3)
        assert sync_store.delete("k2") is True

    on_loop(async_store, scenario)


# == concurrency on the loop =======================================================================
@pytest.mark.parametrize(("options", "bound"), [({"max_connections": 8}, 8), ({}, AsyncS3Store.batch_concurrency)])
def test_get_many_runs_its_requests_concurrently_and_bounded(
    s3_server: S3Server, unique: str, options: dict[str, int], bound: int
) -> None:
    store = open_async(s3_server, unique, **options)
    wanted = {f"k{i}": i for i in range(60)}

    async def scenario() -> None:
        await store.set_many(wanted)
        fs = inner(store).fs.filesystem()  # the s3fs of this loop
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
            assert await store.get_many(list(wanted)) == wanted
        finally:
            del fs._cat_file
        assert most == bound  # the connection pool, or batch_concurrency below it

    on_loop(store, scenario)


def test_many_tasks_share_the_store(sync_store: S3Store, async_store: AsyncKeyValueStore) -> None:
    sync_store.set_many({f"k{i}": {"key": f"k{i}"} for i in range(40)})

    async def scenario() -> None:
        singles = [async_store.get(f"k{i}") for i in range(40)]
        batches = [async_store.get_many([f"k{j}" for j in range(i, 40, 7)]) for i in range(7)]
        got = await asyncio.gather(*singles, *batches)
        assert got[:40] == [{"key": f"k{i}"} for i in range(40)]
        for i, batch in enumerate(got[40:]):
            assert batch == {f"k{j}": {"key": f"k{j}"} for j in range(i, 40, 7)}

    on_loop(async_store, scenario)


# == lifecycle and faults ==========================================================================
def test_each_loop_gets_its_own_client_and_close_releases_it(s3_server: S3Server, unique: str) -> None:
    runs = open_async(s3_server, unique)._store
    assert isinstance(runs, AsyncS3Store)
    seen = []

    async def main() -> None:
        async with AsyncKeyValueStore(runs, BridgeRunner()) as store:  # a face per loop on the one store
            await store.set("k", "v")
            assert await store.get("k") == "v"
            seen.append(runs.fs.filesystem())

    asyncio.run(main())
    assert runs.fs._by_loop == {}  # closed on its loop
    asyncio.run(main())  # a new loop: a new s3fs and session, the same store
    assert seen[0] is not seen[1]
    assert seen[0]._s3 is None and seen[1]._s3 is None


def test_close_on_the_loop_leaves_no_open_session(s3_server: S3Server, unique: str) -> None:
    code = (
        "import asyncio, gc, sys\n"
        "import polykv.aio\n"
        "from s3_fixtures import s3_url\n"
        "from s3_server import S3Server\n"
        "server = S3Server(None, sys.argv[2], sys.argv[3], {'s3.port': int(sys.argv[1])})\n"
        "async def main():\n"
        "    async with polykv.aio.connect(s3_url(server, sys.argv[4])) as store:\n"
        "        await store.set_many({f'k{i}': i for i in range(20)})\n"
        "        assert len(await store.get_many([f'k{i}' for i in range(20)])) == 20\n"
        "asyncio.run(main())\n"
        "gc.collect()\n"
        "print('done')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    args = [str(s3_server.ports["s3.port"]), s3_server.access_key, s3_server.secret_key, unique]
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
    assert "nclosed" not in done.stderr, done.stderr  # aiohttp's "Unclosed client session", asyncio's "unclosed"


def test_unreachable_server_raises_backend_unavailable() -> None:
    runs = AsyncS3Store(
        BUCKET, "p", endpoint_url=f"http://127.0.0.1:{free_port()}", key="k", secret="s", connect_timeout=1, retries=1
    )
    store = AsyncKeyValueStore(runs, BridgeRunner())

    async def scenario() -> None:
        for action in (
            lambda: store.get("k"),
            lambda: store.set("k", 1),
            lambda: store.get_many(["a", "b"]),
            lambda: listed(store.keys()),
        ):
            with pytest.raises(BackendUnavailableError) as info:
                await action()
            assert info.value.backend == "s3" and "'s'" not in str(info.value)

    on_loop(store, scenario)


def test_wrong_secret_is_refused_on_the_async_face(s3_server: S3Server, unique: str) -> None:
    from polykv_fsspec import AccessDeniedError

    async def main() -> None:
        async with polykv.aio.connect(s3_url(s3_server, unique, secret="not-the-secret")) as store:
            with pytest.raises(AccessDeniedError) as info:
                await store.set("k", 1)
            assert "not-the-secret" not in str(info.value)

    asyncio.run(main())
