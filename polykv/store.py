"""``KeyValueStore``: the contract every polykv backend honours.

The public surface (KV methods, ``MutableMapping``, the record API) is written once here, on top of a
small set of byte-level primitives that a backend implements. Every primitive works in a *namespace*:
``""`` holds the plain key-value pairs, any other namespace is a record schema. Keys and schema names are
validated and values encoded before a primitive is called, so nothing invalid reaches a backend.

Overloaded names: ``exists(key)`` asks the KV surface, ``exists(schema_name, record_key)`` the record
surface; ``count()``/``count(prefix=...)`` count KV keys, ``count(schema_name)`` counts records.
"""

from __future__ import annotations

from collections.abc import (
    Callable,
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    MutableMapping,
    Set,
    ValuesView,
)
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

from . import caching
from .capabilities import Capability
from .codecs import BytesCodec, Codec, get_codec
from .errors import (
    InvalidArgumentError,
    InvalidKeyError,
    KeyNotFoundError,
    NotSupportedError,
    RecordError,
    RecordExistsError,
    RecordNotFoundError,
    SerializationError,
    WrongTypeError,
    a_type_name,
    locate,
    with_article,
)
from .events import notify_write, write_observers
from .keys import MAX_KEY_LENGTH, validate_key, validate_prefix, validate_schema_name
from .locks import Lock
from .options import MAX_TTL
from .primitives import DEFAULT_BATCH_SIZE, MISSING, StorePrimitives
from .primitives import _Missing as _Missing  # re-exported: backends type _ttl with it
from .records import (
    bind_record,
    build_record,
    compile_filter,
    indexed_fields,
    record_key_of,
    record_schema_of,
    record_state,
    refresh_record,
)
from .registration import StoreMeta, store_registry_config

if TYPE_CHECKING:
    pass

#: What set_many takes as one (key, value) pair without a closer look, and what it never takes as one
#: (containers that unpack to two items but hold no key and value: "bc", b"xy", {"k": 1, "v": 2}, {"a", "b"}).
_PAIR_TYPES = frozenset({tuple, list})
_NOT_PAIRS = (str, bytes, bytearray, memoryview, Mapping, Set)

__all__ = [
    "INCR_MAX",
    "INCR_MIN",
    "KV_NAMESPACE",
    "MAX_TTL",
    "MISSING",
    "KeyValueStore",
    "StoreItemsView",
    "StoreKeysView",
    "StoreValuesView",
]

T = TypeVar("T")

#: The namespace of the plain key-value surface; record schemas are every other namespace.
KV_NAMESPACE = ""


#: ``incr`` results and amounts stay within signed 64 bits (Redis's integer range) on every store.
INCR_MIN = -(2**63)
INCR_MAX = 2**63 - 1


class KeyValueStore(StorePrimitives, MutableMapping[str, Any], metaclass=StoreMeta):
    """Base class of every store: subclass it, set ``_backend_type``, implement the primitives.

    What a backend writes is all in :class:`polykv.primitives.StorePrimitives` (the required
    ``_get``, ``_set``, ``_delete``, ``_scan``, ``_schemas``; batch and capability primitives with
    portable defaults or ``NotSupportedError``). Everything defined here is the public surface and
    polykv's own helpers: a backend calls the helpers it needs but does not override them.
    """

    __registry_config__ = store_registry_config

    def __init__(self, *, codec: str | Codec = "json") -> None:
        self.codec: Codec = get_codec(codec, backend=self.backend_name)

    # == helpers ===================================================================================
    @property
    def backend_name(self) -> str:
        """The backend type, or the class name for an unregistered store."""
        return self._backend_type or type(self).__name__

    def _unsupported(self, capability: Capability | str, what: str | None = None) -> NotSupportedError:
        return NotSupportedError(
            f"the {self.backend_name!r} store does not support {what or capability}",
            capability=str(capability),
            backend=self.backend_name,
        )

    def _require(self, capability: Capability) -> None:
        if capability not in self.capabilities:
            raise self._unsupported(capability)

    def supports(self, capability: Capability | str) -> bool:
        """Whether the store declares ``capability``."""
        return Capability(capability) in self.capabilities

    def _encode(self, value: Any, ns: str, key: str | None) -> bytes:
        """Encode ``value``; any failure of the codec (a custom one's too, RecursionError included) is a
        ``SerializationError`` naming backend, schema and key, raised before anything is written."""
        try:
            return self.codec.encode(value)
        except Exception as exc:
            raise self._encode_error(exc, value, ns, key) from None

    def _encode_error(self, exc: Exception, value: Any, ns: str, key: str | None) -> SerializationError:
        return SerializationError(
            f"the {self.codec.name} codec cannot encode {a_type_name(value)}: {type(exc).__name__}: {exc}",
            backend=self.backend_name,
            schema=ns or None,
            key=key,
        )

    def _decode(self, data: bytes, ns: str, key: str) -> Any:
        try:
            return self.codec.decode(data)
        except Exception as exc:
            raise self._decode_error(exc, ns, key, data) from None

    def _decode_error(self, exc: Exception, ns: str, key: str, data: object = b"") -> SerializationError:
        if not isinstance(data, (bytes, bytearray, memoryview, str)):  # a sqlite INTEGER another program wrote
            why = f"the stored value is {a_type_name(data)}, not bytes (not written by polykv)"
        else:
            why = f"{type(exc).__name__}: {exc}"
        return SerializationError(
            f"the {self.codec.name} codec cannot decode the stored value: {why}",
            backend=self.backend_name,
            schema=ns or None,
            key=key,
        )

    def _key(self, key: object, ns: str = KV_NAMESPACE) -> str:
        return validate_key(key, self.backend_name, ns or None)

    def _schema(self, schema_name: object) -> str:
        return validate_schema_name(schema_name, self.backend_name)

    def _check_ttl(self, ttl: float | None) -> float | None:
        """The one TTL rule of every store: None (no expiry) or an int/float of seconds, finite,
        > 0 and <= ``MAX_TTL``; anything else (bool, NaN, inf, 0, negative, too large, a str) raises
        ``InvalidArgumentError`` naming the bound. Compared exactly, so huge ints never overflow."""
        if ttl is None:
            return None
        self._require(Capability.TTL)
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 0 < ttl <= MAX_TTL:
            raise InvalidArgumentError(
                f"ttl must be a number of seconds with 0 < ttl <= {MAX_TTL} (polykv.MAX_TTL, 10 years), got {ttl!r}",
                backend=self.backend_name,
            )
        return float(ttl)

    def _incremented(self, ns: str, key: str, data: bytes | None, amount: int) -> tuple[int, bytes]:
        """For a backend's atomic ``_incr``: the new value and its bytes, from the stored ``data`` (None
        when absent, counting as 0). ``InvalidArgumentError`` naming the key if the stored value is not an
        int (bool, float, str, dict...) or the result would leave ``[INCR_MIN, INCR_MAX]``."""
        value = 0 if data is None else self._decode(data, ns, key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgumentError(
                f"cannot increment {a_type_name(value)}: incr needs an integer value",
                backend=self.backend_name,
                schema=ns or None,
                key=key,
            )
        result = int(value) + amount
        if not INCR_MIN <= result <= INCR_MAX:
            raise self._incr_range_error(ns, key)
        return result, self._encode(result, ns, key)

    def _incr_range_error(self, ns: str, key: str) -> InvalidArgumentError:
        return InvalidArgumentError(
            f"incr result would leave the signed 64-bit range [{INCR_MIN}, {INCR_MAX}]; the value is unchanged",
            backend=self.backend_name,
            schema=ns or None,
            key=key,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} backend={self.backend_name!r} codec={self.codec.name!r}>"

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # == KV surface ================================================================================
    def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key``, or ``default`` when absent."""
        # The hot path: a plain ASCII key is valid as it is, and the codec is called directly (each
        # helper call costs about 3 % of a sqlite get); anything else takes validate_key's checks.
        if type(key) is not str or not key.isascii() or not 0 < len(key) <= MAX_KEY_LENGTH:
            key = self._key(key)
        data = self._get(KV_NAMESPACE, key)
        if data is None:
            return default
        try:
            return self.codec.decode(data)
        except Exception as exc:
            raise self._decode_error(exc, KV_NAMESPACE, key, data) from None

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` under ``key`` (replacing any value and expiry); ``ttl`` needs the TTL capability."""
        if type(key) is not str or not key.isascii() or not 0 < len(key) <= MAX_KEY_LENGTH:  # as in get
            key = self._key(key)
        try:
            data = self.codec.encode(value)
        except Exception as exc:
            raise self._encode_error(exc, value, KV_NAMESPACE, key) from None
        self._set(KV_NAMESPACE, key, data, None if ttl is None else self._check_ttl(ttl))
        if write_observers:
            notify_write(self, "set", None, (key,))

    def upsert(self, key: str, value: Any) -> None:
        """Insert or replace ``value`` under ``key`` (KvStorage's name for ``set``)."""
        self.set(key, value)

    def delete(self, key: str) -> bool:
        """Remove ``key``; deleting an absent key is not an error. Returns whether it existed."""
        key = self._key(key)
        existed = self._delete(KV_NAMESPACE, key)
        if write_observers:
            notify_write(self, "delete", None, (key,))
        return existed

    def keys(self) -> StoreKeysView:
        """A set-like, re-iterable view of the plain keys; each pass streams them, ``len()`` is ``count()``."""
        return StoreKeysView(self)

    def values(self) -> StoreValuesView:
        """A re-iterable view of the plain values, read in batches on each pass."""
        return StoreValuesView(self)

    def items(self) -> StoreItemsView:
        """A set-like, re-iterable view of the ``(key, value)`` pairs, read in batches on each pass."""
        return StoreItemsView(self)

    def keys_by_prefix(self, prefix: str = "") -> Iterator[str]:
        """Stream the keys starting with the literal ``prefix`` (no glob characters); pairs with
        ``fetch_by_prefix``. ``InvalidKeyError`` if ``prefix`` is not a str."""
        return self._scan(KV_NAMESPACE, validate_prefix(prefix, self.backend_name))

    def fetch_by_prefix(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        """Stream ``(key, value)`` pairs whose key starts with the literal ``prefix``, in batches."""
        prefix = validate_prefix(prefix, self.backend_name)
        for key, data in self._scan_items(KV_NAMESPACE, prefix):
            yield key, self._decode(data, KV_NAMESPACE, key)

    def clear(self, prefix: str = "") -> int:  # type: ignore[override]
        """Remove the keys starting with ``prefix`` (all KV keys when empty; records are untouched)."""
        removed = self._clear(KV_NAMESPACE, validate_prefix(prefix, self.backend_name))
        if write_observers:
            notify_write(self, "clear", None, (prefix,))
        return removed

    def _valid_keys(self, keys: Iterable[str], ns: str = KV_NAMESPACE) -> list[str]:
        """Validate a batch of keys; plain ASCII keys are checked inline, anything else by ``validate_key``.
        A str, bytes or a non-iterable is not a batch: ``InvalidArgumentError`` (``get_many("abc")`` would
        otherwise ask for "a", "b" and "c")."""
        if isinstance(keys, (str, bytes)):
            raise InvalidArgumentError(
                f"a batch of keys must be an iterable of str, not a single {type(keys).__name__}",
                backend=self.backend_name,
                schema=ns or None,
            )
        try:
            wanted = list(keys)
        except TypeError:
            raise InvalidArgumentError(
                f"a batch of keys must be an iterable of str, got {type(keys).__name__}",
                backend=self.backend_name,
                schema=ns or None,
            ) from None
        if not wanted:
            return wanted
        # C-level passes over the whole batch: exact str, 1..MAX_KEY_LENGTH characters, all ASCII
        if all(wanted) and set(map(type, wanted)) == {str}:  # all() is False on an empty key
            joined = "".join(wanted)
            if joined.isascii() and (len(joined) <= MAX_KEY_LENGTH or max(map(len, wanted)) <= MAX_KEY_LENGTH):
                return wanted
        return [self._key(k, ns) for k in wanted]

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The values of the keys that exist, in one batch where the backend can."""
        wanted = self._valid_keys(keys)
        datas: list[bytes | None]
        if self.gets_present:  # the backend answers a dict (sqlite: in key order)
            found = self._get_present(KV_NAMESPACE, wanted)
            if len(found) == len(wanted) and list(found) == wanted:  # every key, in the batch's order
                if type(self.codec) is BytesCodec and (self.exact_bytes or set(map(type, found.values())) == {bytes}):
                    return found  # what the path below would build, without the aligned list
                datas = list(found.values())
            else:
                datas = list(map(found.get, wanted))
        else:
            datas = self._get_many(KV_NAMESPACE, wanted)
        if type(self.codec) is BytesCodec:  # bytes in, bytes out: no call per value
            # all present and not empty (the common case): C-level passes only
            if all(datas) and (self.exact_bytes or set(map(type, datas)) == {bytes}):
                return dict(zip(wanted, datas, strict=True))
            decode = self.codec.decode  # exact bytes as they are; anything else through decode's check
            try:
                return {
                    k: d if type(d) is bytes else decode(d) for k, d in zip(wanted, datas, strict=True) if d is not None
                }
            except Exception:
                for key, data in zip(wanted, datas, strict=True):
                    if data is not None:
                        self._decode(data, KV_NAMESPACE, key)  # raises SerializationError naming the key
                raise
        decode_many = getattr(self.codec, "decode_many", None)  # a codec's batch decoder (JSON's is C-level)
        try:
            if decode_many is not None:
                if None not in datas:
                    return dict(zip(wanted, decode_many(datas), strict=True))
                pairs = [(key, data) for key, data in zip(wanted, datas, strict=True) if data is not None]
                return dict(zip([key for key, _ in pairs], decode_many([data for _, data in pairs]), strict=True))
            decode = self.codec.decode
            return {key: decode(data) for key, data in zip(wanted, datas, strict=True) if data is not None}
        except Exception:
            for key, data in zip(wanted, datas, strict=True):
                if data is not None:
                    self._decode(data, KV_NAMESPACE, key)  # raises SerializationError naming the key
            raise

    def set_many(self, mapping: Mapping[str, Any] | Iterable[tuple[str, Any]], ttl: float | None = None) -> None:
        """Store every pair in one batch where the backend can; all are validated before any is written."""
        if isinstance(mapping, (str, bytes)):
            raise InvalidArgumentError(
                f"set_many takes a mapping or (key, value) pairs, not {a_type_name(mapping)}",
                backend=self.backend_name,
            )
        if type(mapping) is dict:  # C-level passes: no per-pair unpacking in Python
            keys = self._valid_keys(list(mapping))
            values = list(mapping.values())
        else:
            try:
                pairs = list(mapping.items() if isinstance(mapping, Mapping) else mapping)
            except TypeError:
                raise InvalidArgumentError(
                    f"set_many takes a mapping or (key, value) pairs, got {type(mapping).__name__}",
                    backend=self.backend_name,
                ) from None
            for kind in set(map(type, pairs)) - _PAIR_TYPES:
                if issubclass(kind, _NOT_PAIRS):  # dict() would unpack "bc" as b -> c
                    raise InvalidArgumentError(
                        f"set_many takes a mapping or (key, value) pairs; an item is {with_article(kind.__name__)}, "
                        "not a pair",
                        backend=self.backend_name,
                    )
            try:
                given = [key for key, _ in pairs]
                values = [value for _, value in pairs]
            except (TypeError, ValueError):
                raise InvalidArgumentError(
                    "set_many takes a mapping or (key, value) pairs; an item is not a pair",
                    backend=self.backend_name,
                ) from None
            keys = self._valid_keys(given)
        try:
            if type(self.codec) is BytesCodec and set(map(type, values)) <= {bytes}:  # stored as they are
                items = list(zip(keys, values, strict=True))
            else:
                items = list(zip(keys, map(self.codec.encode, values), strict=True))
        except Exception:
            items = [(key, self._encode(value, KV_NAMESPACE, key)) for key, value in zip(keys, values, strict=True)]
        ttl = None if ttl is None else self._check_ttl(ttl)
        if items:
            self._set_many(KV_NAMESPACE, items, ttl)
            if write_observers:
                notify_write(self, "set", None, tuple(key for key, _ in items))

    def delete_many(self, keys: Iterable[str]) -> int:
        """Remove the keys; returns how many existed."""
        wanted = self._valid_keys(keys)
        if not wanted:
            return 0
        removed = self._delete_many(KV_NAMESPACE, wanted)
        if write_observers:
            notify_write(self, "delete", None, tuple(wanted))
        return removed

    # -- capabilities -------------------------------------------------------------------------
    def add(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Atomically store ``value`` only if ``key`` is absent; returns whether it was stored."""
        self._require(Capability.ADD)
        key = self._key(key)
        data = self._encode(value, KV_NAMESPACE, key)
        stored = self._add(KV_NAMESPACE, key, data, None if ttl is None else self._check_ttl(ttl))
        if stored and write_observers:
            notify_write(self, "add", None, (key,))
        return stored

    def compare_and_set(self, key: str, expected: Any, new: Any) -> bool:
        """Atomically replace the value if it equals ``expected``; returns whether it was replaced."""
        self._require(Capability.COMPARE_AND_SET)
        key = self._key(key)
        self._encode(expected, KV_NAMESPACE, key)  # an expected value the codec could not store is refused too
        swapped = self._compare_and_set(KV_NAMESPACE, key, expected, self._encode(new, KV_NAMESPACE, key))
        if swapped and write_observers:
            notify_write(self, "compare_and_set", None, (key,))
        return swapped

    def incr(self, key: str, amount: int = 1) -> int:
        """Atomically add ``amount`` to an integer value (an absent key counts as 0); returns the result.

        Amount and result stay within signed 64 bits (``INCR_MIN``..``INCR_MAX``) on every store; past
        that, or on a stored value that is not an int, ``InvalidArgumentError`` and the value is unchanged.
        """
        self._require(Capability.INCR)
        if isinstance(amount, bool) or not isinstance(amount, int) or not INCR_MIN <= amount <= INCR_MAX:
            raise InvalidArgumentError(
                f"incr amount must be an int in the signed 64-bit range [{INCR_MIN}, {INCR_MAX}], got {amount!r}",
                backend=self.backend_name,
                key=key if isinstance(key, str) else None,
            )
        key = self._key(key)
        try:
            result = self._incr(KV_NAMESPACE, key, int(amount))
        except (InvalidArgumentError, SerializationError) as exc:
            exc.key = key  # a wrapper's inner store names its own (prefixed) key; the caller's key is this one
            raise
        if write_observers:
            notify_write(self, "incr", None, (key,))
        return result

    def ttl(self, key: str) -> float | None:
        """Seconds until ``key`` expires, or None if it never does; KeyNotFoundError if absent."""
        self._require(Capability.TTL)
        key = self._key(key)
        left = self._ttl(KV_NAMESPACE, key)
        if isinstance(left, _Missing):
            raise KeyNotFoundError("no such key", backend=self.backend_name, key=key)
        return left

    # -- MutableMapping -------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        key = self._key(key)
        data = self._get(KV_NAMESPACE, key)
        if data is None:
            raise KeyNotFoundError("no such key", backend=self.backend_name, key=key)
        return self._decode(data, KV_NAMESPACE, key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.set(key, value)

    def __delitem__(self, key: str) -> None:
        key = self._key(key)
        if not self._delete(KV_NAMESPACE, key):
            raise KeyNotFoundError("no such key", backend=self.backend_name, key=key)
        if write_observers:
            notify_write(self, "delete", None, (key,))

    def __iter__(self) -> Iterator[str]:
        return self._scan(KV_NAMESPACE, "")

    def __len__(self) -> int:
        return self._count(KV_NAMESPACE, "")

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is stored; False (never an error) for anything that cannot be a key."""
        try:
            key = self._key(key)
        except InvalidKeyError:
            return False
        return self._present(KV_NAMESPACE, key)

    def _present(self, ns: str, key: str) -> bool:
        """Whether something is stored under ``key``: a foreign value of another server type counts (reading
        it raises ``WrongTypeError``, but the key is taken)."""
        try:
            return self._get(ns, key) is not None
        except WrongTypeError:
            return True

    def _lookup(self, key: object) -> Any:
        """The decoded value under ``key``, or MISSING when absent or not a valid key at all."""
        try:
            key = self._key(key)
        except InvalidKeyError:
            return MISSING
        data = self._get(KV_NAMESPACE, key)
        return MISSING if data is None else self._decode(data, KV_NAMESPACE, key)

    # MutableMapping's mixin methods, made single-pass and race-aware for a store.
    def pop(self, key: str, default: Any = MISSING) -> Any:
        """Remove ``key`` and return its value; ``default`` (or ``KeyNotFoundError``) when absent.

        One read and one delete; if another writer deletes the key in between, this call reports it
        absent, so two concurrent ``pop`` calls never both return the value.
        """
        key = self._key(key)
        data = self._get(KV_NAMESPACE, key)
        # decoded before the delete: a value the codec cannot read raises and stays stored
        value = None if data is None else self._decode(data, KV_NAMESPACE, key)
        if data is not None and self._delete(KV_NAMESPACE, key):
            if write_observers:
                notify_write(self, "delete", None, (key,))
            return value
        if default is MISSING:
            raise KeyNotFoundError("no such key", backend=self.backend_name, key=key)
        return default

    def popitem(self) -> tuple[str, Any]:
        """Remove and return some ``(key, value)`` pair; ``KeyNotFoundError`` (a KeyError) when empty."""
        keys = self._scan(KV_NAMESPACE, "")
        try:
            for key in keys:
                data = self._get(KV_NAMESPACE, key)
                value = None if data is None else self._decode(data, KV_NAMESPACE, key)  # before the delete
                if data is not None and self._delete(KV_NAMESPACE, key):
                    if write_observers:
                        notify_write(self, "delete", None, (key,))
                    return key, value
        finally:
            close = getattr(keys, "close", None)
            if close is not None:
                close()
        raise KeyNotFoundError("popitem(): the store is empty", backend=self.backend_name)

    def setdefault(self, key: str, default: Any = None) -> Any:
        """The value under ``key``; if absent, store ``default`` and return it (atomically with ADD)."""
        key = self._key(key)
        data = self._get(KV_NAMESPACE, key)
        if data is not None:
            return self._decode(data, KV_NAMESPACE, key)
        encoded = self._encode(default, KV_NAMESPACE, key)
        if Capability.ADD not in self.capabilities:
            self._set(KV_NAMESPACE, key, encoded, None)
            if write_observers:
                notify_write(self, "set", None, (key,))
            return default
        while True:
            if self._add(KV_NAMESPACE, key, encoded, None):
                if write_observers:
                    notify_write(self, "add", None, (key,))
                return default
            data = self._get(KV_NAMESPACE, key)
            if data is not None:
                return self._decode(data, KV_NAMESPACE, key)

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """``dict.update``: from a mapping, an object with ``keys()``, or ``(key, value)`` pairs, then
        ``kwargs``; written with ``set_many`` in batches of ``DEFAULT_BATCH_SIZE``, each validated and written
        whole before the next is read: an error in a later batch leaves the earlier ones stored."""
        checked = True  # the pairs come from a mapping
        if isinstance(other, Mapping):
            pairs: Iterable[Any] = other.items()
        elif hasattr(other, "keys"):
            pairs = ((k, other[k]) for k in other.keys())  # noqa: SIM118  # keys() is the protocol
        elif not isinstance(other, Iterable):  # a TypeError, as dict.update's
            raise TypeError(f"update takes a mapping or (key, value) pairs, not {a_type_name(other)}")
        elif isinstance(other, (str, bytes)):
            raise InvalidArgumentError(
                f"update takes a mapping or (key, value) pairs, not {a_type_name(other)}", backend=self.backend_name
            )
        else:
            pairs, checked = other, False
        batch: dict[Any, Any] = {}
        for number, pair in enumerate(pairs):
            try:
                if not checked and isinstance(pair, _NOT_PAIRS):
                    raise TypeError
                key, value = pair
            except (TypeError, ValueError):  # as dict.update, but a polykv error naming the item
                raise InvalidArgumentError(
                    f"update takes a mapping or (key, value) pairs; item {number} is {a_type_name(pair)}, not a pair",
                    backend=self.backend_name,
                ) from None
            try:
                batch[key] = value
            except TypeError:  # unhashable: certainly not a key
                self._key(key)
                raise
            if len(batch) >= DEFAULT_BATCH_SIZE:
                self.set_many(batch)
                batch = {}
        batch.update(kwargs)
        if batch:
            self.set_many(batch)

    def __eq__(self, other: object) -> bool:
        """Equal to any mapping with the same keys and values (compared in batches, never all loaded)."""
        if self is other:
            return True
        if not isinstance(other, Mapping):
            return NotImplemented
        if len(self) != len(other):
            return False
        items = self._scan_items(KV_NAMESPACE, "")
        try:
            while batch := list(islice(items, DEFAULT_BATCH_SIZE)):
                theirs: Mapping[Any, Any] = (
                    other.get_many(key for key, _ in batch) if isinstance(other, KeyValueStore) else other
                )
                for key, data in batch:
                    value = theirs.get(key, MISSING)
                    if value is MISSING or value != self._decode(data, KV_NAMESPACE, key):
                        return False
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
        return True

    # == overloaded names ==========================================================================
    def exists(self, key: str | None = None, record_key: str | None = None, *, schema_name: str | None = None) -> bool:
        """``exists(key)``: is the KV key present? ``exists(schema_name, record_key)``: is the record?"""
        if schema_name is not None:
            if key is not None and record_key is None:
                record_key = key
            elif key is not None:
                raise TypeError("exists() got the schema name twice")
            key = schema_name
        if key is None:
            raise TypeError("exists() needs a key, or a schema name and a record key")
        if record_key is None:
            if schema_name is not None:
                raise TypeError("exists(schema_name=...) also needs record_key")
            return self._present(KV_NAMESPACE, self._key(key))
        ns = self._schema(key)
        return self._present(ns, self._key(record_key, ns))

    def count(self, schema_name: str | None = None, *, prefix: str = "") -> int:
        """``count(schema_name)``: records in a schema (0 if it has none); ``count(prefix=...)``: KV keys."""
        if schema_name is None:
            return self._count(KV_NAMESPACE, validate_prefix(prefix, self.backend_name))
        if prefix:
            raise TypeError("count() takes a schema name or a KV prefix, not both")
        return self._count(self._schema(schema_name), "")

    # == record surface ============================================================================
    def _record_data(self, ns: str, record_key: object, record: object) -> tuple[str, bytes]:
        key = self._key(record_key, ns)
        try:
            fields = indexed_fields(type(record))
        except RecordError as exc:
            raise locate(exc, backend=self.backend_name, schema=ns, key=key) from None
        if fields:
            self._indexes_declared(ns, fields)
        return key, self._encode(record_state(record, backend=self.backend_name, schema=ns, key=key), ns, key)

    def insert_record(self, schema_name: str, record_key: str, record: Any, *, ttl: float | None = None) -> None:
        """Store a new record; ``RecordExistsError`` if one exists (atomic on stores with the ADD capability)."""
        ns = self._schema(schema_name)
        key, data = self._record_data(ns, record_key, record)
        ttl = None if ttl is None else self._check_ttl(ttl)
        if Capability.ADD in self.capabilities:
            stored = self._add(ns, key, data, ttl)
        elif self._get(ns, key) is None:
            self._set(ns, key, data, ttl)
            stored = True
        else:
            stored = False
        if not stored:
            raise RecordExistsError(
                "a record with this key exists already", backend=self.backend_name, schema=ns, key=key
            )
        if write_observers:
            notify_write(self, "insert", ns, (key,))
        bind_record(record, self, ns, key)

    def update_record(self, schema_name: str, record_key: str, record: Any, *, ttl: float | None = None) -> None:
        """Replace an existing record; ``RecordNotFoundError`` if there is none."""
        ns = self._schema(schema_name)
        key, data = self._record_data(ns, record_key, record)
        if not self._replace(ns, key, data, None if ttl is None else self._check_ttl(ttl)):
            raise RecordNotFoundError("no record with this key", backend=self.backend_name, schema=ns, key=key)
        if write_observers:
            notify_write(self, "update", ns, (key,))
        bind_record(record, self, ns, key)

    def upsert_record(self, schema_name: str, record_key: str, record: Any, *, ttl: float | None = None) -> None:
        """Insert or replace a record."""
        ns = self._schema(schema_name)
        key, data = self._record_data(ns, record_key, record)
        self._set(ns, key, data, None if ttl is None else self._check_ttl(ttl))
        if write_observers:
            notify_write(self, "set", ns, (key,))
        bind_record(record, self, ns, key)

    def delete_record(self, schema_name: str, record_key: str) -> bool:
        """Delete a record; an absent record is not an error. Returns whether it existed."""
        ns = self._schema(schema_name)
        key = self._key(record_key, ns)
        existed = self._delete(ns, key)
        if write_observers:
            notify_write(self, "delete", ns, (key,))
        return existed

    def _load_state(self, ns: str, key: str) -> dict[str, Any]:
        data = self._get(ns, key)
        if data is None:
            raise RecordNotFoundError("no record with this key", backend=self.backend_name, schema=ns, key=key)
        return self._record_state(self._decode(data, ns, key), ns, key)

    def _record_state(self, state: Any, ns: str, key: str) -> dict[str, Any]:
        """``state`` if it is a record (a dict); ``RecordError`` naming the key otherwise (a value written to
        the schema's key by other means, such as a raw copy)."""
        if not isinstance(state, dict):
            raise RecordError(
                f"stored value is {a_type_name(state)}, not a record", backend=self.backend_name, schema=ns, key=key
            )
        return state

    def get_record(self, schema_name: str, klass: type[T], record_key: str) -> T:
        """Load the record as a ``klass`` object; ``RecordNotFoundError`` if absent."""
        ns = self._schema(schema_name)
        key = self._key(record_key, ns)
        record = build_record(klass, self._load_state(ns, key), backend=self.backend_name, schema=ns, key=key)
        bind_record(record, self, ns, key)
        return record

    def reload_record(self, schema_name: str, record: Any, *, record_key: str | None = None) -> None:
        """Refresh ``record`` in place from the store. Its key: ``record_key`` if given, else the one
        ``record_key_of`` gives (the key it was loaded from or written to while its key field is unchanged,
        else its key field; ``RecordError`` if none is known)."""
        ns = self._schema(schema_name)
        try:
            key = self._key(record_key_of(record) if record_key is None else record_key, ns)
        except RecordError as exc:
            locate(exc, backend=self.backend_name, schema=ns)
            raise
        refresh_record(record, self._load_state(ns, key), backend=self.backend_name, schema=ns, key=key)
        bind_record(record, self, ns, key)

    def filter_record(self, schema_name: str, record_klass: type[T], **filter_kwargs: Any) -> list[T]:
        """Records matching every ``field`` / ``field__lookup`` term (lookups: see ``polykv.records.LOOKUPS``)."""
        ns = self._schema(schema_name)
        records = []
        try:
            conditions = compile_filter(record_klass, filter_kwargs, schema=ns)
            for key, state in self._filter(ns, conditions, indexed_fields(record_klass)):
                state = self._record_state(state, ns, key)
                record = build_record(record_klass, state, backend=self.backend_name, schema=ns, key=key)
                bind_record(record, self, ns, key)
                records.append(record)
        except (RecordError, InvalidArgumentError) as exc:  # FilterError included: the compiler knows no backend
            locate(exc, backend=self.backend_name, schema=ns)
            raise
        return records

    def iter_records(self, schema_name: str, record_klass: type[T]) -> Iterator[tuple[str, T]]:
        """Stream every ``(record_key, record)`` of a schema."""
        ns = self._schema(schema_name)
        for key, data in self._scan_items(ns, ""):
            state = self._record_state(self._decode(data, ns, key), ns, key)
            record = build_record(record_klass, state, backend=self.backend_name, schema=ns, key=key)
            bind_record(record, self, ns, key)
            yield key, record

    def record_keys(self, schema_name: str, prefix: str = "") -> Iterator[str]:
        """Stream the record keys of a schema that start with the literal ``prefix``."""
        return self._scan(self._schema(schema_name), validate_prefix(prefix, self.backend_name))

    def list_schemas(self) -> list[str]:
        """Names of the schemas that hold at least one record, sorted."""
        return sorted(self._schemas())

    def drop_schema(self, schema_name: str) -> None:
        """Delete every record of a schema (a schema with no records is not an error)."""
        ns = self._schema(schema_name)
        self._drop_schema(ns)
        if write_observers:
            notify_write(self, "drop_schema", ns, ())

    def save(self, record: Any, schema_name: str | None = None) -> None:
        """Upsert a record. Schema: ``schema_name``, else the one it was loaded from or written to, else its
        class's ``__schema_name__``. Key: its key field, else the key it was loaded from or written to."""
        schema = schema_name or record_schema_of(record)
        if schema is None:
            raise RecordError(
                f"{type(record).__name__} declares no __schema_name__; pass schema_name", backend=self.backend_name
            )
        try:
            key = record_key_of(record)
        except RecordError as exc:
            raise locate(exc, backend=self.backend_name, schema=schema) from None
        self.upsert_record(schema, key, record)

    # == leases: locks and stampede-safe caching (polykv.locks, polykv.caching) =========================
    def get_or_set(
        self,
        key: str,
        factory: Callable[[], Any],
        *,
        ttl: float | None = None,
        lease_ttl: float = caching.DEFAULT_LEASE_TTL,
        wait_timeout: float | None = None,
    ) -> Any:
        """The value under ``key``, or ``factory()``'s result stored with ``ttl``; one caller computes at a
        time across processes and machines, the others wait (``polykv.caching.get_or_set``)."""
        return caching.get_or_set(self, key, factory, ttl=ttl, lease_ttl=lease_ttl, wait_timeout=wait_timeout)

    def lock(self, name: str, *, ttl: float, blocking_timeout: float | None = None) -> Lock:
        """A distributed lock on the key ``name``, each lease lasting ``ttl`` seconds; ``with`` raises
        ``LockTimeoutError`` after ``blocking_timeout`` seconds (``polykv.locks.Lock``)."""
        return Lock(self, name, ttl=ttl, blocking_timeout=blocking_timeout)


class StoreKeysView(KeysView[str]):
    """``store.keys()``: set-like and re-iterable; iterating streams the keys, ``len()`` is the store's
    count, membership is ``key in store`` (never raises)."""

    __slots__ = ()
    _mapping: KeyValueStore

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping)


class StoreValuesView(ValuesView[Any]):
    """``store.values()``: re-iterable; each pass reads the values in batches."""

    __slots__ = ()
    _mapping: KeyValueStore

    def __iter__(self) -> Iterator[Any]:
        store = self._mapping
        decode = store._decode
        for key, data in store._scan_items(KV_NAMESPACE, ""):
            yield decode(data, KV_NAMESPACE, key)

    def __contains__(self, value: object) -> bool:
        return any(v is value or v == value for v in self)


class StoreItemsView(ItemsView[str, Any]):
    """``store.items()``: set-like and re-iterable; each pass reads the pairs in batches; membership of
    ``(key, value)`` is one lookup and never raises for a key that cannot be stored."""

    __slots__ = ()
    _mapping: KeyValueStore

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return self._mapping.fetch_by_prefix("")

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, tuple) or len(item) != 2:
            return False
        key, value = item
        found = self._mapping._lookup(key)
        return found is not MISSING and (found is value or found == value)
