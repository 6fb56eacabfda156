"""Generic operations on any store: ``functools.singledispatch`` functions dispatched on the store class.

Each operation has a portable default built only on the store contract; a backend with a faster way
registers its own implementation for its class (bigchaindb's pattern)::

    from polykv import ops

    register = ops.registrar(ops)

    @register(RedisStore)
    def copy(src, dst, **options): ...

Registering a name that is not a generic operation of the module raises ``RegistrationError`` at import
time; calling an operation on an object nothing is registered for raises ``NotSupportedError`` naming the
object and the operation.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import inspect
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast

from .capabilities import Capability
from .changes import Change, ChangeOp
from .errors import InvalidArgumentError, NotSupportedError, RegistrationError, a_type_name
from .events import notify_write, write_observers
from .keys import validate_prefix
from .options import check_seconds
from .store import KV_NAMESPACE, KeyValueStore

__all__ = [
    "GENERIC_OPERATIONS",
    "CopyResult",
    "copy",
    "copy_batches",
    "count_items",
    "create_schema",
    "drop_schema",
    "export_jsonl",
    "generic",
    "implements",
    "import_jsonl",
    "list_schemas",
    "registrar",
    "watch",
    "write_batch",
]

if TYPE_CHECKING:
    from functools import _SingleDispatchCallable

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")

#: Every generic operation of this module by name.
GENERIC_OPERATIONS: dict[str, Any] = {}

#: Items per read/write batch in ``copy`` and ``import_jsonl``.
COPY_BATCH_SIZE = 1000


# == dispatch machinery ===============================================================================
def generic(func: Callable[..., R]) -> _SingleDispatchCallable[R]:
    """Make ``func`` a generic operation; its body is the fallback for objects nothing is registered for.

    An option no implementation takes raises ``InvalidArgumentError`` naming the operation (not the
    ``TypeError`` of whichever helper it reached)."""
    dispatcher = functools.singledispatch(func)
    name = func.__name__

    @functools.wraps(func)
    def operation(*args: Any, **kwargs: Any) -> R:
        try:
            return dispatcher(*args, **kwargs)
        except TypeError as exc:
            unknown = _UNEXPECTED_KEYWORD.search(str(exc))
            if unknown is None or unknown.group(1) not in kwargs:
                raise
            store = args[0] if args and isinstance(args[0], KeyValueStore) else None
            raise unknown_option(
                f"polykv.ops.{name}",
                unknown.group(1),
                operation_options(name, store),
                None if store is None else store.backend_name,
            ) from None

    for attribute in ("register", "dispatch", "registry", "_clear_cache"):
        setattr(operation, attribute, getattr(dispatcher, attribute))
    generic_operation = cast("_SingleDispatchCallable[R]", operation)
    GENERIC_OPERATIONS[name] = generic_operation
    return generic_operation


def operation_options(name: str, store: object = None) -> list[str]:
    """The option names generic operation ``name`` takes for ``store`` (its implementation for the store's
    class, else the portable one): the parameters with a default or keyword-only, sorted."""
    operation = GENERIC_OPERATIONS[name]
    implementation = operation.dispatch(KeyValueStore if store is None else type(store))
    implementation = _OPTIONS_FROM.get(implementation, implementation)
    parameters = inspect.signature(implementation).parameters.values()
    return sorted(
        p.name
        for p in parameters
        if p.kind is inspect.Parameter.KEYWORD_ONLY
        or (p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and p.default is not inspect.Parameter.empty)
    )


def unknown_option(
    operation: str, option: str, accepted: Iterable[str], backend: str | None = None
) -> InvalidArgumentError:
    """The error for an option ``operation`` (as the user called it, ``"polykv.ops.copy"``) does not take."""
    return InvalidArgumentError(
        f"{operation} has no option {option!r}; its options: {', '.join(accepted)}", backend=backend
    )


#: CPython's message for a keyword a function does not take.
_UNEXPECTED_KEYWORD = re.compile(r"got an unexpected keyword argument '(\w+)'")


def _is_generic(obj: object) -> bool:
    return callable(obj) and all(hasattr(obj, name) for name in ("register", "dispatch", "registry"))


def _not_served(operation: str, obj: object) -> NotSupportedError:
    backend = obj.backend_name if isinstance(obj, KeyValueStore) else None
    return NotSupportedError(
        f"{type(obj).__name__} cannot serve the polykv operation {operation!r}: no implementation is registered "
        "for its class (pass a polykv store, or import the module that registers its implementation)",
        capability=operation,
        backend=backend,
    )


def registrar(module: ModuleType) -> Callable[[type], Callable[[F], F]]:
    """Return ``register(store_class)``: a decorator that registers a function as ``store_class``'s
    implementation of the generic operation of ``module`` with the same name."""

    def register(store_class: type) -> Callable[[F], F]:
        if not isinstance(store_class, type):
            raise RegistrationError(f"register() takes a store class, got {store_class!r}")

        def decorate(func: F) -> F:
            name = getattr(func, "__name__", repr(func))
            target = getattr(module, name, None)
            if target is None:
                available = sorted(n for n, v in vars(module).items() if _is_generic(v) and not n.startswith("_"))
                raise RegistrationError(
                    f"{module.__name__} has no generic operation {name!r} to register for "
                    f"{store_class.__qualname__} (available: {', '.join(available) or 'none'})"
                )
            if not _is_generic(target):
                raise RegistrationError(
                    f"{module.__name__}.{name} is not a single-dispatch generic operation; "
                    f"cannot register an implementation for {store_class.__qualname__}"
                )
            target.register(store_class)(func)
            return func

        return decorate

    return register


def implements(store_class: type) -> Callable[[F], F]:
    """Register the decorated function as ``store_class``'s implementation of the ``polykv.ops`` operation
    of the same name (shorthand for ``registrar(polykv.ops)(store_class)``)."""
    import sys

    return registrar(sys.modules[__name__])(store_class)


# == helpers ==========================================================================================
def _namespaces(store: KeyValueStore, schemas: Iterable[str] | None) -> list[str]:
    """``""`` (the KV pairs) then every schema when ``schemas`` is None; otherwise the named ones."""
    if schemas is None:
        return [KV_NAMESPACE, *sorted(store._schemas())]
    if isinstance(schemas, (str, bytes)) or not isinstance(schemas, Iterable):
        raise InvalidArgumentError(
            f'schemas must be None or a list of names (of schemas; "" for the KV pairs), not {a_type_name(schemas)}',
            backend=store.backend_name,
        )
    return [KV_NAMESPACE if name == KV_NAMESPACE else store._schema(name) for name in schemas]


def _notify_write(store: KeyValueStore, ns: str, keys: Sequence[str]) -> None:
    if write_observers and keys:
        notify_write(store, "set", ns or None, tuple(keys))


def count_items(store: KeyValueStore, *, prefix: str = "", schemas: Iterable[str] | None = None) -> int:
    """How many items ``copy``/``export_jsonl`` would visit with the same arguments (for progress bars)."""
    prefix = validate_prefix(prefix, store.backend_name)
    return sum(store._count(ns, prefix) for ns in _namespaces(store, schemas))


# == copy =============================================================================================
@generic
def write_batch(dst: Any, ns: str, items: Sequence[tuple[str, bytes]]) -> None:
    """Write one batch of encoded ``(key, data)`` items (no TTL) into namespace ``ns`` of ``dst``: the write
    step of ``copy`` and ``import_jsonl``, dispatched on the destination so that a backend with a faster bulk
    write (e.g. the Redis plugin) serves every copy into it, whatever the source."""
    raise _not_served("write_batch", dst)


@write_batch.register(KeyValueStore)
def _write_batch_portable(dst: KeyValueStore, ns: str, items: Sequence[tuple[str, bytes]]) -> None:
    dst._set_many(ns, items, None)


@dataclass
class CopyResult:
    """What ``copy`` did: items written, items left alone (present in the destination), items a checkpoint
    showed as done by an earlier run, and the namespaces visited (``""`` is the KV surface)."""

    copied: int = 0
    skipped: int = 0
    resumed: int = 0
    namespaces: list[str] = field(default_factory=list)


class _Checkpoint:
    """Progress of one copy in a JSON file, rewritten atomically after every batch and removed at the end."""

    def __init__(self, path: str | os.PathLike[str] | None, fingerprint: str) -> None:
        self.path = None if path is None else Path(path)
        self.fingerprint = fingerprint
        self.done: list[str] = []
        self.ns: str | None = None
        self.position = 0
        self.last_key: str | None = None
        if self.path is not None and self.path.exists():
            try:
                state = json.loads(self.path.read_text("utf-8"))
            except (OSError, ValueError) as exc:
                raise InvalidArgumentError(f"cannot read copy checkpoint {str(self.path)!r}: {exc}") from None
            if not isinstance(state, dict) or state.get("fingerprint") != fingerprint:
                raise InvalidArgumentError(
                    f"copy checkpoint {str(self.path)!r} belongs to another copy (different stores, prefix or "
                    "schemas); delete it or choose another checkpoint file"
                )
            self.done = list(state.get("done", []))
            self.ns = state.get("ns")
            self.position = int(state.get("position", 0))
            self.last_key = state.get("last_key")

    def _write(self) -> None:
        if self.path is None:
            return
        state = {
            "fingerprint": self.fingerprint,
            "done": self.done,
            "ns": self.ns,
            "position": self.position,
            "last_key": self.last_key,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".polykv-copy-", dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(state, out)
        os.replace(tmp, self.path)

    def advance(self, ns: str, position: int, last_key: str) -> None:
        self.ns, self.position, self.last_key = ns, position, last_key
        self._write()

    def finish(self, ns: str) -> None:
        self.done.append(ns)
        self.ns, self.position, self.last_key = None, 0, None
        self._write()

    def remove(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


#: ``(src, ns, prefix, size, skip, last_key) -> (skipped, batches)``: how ``copy`` reads a namespace.
BatchReader = Callable[
    [Any, str, str, int, int, "str | None"], tuple[int, Iterator[tuple[int, list[tuple[str, bytes]]]]]
]


def _batches(
    src: KeyValueStore, ns: str, prefix: str, size: int, skip: int, last_key: str | None
) -> tuple[int, Iterator[tuple[int, list[tuple[str, bytes]]]]]:
    """``(skipped, batches)``: each batch is ``(keys consumed, [(key, data)])``. With ``skip``, the first
    ``skip`` keys are passed over without reading their values, if the scan order still matches."""
    if skip:
        keys = src._scan(ns, prefix)
        passed = list(islice(keys, skip))
        if len(passed) == skip and passed[-1] == last_key:

            def rest() -> Iterator[tuple[int, list[tuple[str, bytes]]]]:
                while batch := list(islice(keys, size)):
                    datas = src._get_many(ns, batch)
                    yield len(batch), [(k, d) for k, d in zip(batch, datas, strict=True) if d is not None]

            return skip, rest()

    def fresh() -> Iterator[tuple[int, list[tuple[str, bytes]]]]:
        items = src._scan_items(ns, prefix)
        while batch := list(islice(items, size)):
            yield len(batch), batch

    return 0, fresh()


@generic
def copy(src: Any, dst: Any, **options: Any) -> CopyResult:
    """Copy the items of ``src`` into ``dst``.

    Keyword options: ``prefix`` (only keys starting with it, in every namespace), ``schemas`` (None: the KV
    pairs and every schema; or a list of schema names, ``""`` naming the KV pairs), ``overwrite`` (False:
    keys present in ``dst`` are left alone), ``batch_size``, ``checkpoint`` (a file path: progress is saved
    there after every batch so that a re-run after an interruption resumes; removed when the copy completes)
    and ``progress`` (called with the number of items visited after every batch).
    """
    raise _not_served("copy", src)


@copy.register(KeyValueStore)
def _copy_portable(src: KeyValueStore, dst: KeyValueStore, **options: Any) -> CopyResult:
    return copy_batches(src, dst, _batches, **options)


def _check_overwrite(overwrite: object, backend: str) -> None:
    """``overwrite`` must be a bool: ``overwrite="no"`` is truthy, and overwrote."""
    if not isinstance(overwrite, bool):
        raise InvalidArgumentError(f"overwrite must be True or False, got {overwrite!r}", backend=backend)


def copy_batches(
    src: KeyValueStore,
    dst: KeyValueStore,
    read_batches: BatchReader,
    *,
    prefix: str = "",
    schemas: Iterable[str] | None = None,
    overwrite: bool = False,
    batch_size: int = COPY_BATCH_SIZE,
    checkpoint: str | os.PathLike[str] | None = None,
    progress: Callable[[int], object] | None = None,
) -> CopyResult:
    """``copy``'s machinery (options, checkpoints, overwrite, codecs) with the source's batch reader given:
    ``read_batches(src, ns, prefix, size, skip, last_key)`` returns ``(skipped, batches)``, each batch
    ``(keys consumed, [(key, data)])``, passing over the first ``skip`` keys only if the key at that
    position is still ``last_key`` (else ``skipped`` is 0 and it reads from the start). Backends with a
    faster scan register a ``copy`` that calls this."""
    if not isinstance(dst, KeyValueStore):
        raise InvalidArgumentError(f"copy() destination must be a polykv store, got {type(dst).__name__}")
    if src is dst:
        raise InvalidArgumentError("copy() source and destination are the same store", backend=src.backend_name)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be an int >= 1, got {batch_size!r}")
    _check_overwrite(overwrite, dst.backend_name)
    if progress is not None and not callable(progress):
        raise InvalidArgumentError(f"progress must be None or a callable, got {progress!r}", backend=src.backend_name)
    if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike)):
        raise InvalidArgumentError(
            f"checkpoint must be None or a file path, got {checkpoint!r}", backend=src.backend_name
        )
    prefix = validate_prefix(prefix, src.backend_name)
    namespaces = _namespaces(src, schemas)
    fingerprint = hashlib.sha256(
        json.dumps([src.backend_name, dst.backend_name, prefix, None if schemas is None else namespaces]).encode()
    ).hexdigest()[:16]
    state = _Checkpoint(checkpoint, fingerprint)
    same_codec = type(src.codec) is type(dst.codec) and src.codec.name == dst.codec.name
    result = CopyResult(namespaces=namespaces)
    for ns in namespaces:
        if ns in state.done:
            done = src._count(ns, prefix)
            result.resumed += done
            if progress is not None:
                progress(done)
            continue
        skip = state.position if state.ns == ns else 0
        position, batches = read_batches(src, ns, prefix, batch_size, skip, state.last_key)
        if position:
            result.resumed += position
            if progress is not None:
                progress(position)
        for consumed, items in batches:
            if not same_codec:
                items = [(k, dst._encode(src._decode(d, ns, k), ns, k)) for k, d in items]
            elif not all(type(d) is bytes for _, d in items):  # a value another program stored (sqlite TEXT...)
                # decoded and encoded again, as a codec change would: the destination gets bytes, and a value
                # the codec cannot read raises SerializationError naming its key before this batch is written
                items = [(k, d if type(d) is bytes else dst._encode(src._decode(d, ns, k), ns, k)) for k, d in items]
            if not overwrite and items:
                present = dst._get_many(ns, [k for k, _ in items])
                kept = [item for item, there in zip(items, present, strict=True) if there is None]
                result.skipped += len(items) - len(kept)
                items = kept
            if items:
                write_batch(dst, ns, items)
                _notify_write(dst, ns, [k for k, _ in items])
                result.copied += len(items)
            position += consumed
            if state.path is not None and items:
                state.advance(ns, position, items[-1][0])
            elif state.path is not None:
                state.advance(ns, position, state.last_key or "")
            if progress is not None:
                progress(consumed)
        state.finish(ns)
    state.remove()
    return result


#: An implementation that passes its options on -> the function whose signature lists them.
_OPTIONS_FROM: dict[Callable[..., Any], Callable[..., Any]] = {_copy_portable: copy_batches}


# == JSON lines ======================================================================================
def _open_text(file: str | os.PathLike[str] | IO[str], mode: str) -> tuple[IO[str], bool]:
    if isinstance(file, (str, os.PathLike)):
        return open(file, mode, encoding="utf-8"), True
    return file, False


@generic
def export_jsonl(store: Any, file: Any, **options: Any) -> int:
    """Write every item as one JSON line ``{"schema": null|name, "key": ..., "value": ...}`` (bytes values
    as ``"value_b64"``) to a path or text file; options ``prefix`` and ``schemas`` as for ``copy``.
    Returns the number of lines written."""
    raise _not_served("export_jsonl", store)


@export_jsonl.register(KeyValueStore)
def _export_jsonl_portable(
    store: KeyValueStore,
    file: str | os.PathLike[str] | IO[str],
    *,
    prefix: str = "",
    schemas: Iterable[str] | None = None,
) -> int:
    prefix = validate_prefix(prefix, store.backend_name)
    out, owned = _open_text(file, "w")
    written = 0
    try:
        for ns in _namespaces(store, schemas):
            for key, data in store._scan_items(ns, prefix):
                value = store._decode(data, ns, key)
                line: dict[str, Any] = {"schema": ns or None, "key": key}
                if isinstance(value, bytes):
                    line["value_b64"] = base64.b64encode(value).decode("ascii")
                else:
                    line["value"] = value
                out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
                written += 1
    finally:
        if owned:
            out.close()
    return written


@generic
def import_jsonl(store: Any, file: Any, **options: Any) -> int:
    """Read lines written by ``export_jsonl`` into ``store`` in batches; ``overwrite=False`` leaves keys that
    exist alone. A bad line raises ``InvalidArgumentError`` naming its line number (earlier lines are
    written). Returns the number of items written."""
    raise _not_served("import_jsonl", store)


@import_jsonl.register(KeyValueStore)
def _import_jsonl_portable(
    store: KeyValueStore,
    file: str | os.PathLike[str] | IO[str],
    *,
    overwrite: bool = True,
    batch_size: int = COPY_BATCH_SIZE,
) -> int:
    _check_overwrite(overwrite, store.backend_name)
    source, owned = _open_text(file, "r")
    written = 0
    pending_ns = KV_NAMESPACE
    pending: list[tuple[str, bytes]] = []

    def flush() -> None:
        nonlocal written, pending
        items = pending
        pending = []
        if not items:
            return
        if not overwrite:
            present = store._get_many(pending_ns, [k for k, _ in items])
            items = [item for item, there in zip(items, present, strict=True) if there is None]
        if items:
            write_batch(store, pending_ns, items)
            _notify_write(store, pending_ns, [k for k, _ in items])
            written += len(items)

    try:
        for number, text in enumerate(source, 1):
            if not text.strip():
                continue
            try:
                line = _import_line(store, number, text)
            except InvalidArgumentError:
                flush()  # the lines before the bad one are written, as the docstring says
                raise
            ns, key, value = line
            if ns != pending_ns or len(pending) >= batch_size:
                flush()
                pending_ns = ns
            pending.append((key, store._encode(value, ns, key)))
        flush()
    finally:
        if owned:
            source.close()
    return written


def _import_line(store: KeyValueStore, number: int, text: str) -> tuple[str, str, Any]:
    """``(namespace, key, value)`` of JSON line ``number``; ``InvalidArgumentError`` naming it if it is bad."""
    try:
        line = json.loads(text)
        if not isinstance(line, dict):
            raise ValueError("not a JSON object")
        schema = line.get("schema")
        ns = KV_NAMESPACE if schema is None else store._schema(schema)
        key = store._key(line["key"], ns)
        if "value_b64" in line:
            value: Any = base64.b64decode(line["value_b64"], validate=True)
        else:
            value = line["value"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidArgumentError(
            f"line {number} is not a polykv JSON line ({type(exc).__name__}: {exc})",
            backend=store.backend_name,
        ) from None
    if ns != KV_NAMESPACE and not isinstance(value, dict):  # upsert_record refuses it just the same
        raise InvalidArgumentError(
            f"line {number} holds a record of schema {schema!r} that is {a_type_name(value)}, not a JSON object",
            backend=store.backend_name,
            schema=ns,
            key=key,
        )
    return ns, key, value


# == schemas =========================================================================================
@generic
def create_schema(store: Any, schema_name: str) -> None:
    """Make ``schema_name`` ready for records. Portable stores create schemas implicitly with their first
    record, so the default only validates the name; stores with real tables register their own."""
    raise _not_served("create_schema", store)


@create_schema.register(KeyValueStore)
def _create_schema_portable(store: KeyValueStore, schema_name: str) -> None:
    store._schema(schema_name)


@generic
def drop_schema(store: Any, schema_name: str) -> None:
    """Delete every record of ``schema_name`` (a schema with no records is not an error)."""
    raise _not_served("drop_schema", store)


@drop_schema.register(KeyValueStore)
def _drop_schema_portable(store: KeyValueStore, schema_name: str) -> None:
    store.drop_schema(schema_name)


@generic
def list_schemas(store: Any) -> list[str]:
    """Names of the schemas holding at least one record, sorted."""
    raise _not_served("list_schemas", store)


@list_schemas.register(KeyValueStore)
def _list_schemas_portable(store: KeyValueStore) -> list[str]:
    return store.list_schemas()


# == change feeds ====================================================================================
@generic
def watch(store: Any, schema: str | None = None, prefix: str | None = None, **options: Any) -> Iterator[Change]:
    """Iterate over the changes of ``store``: ``Change(op, schema, key, value, cursor)``.

    ``schema``: None for every change, ``""`` for KV pairs only, a name for that schema's records;
    ``prefix``: only keys starting with it; ``ops``: a ``ChangeOp`` combination; ``since``: a cursor from an
    earlier event (``changes.BEGINNING`` for all the change log retains; None: changes after this call).
    Stop with ``follow=False`` (drain what is there and return), ``timeout`` (seconds in total) or ``stop``
    (a ``threading.Event``, checked at least every ``poll_interval`` seconds). Stores without the ``watch``
    capability raise ``NotSupportedError``.
    """
    raise _not_served("watch", store)


@watch.register(KeyValueStore)
def _watch_portable(
    store: KeyValueStore,
    schema: str | None = None,
    prefix: str | None = None,
    ops: ChangeOp = ChangeOp.ALL,
    since: str | int | None = None,
    *,
    follow: bool = True,
    timeout: float | None = None,
    stop: threading.Event | None = None,
    poll_interval: float = 0.5,
    batch_size: int = 500,
) -> Iterator[Change]:
    if Capability.WATCH not in store.capabilities:
        raise store._unsupported(Capability.WATCH, "watch (change feeds)")
    ns_filter = None if schema is None else (KV_NAMESPACE if schema == "" else store._schema(schema))
    if prefix is not None:
        prefix = validate_prefix(prefix, store.backend_name)
    if not isinstance(ops, ChangeOp):
        raise InvalidArgumentError(f"ops must be a ChangeOp combination, got {ops!r}", backend=store.backend_name)
    check_watch_options(store.backend_name, follow=follow, timeout=timeout, stop=stop, poll_interval=poll_interval)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be an int >= 1, got {batch_size!r}", backend=store.backend_name)
    cursor = store._change_head() if since is None else str(since)
    store._changes(cursor, 1, 0)  # reject a bad or expired cursor now, not at the first next()
    deadline = None if timeout is None else time.monotonic() + timeout
    return _follow(store, cursor, ns_filter, prefix, ops, follow, deadline, stop, poll_interval, batch_size)


def check_watch_options(
    backend: str, *, follow: object = True, timeout: object = None, stop: object = None, poll_interval: object = 0.5
) -> None:
    """``InvalidArgumentError`` for a ``watch`` option of the wrong kind: ``follow`` a bool, ``timeout`` None or
    seconds >= 0, ``poll_interval`` seconds > 0 (0 would poll without pause), ``stop`` None or an object with
    ``is_set()`` (a ``threading.Event`` or ``asyncio.Event``)."""
    if not isinstance(follow, bool):
        raise InvalidArgumentError(f"follow must be True or False, got {follow!r}", backend=backend)
    if timeout is not None and timeout != float("inf"):  # None or inf: no end
        check_seconds(timeout, "timeout", backend, zero=True)
    check_seconds(poll_interval, "poll_interval", backend)
    if stop is not None and not callable(getattr(stop, "is_set", None)):
        raise InvalidArgumentError(
            f"stop must be None or an event with is_set() (threading.Event, asyncio.Event), got {stop!r}",
            backend=backend,
        )


def _follow(
    store: KeyValueStore,
    cursor: str,
    ns_filter: str | None,
    prefix: str | None,
    ops: ChangeOp,
    follow: bool,
    deadline: float | None,
    stop: threading.Event | None,
    poll_interval: float,
    batch_size: int,
) -> Iterator[Change]:
    while stop is None or not stop.is_set():
        wait = 0.0
        if follow:
            wait = poll_interval if deadline is None else max(0.0, min(poll_interval, deadline - time.monotonic()))
        raw = store._changes(cursor, batch_size, wait)
        for entry in raw:
            cursor = entry.cursor
            if ns_filter is not None and entry.ns != ns_filter:
                continue
            if prefix is not None and not entry.key.startswith(prefix):
                continue
            if not entry.op & ops:
                continue
            value = None if entry.data is None else store._decode(entry.data, entry.ns, entry.key)
            yield Change(entry.op, entry.ns or None, entry.key, value, entry.cursor)
        if not raw and not follow:
            return
        if deadline is not None and time.monotonic() >= deadline:
            return
