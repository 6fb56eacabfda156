"""``CompressedStore``: values at least ``min_size`` bytes long are stored compressed (zlib or zstd).

The frame rule (``CompressedCodec``): a stored value is either the wrapped codec's bytes as they are, or
``MAGIC`` (4 bytes, ``b"\\xc1pkz"``) + one algorithm byte + the payload. Algorithm 0 is "stored": the
payload is the plain bytes, written when plain bytes would themselves start with ``MAGIC`` (only a codec
such as ``bytes`` can produce them); 1 is zlib, 2 is zstd. ``\\xc1`` can start neither UTF-8 text (JSON)
nor a MessagePack value nor a pickle, so values of those codecs written before compression was turned on
read back unchanged. The one value that cannot be told apart is a legacy ``bytes``-codec value that starts
with ``MAGIC``: it is refused with ``SerializationError`` (zlib's Adler-32 and zstd's frame checksum make a
false positive practically impossible), never returned altered.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable
from typing import Any

from ..codecs import Codec
from ..errors import InvalidArgumentError
from ..options import require_module
from ..store import KeyValueStore
from .coded import CodecWrapperStore

__all__ = ["ALGORITHMS", "MAGIC", "MAX_DECOMPRESSED", "CompressedCodec", "CompressedStore"]

#: The first bytes of every framed (compressed or escaped) value.
MAGIC = b"\xc1pkz"

_STORED, _ZLIB, _ZSTD = 0, 1, 2

#: Algorithm names ``CompressedStore`` accepts, and their frame byte.
ALGORITHMS = {"zlib": _ZLIB, "zstd": _ZSTD}

#: Values shorter than this many encoded bytes are stored as they are by default.
DEFAULT_MIN_SIZE = 256

_HEADER = len(MAGIC) + 1

#: The most bytes one value may decompress to (1 GiB): a larger frame is refused rather than inflated, so a
#: tiny hostile frame written to a shared store cannot exhaust the reader's memory.
MAX_DECOMPRESSED = 1 << 30


class _Zstd:
    """zstandard compressor and decompressor objects, one pair per thread (they are not thread-safe)."""

    def __init__(self, level: int | None) -> None:
        self._module = require_module("zstandard", "polykv-core[zstd]", "zstd compression")
        self._level = 3 if level is None else level
        self._local = threading.local()

    def compress(self, data: bytes) -> bytes:
        compressor = getattr(self._local, "compressor", None)
        if compressor is None:
            compressor = self._local.compressor = self._module.ZstdCompressor(level=self._level, write_checksum=True)
        result: bytes = compressor.compress(data)
        return result

    def decompress(self, data: bytes) -> bytes:
        decompressor = getattr(self._local, "decompressor", None)
        if decompressor is None:
            decompressor = self._local.decompressor = self._module.ZstdDecompressor()
        try:
            size = self._module.frame_content_size(data)
            if size > MAX_DECOMPRESSED:
                raise ValueError(f"the zstd frame would decompress to {size} bytes, more than {MAX_DECOMPRESSED}")
            result: bytes = decompressor.decompress(data, max_output_size=MAX_DECOMPRESSED)
        except self._module.ZstdError as exc:
            raise ValueError(f"not a valid zstd frame ({exc})") from None
        return result


#: Accepted compression levels per algorithm, inclusive (zlib's -1 is its default; zstd's negative
#: levels are its fast modes).
LEVELS: dict[str, tuple[int, int]] = {"zlib": (-1, 9), "zstd": (-131072, 22)}


class CompressedCodec:
    """A codec over ``inner`` that compresses its bytes when they are at least ``min_size`` long and the
    compressed frame is shorter; decodes framed and plain values alike (see the module docs for the rule).

    ``algorithm`` is ``"zlib"`` (standard library) or ``"zstd"`` (``pip install 'polykv-core[zstd]'``); it picks
    how new values are written, while reads understand both (a zstd value needs zstandard installed).
    ``level`` is the algorithm's compression level (zlib 0-9, default 6; zstd 1-22, default 3).
    """

    def __init__(
        self, inner: Codec, *, algorithm: str = "zlib", min_size: int = DEFAULT_MIN_SIZE, level: int | None = None
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise InvalidArgumentError(
                f"compression algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}"
            )
        if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 0:
            raise InvalidArgumentError(f"min_size must be an int >= 0 (bytes), got {min_size!r}")
        if level is not None and (isinstance(level, bool) or not isinstance(level, int)):
            raise InvalidArgumentError(f"level must be an int or None, got {level!r}")
        bounds = LEVELS[algorithm]
        if level is not None and not bounds[0] <= level <= bounds[1]:
            raise InvalidArgumentError(
                f"{algorithm} compression level must be within {bounds[0]}..{bounds[1]}, got {level!r}"
            )
        self.inner = inner
        self.algorithm = algorithm
        self.min_size = min_size
        self.level = level
        self.name = f"{algorithm}+{inner.name}"
        self._zstd: _Zstd | None = _Zstd(level) if algorithm == "zstd" else None
        self._compress: Callable[[bytes], bytes] = (
            self._zstd.compress if self._zstd is not None else self._zlib_compress
        )
        self._frame = MAGIC + bytes([ALGORITHMS[algorithm]])

    def __repr__(self) -> str:
        return f"<CompressedCodec {self.algorithm} min_size={self.min_size} over {self.inner.name!r}>"

    def _zlib_compress(self, data: bytes) -> bytes:
        return zlib.compress(data, -1 if self.level is None else self.level)

    def encode(self, value: Any) -> bytes:
        raw = self.inner.encode(value)
        if len(raw) >= self.min_size:
            packed = self._compress(raw)
            if len(packed) + _HEADER < len(raw):
                return self._frame + packed
        if raw[:4] == MAGIC:  # plain bytes that would read as a frame: escape them
            return MAGIC + bytes([_STORED]) + raw
        return raw

    def decode(self, data: bytes) -> Any:
        if data[:4] != MAGIC:
            return self.inner.decode(data)
        return self.inner.decode(self.unframe(bytes(data)))

    def unframe(self, data: bytes) -> bytes:
        """The plain bytes of a framed value; ``ValueError`` for a frame that does not decompress."""
        if len(data) < _HEADER:
            raise ValueError("a compressed value's header is cut short")
        kind, payload = data[4], data[_HEADER:]
        if kind == _STORED:
            return payload
        if kind == _ZLIB:
            inflater = zlib.decompressobj()
            try:
                plain = inflater.decompress(payload, MAX_DECOMPRESSED)
            except zlib.error as exc:
                raise ValueError(f"not a valid zlib frame ({exc})") from None
            if inflater.unconsumed_tail:
                raise ValueError(f"the zlib frame decompresses to more than {MAX_DECOMPRESSED} bytes")
            if not inflater.eof or inflater.unused_data:
                raise ValueError("not a valid zlib frame (cut short, or followed by other bytes)")
            return plain
        if kind == _ZSTD:
            if self._zstd is None:
                self._zstd = _Zstd(self.level)
            return self._zstd.decompress(payload)
        raise ValueError(f"unknown compression frame type {kind} (written by a newer polykv?)")


class CompressedStore(CodecWrapperStore):
    """Values of at least ``min_size`` encoded bytes are stored compressed with ``algorithm`` (``"zlib"``,
    or ``"zstd"`` with ``pip install 'polykv-core[zstd]'``); smaller ones, and ones compression would not
    shrink, are stored as they are.

    Reads tell compressed from plain values (``CompressedCodec``'s frame rule), so turning compression on
    for a store that already holds values loses nothing, and changing ``algorithm`` later neither. Works at
    the codec level (``polykv.wrappers.coded``): the compressing codec is installed on ``store``, so
    ``compare_and_set``, ``add``, ``incr`` and records keep their atomicity; ``incr`` decodes, adds and
    re-encodes through the codec (small integers stay below ``min_size``, so they are stored plain).
    Raises ``InvalidArgumentError`` for an unknown algorithm or a bad ``min_size`` or ``level``, and
    ``MissingDependencyError`` for zstd without zstandard.
    """

    wrapper_name = "compressed"
    layer_class = CompressedCodec

    def __init__(
        self,
        store: KeyValueStore,
        *,
        algorithm: str = "zlib",
        min_size: int = DEFAULT_MIN_SIZE,
        level: int | None = None,
        owns: bool = False,
    ) -> None:
        super().__init__(store, owns=owns)
        self._install(CompressedCodec(self.inner.codec, algorithm=algorithm, min_size=min_size, level=level))

    @property
    def algorithm(self) -> str:
        """The algorithm new values are compressed with."""
        return self._layer().algorithm

    @property
    def min_size(self) -> int:
        """Encoded values shorter than this many bytes are stored as they are."""
        return self._layer().min_size

    def _layer(self) -> CompressedCodec:
        codec = self.inner.codec
        if not isinstance(codec, CompressedCodec):
            raise InvalidArgumentError(
                f"the store's codec was replaced ({codec.name!r}): it no longer compresses",
                backend=self.backend_name,
            )
        return codec

    def __repr__(self) -> str:
        codec = self.inner.codec
        what = f"{codec.algorithm} min_size={codec.min_size}" if isinstance(codec, CompressedCodec) else "off"
        return f"<CompressedStore {what} of {self.inner!r}>"
