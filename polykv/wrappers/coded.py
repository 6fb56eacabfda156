"""``CodecWrapperStore``: the base of the wrappers that transform stored bytes (compression, encryption).

Such a wrapper works at the codec level: it installs a codec on the wrapped store that encodes a value with
the store's own codec and then transforms those bytes (compresses, encrypts), and undoes both on decode.
Because the wrapped store itself then encodes and decodes through that codec, every path that reads stored
bytes sees the same values: ``get_many``, ``fetch_by_prefix``, records, and the primitives that decode
inside the backend (``compare_and_set``, ``incr``, ``filter_record``, Redis's index bookkeeping) keep
working, atomically where the backend is atomic. The wrapper is then a named handle on that store.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from ..capabilities import Capability
from ..codecs import Codec
from ..errors import InvalidArgumentError
from ..store import KV_NAMESPACE, MISSING, KeyValueStore
from .base import DELEGABLE, StoreWrapper

__all__ = ["CodecWrapperStore", "LayeredCodec", "innermost_codec"]


class LayeredCodec(Protocol):
    """A codec over another one: ``inner`` is the codec whose bytes it transforms."""

    name: str
    inner: Codec

    def encode(self, value: Any) -> bytes: ...

    def decode(self, data: bytes) -> Any: ...


def innermost_codec(codec: Codec) -> Codec:
    """The value codec under any layers of transforming codecs (``json`` under ``fernet+zlib+json``)."""
    while isinstance(getattr(codec, "inner", None), Codec):
        codec = codec.inner  # type: ignore[attr-defined]
    return codec


def _layers(codec: Codec) -> list[Codec]:
    found = [codec]
    while isinstance(getattr(codec, "inner", None), Codec):
        codec = codec.inner  # type: ignore[attr-defined]
        found.append(codec)
    return found


class CodecWrapperStore(StoreWrapper):
    """A wrapper that installs ``layer(store.codec)`` as the wrapped store's codec (see the module docs).

    Installing is a change to the wrapped store: from then on it reads and writes through the layer, and
    closing the wrapper leaves it so (its values are stored transformed). A store that already carries a
    layer of the same kind is refused (``InvalidArgumentError``) rather than transformed twice. Capabilities
    are the wrapped store's except INDEX: a backend index reads stored bytes, which are now transformed.
    Assigning ``wrapper.codec`` replaces the whole chain (as on every wrapper); wrap again to add the layer.
    """

    #: The codec class this wrapper installs (one layer of it per store).
    layer_class: ClassVar[type[Any]]

    def __init__(self, inner: KeyValueStore, *, owns: bool = False) -> None:
        super().__init__(inner, owns=owns)
        if any(isinstance(layer, self.layer_class) for layer in _layers(self.inner.codec)):
            raise InvalidArgumentError(
                f"{type(self).__name__}: the store's codec {self.inner.codec.name!r} already has a "
                f"{self.layer_class.__name__} layer; wrap the store once",
                backend=self.inner.backend_name,
            )

    def _install(self, layer: Codec) -> None:
        """Make ``layer`` the wrapped store's codec (subclasses call it at the end of ``__init__``)."""
        self.inner.codec = layer

    def pop(self, key: str, default: Any = MISSING) -> Any:
        """``KeyValueStore.pop``, but a value that does not decode (another key, corrupt) raises
        ``SerializationError`` *before* anything is deleted."""
        checked = self._key(key)
        data = self._get(KV_NAMESPACE, checked)
        if data is not None:
            self._decode(data, KV_NAMESPACE, checked)
        return super().pop(key, default)

    def _honoured(self, wrapped: frozenset[Capability]) -> frozenset[Capability]:
        return wrapped & DELEGABLE - {Capability.INDEX}
