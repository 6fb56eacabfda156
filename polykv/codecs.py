"""Value encodings: ``json`` (default), ``bytes`` (raw), ``msgpack`` (extra) and ``pickle`` (explicit opt-in only).

A codec turns a value into ``bytes`` and back. The same codec gives the same bytes on every backend, so a
value written through one backend reads back equal through any other. ``pickle`` executes code while
decoding: use it only with stores that nobody untrusted can write to.
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from .errors import SerializationError

__all__ = ["BytesCodec", "Codec", "JSONCodec", "MsgpackCodec", "PickleCodec", "get_codec", "register_codec"]


@runtime_checkable
class Codec(Protocol):
    """Turns values into bytes and back; ``encode`` raises TypeError/ValueError for what it cannot hold."""

    name: str

    def encode(self, value: Any) -> bytes: ...

    def decode(self, data: bytes) -> Any: ...


class JSONCodec:
    """UTF-8 JSON (no NaN/Infinity); tuples read back as lists, dict keys must be ``str``."""

    name = "json"

    def __init__(self) -> None:
        self._encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        decoder = json.JSONDecoder()
        self._decode = decoder.decode
        # the C scanner that ``decode`` wraps in checks (typeshed types its argument too narrowly)
        self._scan: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(decoder)  # type: ignore[arg-type]

    def encode(self, value: Any) -> bytes:
        if isinstance(value, dict) and any(not isinstance(k, str) for k in value):
            raise TypeError("JSON object keys must be str")
        return self._encoder.encode(value).encode("utf-8")

    def decode(self, data: bytes) -> Any:
        text = data.decode("utf-8") if not isinstance(data, str) else data
        try:  # what polykv wrote is one value with no surrounding whitespace: scan it directly
            value, end = self._scan(text, 0)
        except StopIteration:
            end = -1
        if end == len(text):
            return value
        return self._decode(text)  # whitespace, extra data or no value: the full decoder decides (and raises)


class BytesCodec:
    """Raw bytes in, bytes out; anything else (``str`` included) is refused rather than guessed at."""

    name = "bytes"

    def encode(self, value: Any) -> bytes:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        raise TypeError(f"the bytes codec stores bytes only, not {type(value).__name__}; use codec='json'")

    def decode(self, data: bytes) -> Any:
        return bytes(data)


class MsgpackCodec:
    """MessagePack via the ``msgpack`` package (``pip install 'polykv[msgpack]'``); tuples read back as lists."""

    name = "msgpack"

    def __init__(self) -> None:
        try:
            import msgpack
        except ImportError as exc:
            raise SerializationError(
                "the msgpack codec needs the msgpack package: pip install 'polykv[msgpack]'"
            ) from exc
        self._packb: Callable[..., bytes] = msgpack.packb
        self._unpackb: Callable[..., Any] = msgpack.unpackb

    def encode(self, value: Any) -> bytes:
        return self._packb(value, use_bin_type=True)

    def decode(self, data: bytes) -> Any:
        return self._unpackb(data, raw=False, strict_map_key=False)


class PickleCodec:
    """Python pickle. Unsafe: decoding runs code chosen by whoever wrote the value. Never a default."""

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


_CODEC_FACTORIES: dict[str, Callable[[], Codec]] = {
    "json": JSONCodec,
    "bytes": BytesCodec,
    "msgpack": MsgpackCodec,
    "pickle": PickleCodec,
}


def register_codec(name: str, factory: Callable[[], Codec]) -> None:
    """Make ``codec=name`` available to every store (an explicit, in-process choice: it is asked before any
    hook plugin's ``polykv_codecs``). A name already registered with another factory is a conflict under
    the one plugin conflict rule (``polykv.registry.resolve_claims``): ``PluginConflictError`` (a
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


def get_codec(codec: str | Codec) -> Codec:
    """Return a codec instance for a name (``json``, ``bytes``, ``msgpack``, ``pickle``) or pass one through."""
    if not isinstance(codec, str):
        if isinstance(codec, Codec):
            return codec
        raise TypeError(f"codec must be a name or a Codec, got {type(codec).__name__}")
    factory = _CODEC_FACTORIES.get(codec)
    if factory is None:  # a hook plugin may offer it (polykv_codecs); loads pluggy only for unknown names
        from .hooks import find_codec

        factory = find_codec(codec)
    if factory is None:
        raise SerializationError(f"unknown codec {codec!r}; known: {', '.join(sorted(_CODEC_FACTORIES))}")
    return factory()
