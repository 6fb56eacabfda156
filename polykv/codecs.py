"""Value encodings: ``json`` (default), ``bytes`` (raw), ``msgpack`` (extra) and ``pickle`` (explicit opt-in only).

A codec turns a value into ``bytes`` and back. The same codec gives the same bytes on every backend, so a
value written through one backend reads back equal through any other. ``pickle`` executes code while
decoding: use it only with stores that nobody untrusted can write to.
"""

from __future__ import annotations

import json
import json.encoder
import json.scanner
from collections.abc import Callable
from itertools import accumulate, repeat
from typing import Any, Protocol, runtime_checkable

from .claims import Offers
from .errors import a_type_name
from .events import load_plugins
from .options import option_error, require_module

__all__ = [
    "HOOK_CODECS",
    "MAX_NESTING",
    "BytesCodec",
    "Codec",
    "JSONCodec",
    "MsgpackCodec",
    "PickleCodec",
    "get_codec",
    "register_codec",
]

#: Deepest nesting of lists/dicts the json and msgpack codecs store (msgpack's own packer stops at 511);
#: deeper values are refused (SerializationError) rather than failing later, on some reader's stack.
MAX_NESTING = 500

_MSGPACK_KEY_TYPES = (str, bytes, int, float, type(None))  # bool is an int


def _check_tree(value: Any, json_keys: bool) -> None:
    """Walk lists/tuples/dicts iteratively; raise TypeError for a dict key that would not read back
    equal (JSON: not a ``str``; msgpack: not str/bytes/int/float/bool/None) and ValueError past
    ``MAX_NESTING``."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    key_types: tuple[type, ...] = (str,) if json_keys else _MSGPACK_KEY_TYPES
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise ValueError(f"nested deeper than {MAX_NESTING} levels (polykv.codecs.MAX_NESTING)")
        if isinstance(node, dict):
            for k, v in node.items():
                if not isinstance(k, key_types):
                    raise TypeError(
                        f"dict key {k!r} ({type(k).__name__}) would not read back equal"
                        + (": JSON object keys must be str" if json_keys else "")
                    )
                if isinstance(v, (dict, list, tuple)):
                    stack.append((v, depth + 1))
        elif isinstance(node, (list, tuple)):
            stack.extend((v, depth + 1) for v in node if isinstance(v, (dict, list, tuple)))


@runtime_checkable
class Codec(Protocol):
    """Turns values into bytes and back.

    What a codec (a custom one too) must guarantee: ``decode(encode(v)) == v`` for every value ``encode``
    accepts, up to the normalisations it documents (tuple -> list, subclasses of str/int/float/list/dict
    -> the base type); ``encode`` raises (TypeError/ValueError preferred) for anything else, before the
    store writes. The store turns any exception from ``encode`` into ``SerializationError`` naming the key.
    """

    name: str

    def encode(self, value: Any) -> bytes: ...

    def decode(self, data: bytes) -> Any: ...

    # Optional: ``decode_many(datas: list[bytes]) -> list[Any]``, the decoded values in order, equal to
    # ``[decode(d) for d in datas]`` (raising where one of those would); ``get_many`` uses it when present.


class JSONCodec:
    """UTF-8 JSON. Tuples read back as lists and subclasses of str/int/float/list/dict (enums included) as
    the base type. Refused: dict keys that are not ``str`` at any depth (JSON would turn them into
    strings), NaN/Infinity, bytes, lone surrogates, nesting deeper than ``MAX_NESTING``."""

    name = "json"

    def __init__(self) -> None:
        self._encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        # JSONEncoder.encode builds a C encoder on every call; build it once (same arguments as encode passes
        # for these settings, with no circular-reference table: a cycle ends in RecursionError, refused too)
        make = getattr(json.encoder, "c_make_encoder", None)  # None without the C accelerator (PyPy)
        self._iterencode: Callable[[Any, int], Any] | None = (
            None
            if make is None
            else make(None, self._encoder.default, json.encoder.encode_basestring, None, ":", ",", False, False, False)
        )
        decoder = json.JSONDecoder()
        self._decode = decoder.decode
        # the C scanner that ``decode`` wraps in checks (typeshed types its argument too narrowly)
        self._scan: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(decoder)  # type: ignore[arg-type]

    def encode(self, value: Any) -> bytes:
        if type(value) is str:
            text = json.encoder.encode_basestring(value)
        elif self._iterencode is not None:
            text = "".join(self._iterencode(value, 0))
        else:
            text = self._encoder.encode(value)
        # A nested object shows as a second "{" in the text (a "{" inside a string only costs a walk):
        # flat values and one flat dict are checked without walking.
        if type(value) is dict:
            if text.count("{") > 1 or not set(map(type, value)) <= _STR_ONLY:
                _check_tree(value, True)
        elif "{" in text:
            _check_tree(value, True)
        if len(text) > MAX_NESTING and text.count("[") + text.count("{") > MAX_NESTING:
            _check_tree(value, True)
        return text.encode("utf-8")

    def decode(self, data: bytes) -> Any:
        text = data.decode("utf-8") if not isinstance(data, str) else data
        try:  # what polykv wrote is one value with no surrounding whitespace: scan it directly
            value, end = self._scan(text, 0)
        except StopIteration:
            end = -1
        if end == len(text):
            return value
        return self._decode(text)  # whitespace, extra data or no value: the full decoder decides (and raises)

    def decode_many(self, datas: list[bytes]) -> list[Any]:
        """``[decode(d) for d in datas]``, in C-level passes when the values are ASCII (the common case): the
        values are joined into one text and the JSON scanner reads each from its own offset; a value counts
        only if the scanner ends exactly where that value's bytes end (so it read nothing of its neighbour:
        the same result as decoding it alone). Anything else (non-ASCII text, whitespace, a value that is
        not JSON) falls back to ``decode`` one value at a time, which raises for a bad one."""
        if len(datas) < 2 or not all(map(bytes.__instancecheck__, datas)):
            return [self.decode(data) for data in datas]
        joined = b"".join(datas)
        if not joined.isascii():
            return [self.decode(data) for data in datas]
        text = joined.decode("ascii")
        ends = list(accumulate(map(len, datas)))
        try:
            values, found = zip(*map(self._scan, repeat(text, len(datas)), [0, *ends[:-1]]), strict=True)
        except (StopIteration, ValueError):
            return [self.decode(data) for data in datas]
        if list(found) != ends:
            return [self.decode(data) for data in datas]
        return list(values)


class BytesCodec:
    """Raw bytes in, bytes out; anything else (``str`` included) is refused rather than guessed at."""

    name = "bytes"

    def encode(self, value: Any) -> bytes:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        raise TypeError(f"the bytes codec stores bytes only, not {type(value).__name__}; use codec='json'")

    def decode(self, data: bytes) -> Any:
        if type(data) is bytes:  # what every store returns: no copy, no further check
            return data
        if isinstance(data, (bytes, bytearray, memoryview)):
            return bytes(data)
        # a value another program stored as TEXT or INTEGER (bytes(42) would be 42 zero bytes)
        raise TypeError(f"the stored value is not bytes but {type(data).__name__}")


class MsgpackCodec:
    """MessagePack via the ``msgpack`` package (``pip install 'polykv-core[msgpack]'``).

    Tuples read back as lists, bytearray/memoryview as bytes, subclasses as the base type; NaN is stored
    bit-exactly (it reads back as NaN, which compares unequal to itself). Refused: dict keys other than
    str/bytes/int/float/bool/None at any depth (a tuple key would unpack to an unhashable list), ints
    beyond 64 bits, lone surrogates, nesting deeper than ``MAX_NESTING``."""

    name = "msgpack"

    def __init__(self) -> None:
        msgpack = require_module("msgpack", "polykv-core[msgpack]", "the msgpack codec")
        self._packb: Callable[..., bytes] = msgpack.packb
        self._unpackb: Callable[..., Any] = msgpack.unpackb

    def encode(self, value: Any) -> bytes:
        data = self._packb(value, use_bin_type=True)
        if isinstance(value, (dict, list, tuple)):
            _check_tree(value, False)
        return data

    def decode(self, data: bytes) -> Any:
        return self._unpackb(data, raw=False, strict_map_key=False)


class PickleCodec:
    """Python pickle. Unsafe: decoding runs code chosen by whoever wrote the value. Never a default.

    Reads back an equal value for types with value equality; an object compared by identity comes back
    as a copy (unequal). Values too deep for the interpreter's stack are refused."""

    name = "pickle"

    def encode(self, value: Any) -> bytes:
        import pickle

        try:
            return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, AttributeError) as exc:
            raise TypeError(str(exc)) from exc

    def decode(self, data: bytes) -> Any:
        import pickle

        return pickle.loads(data)  # noqa: S301 - explicit opt-in, documented as unsafe


_STR_ONLY = {str}

_CODEC_FACTORIES: dict[str, Callable[[], Codec]] = {
    "json": JSONCodec,
    "bytes": BytesCodec,
    "msgpack": MsgpackCodec,
    "pickle": PickleCodec,
}


#: Codec factories that hook plugins offer (``polykv_codecs``), pushed by ``polykv.hooks`` whenever the
#: registered hook plugins change; asked only for names not in the table above.
HOOK_CODECS: Offers[Callable[[], Codec]] = Offers(
    "codec", "register the one you want with polykv.register_codec(name, factory)"
)


def register_codec(name: str, factory: Callable[[], Codec]) -> None:
    """Make ``codec=name`` available to every store (an explicit, in-process choice: it is asked before any
    hook plugin's ``polykv_codecs``). A name already registered with another factory is a conflict under
    the one plugin conflict rule (``polykv.claims.resolve_claims``): ``PluginConflictError`` (a
    ``ValueError``) naming both; registering the same factory again does nothing."""
    if name in _CODEC_FACTORIES and _CODEC_FACTORIES[name] is not factory:
        from .errors import PluginConflictError

        raise PluginConflictError(
            f"codec {name!r} is already registered: claimed by {_describe(_CODEC_FACTORIES[name])} and "
            f"{_describe(factory)}. Register yours under another name"
        )
    _CODEC_FACTORIES[name] = factory


def _describe(obj: object) -> str:
    return f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', repr(obj))}"


def get_codec(codec: str | Codec, *, backend: str | None = None) -> Codec:
    """Return a codec instance for a name (``json``, ``bytes``, ``msgpack``, ``pickle``, one given to
    ``register_codec``, or one a hook plugin offers) or pass a ``Codec`` through. ``InvalidArgumentError``
    naming ``backend`` for an unknown name or another kind of object (``InvalidURLError`` when the name came
    from a URL query); ``PluginConflictError`` when two hook plugins offer different codecs under it."""
    if not isinstance(codec, str):
        if isinstance(codec, Codec):
            return codec
        raise option_error(["codec"], f"codec must be a codec name or a Codec, not {a_type_name(codec)}", backend)
    factory = _CODEC_FACTORIES.get(codec) or HOOK_CODECS.resolve(codec)
    if factory is None and load_plugins():  # hook plugins declared by entry points not loaded yet: load them
        factory = HOOK_CODECS.resolve(codec)
    if factory is None:
        raise option_error(["codec"], f"unknown codec {codec!r}; known: {', '.join(sorted(_CODEC_FACTORIES))}", backend)
    return factory()
