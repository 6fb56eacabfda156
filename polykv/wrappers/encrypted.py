"""``EncryptedStore``: authenticated encryption of every stored value with Fernet keys (``cryptography``).

Works at the codec level (``polykv.wrappers.coded``): ``EncryptedCodec`` encrypts the bytes of the store's
codec with ``MultiFernet`` (AES-128-CBC + HMAC-SHA256): new values under the first key, reads under any.
A value that does not decrypt (another key, tampered with, never encrypted) raises ``SerializationError``
naming backend, schema and key; nothing undecryptable is ever returned. Key material appears in no repr,
error or log message, and the codec refuses to be pickled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from ..capabilities import Capability
from ..codecs import Codec
from ..errors import InvalidArgumentError, a_type_name
from ..options import require_module
from ..store import KV_NAMESPACE, KeyValueStore
from .base import close_iterator
from .coded import CodecWrapperStore

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

__all__ = ["DecryptionFailed", "EncryptedCodec", "EncryptedStore", "Keys", "generate_key"]

#: One Fernet key (32 url-safe base64-encoded bytes, as ``str`` or ``bytes``) or several, newest first.
Keys = str | bytes | Sequence[str | bytes]


class DecryptionFailed(ValueError):
    """A stored value does not decrypt under any key given (the store reports it as ``SerializationError``)."""


def _fernet_module() -> Any:
    return require_module("cryptography.fernet", "polykv-core[encryption]", "EncryptedStore")


def generate_key() -> str:
    """A new random Fernet key (44 url-safe base64 characters); keep it secret, out of URLs and logs."""
    key: bytes = _fernet_module().Fernet.generate_key()
    return key.decode("ascii")


def _multi_fernet(keys: Keys) -> tuple[MultiFernet, int]:
    fernet = _fernet_module()
    given = [keys] if isinstance(keys, (str, bytes)) else list(keys)
    if not given:
        raise InvalidArgumentError("EncryptedStore needs at least one key (see polykv.wrappers.generate_key)")
    instances = []
    for position, key in enumerate(given):
        if not isinstance(key, (str, bytes)):
            raise InvalidArgumentError(f"key #{position} is {a_type_name(key)}, not a str or bytes Fernet key")
        try:
            instances.append(fernet.Fernet(key))
        except (ValueError, TypeError):
            # the cause is dropped: nothing about the key's value may reach a traceback
            raise InvalidArgumentError(
                f"key #{position} is not a Fernet key (32 url-safe base64-encoded bytes; "
                "see polykv.wrappers.generate_key)"
            ) from None
    return fernet.MultiFernet(instances), len(instances)


class EncryptedCodec:
    """A codec over ``inner`` whose stored bytes are Fernet tokens of ``inner``'s bytes.

    ``decode`` raises ``DecryptionFailed`` for bytes that no key given authenticates. The repr shows how
    many keys there are, never the keys; pickling is refused (it would write the keys out).
    """

    def __init__(self, inner: Codec, keys: Keys) -> None:
        self.inner = inner
        self.name = f"fernet+{inner.name}"
        self._fernet, self.key_count = _multi_fernet(keys)
        self._invalid: type[Exception] = _fernet_module().InvalidToken

    def __repr__(self) -> str:
        return f"<EncryptedCodec fernet keys={self.key_count} over {self.inner.name!r}>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("an EncryptedCodec holds key material and cannot be pickled")

    def encode(self, value: Any) -> bytes:
        token: bytes = self._fernet.encrypt(self.inner.encode(value))
        return token

    def decode(self, data: bytes) -> Any:
        return self.inner.decode(self.decrypt(bytes(data)))

    def decrypt(self, data: bytes) -> bytes:
        """The plain bytes of a stored token; ``DecryptionFailed`` if no key given authenticates it."""
        try:
            plain: bytes = self._fernet.decrypt(data)
        except self._invalid:
            raise DecryptionFailed(
                f"the value does not decrypt under any of the {self.key_count} key(s) given: it was written "
                "under another key, altered, or never encrypted"
            ) from None
        return plain

    def rotate(self, data: bytes) -> bytes:
        """The token re-encrypted under the first key (``DecryptionFailed`` if no key authenticates it)."""
        try:
            token: bytes = self._fernet.rotate(bytes(data))
        except self._invalid:
            raise DecryptionFailed(
                f"the value does not decrypt under any of the {self.key_count} key(s) given"
            ) from None
        return token


class EncryptedStore(CodecWrapperStore):
    """Every value (KV values and records) is stored encrypted and authenticated with Fernet.

    ``keys``: one Fernet key or several, newest first (``pip install 'polykv-core[encryption]'``; make one with
    ``polykv.wrappers.generate_key()``). New values are written under the first key; values written under
    any of them are read (``MultiFernet``), so rotating is: put the new key first, keep the old ones until
    ``rotate()`` has re-encrypted what they wrote, then drop them. A value that decrypts under none raises
    ``SerializationError`` naming the key, whatever the operation (get, get_many, records, CAS, incr).

    Keys never come from a URL and never appear in a repr, error or log. ``incr`` works on stores with
    INCR: the backend's atomic increment decrypts, adds and re-encrypts under its own lock or CAS loop.
    Keys are *not* encrypted (listing and prefix scans still work on them); a TTL is visible to whoever
    reads the backend, and so are value sizes. Raises ``InvalidArgumentError`` for a key that is not a
    Fernet key (naming its position only), ``MissingDependencyError`` without cryptography.
    """

    wrapper_name = "encrypted"
    layer_class = EncryptedCodec

    def __init__(self, store: KeyValueStore, keys: Keys, *, owns: bool = False) -> None:
        super().__init__(store, owns=owns)
        layer = EncryptedCodec(self.inner.codec, keys)
        self.key_count = layer.key_count
        self._install(layer)

    def __repr__(self) -> str:
        return f"<EncryptedStore keys={self.key_count} of {self.inner!r}>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("an EncryptedStore holds key material and cannot be pickled")

    def _layer(self) -> EncryptedCodec:
        codec = self.inner.codec
        while not isinstance(codec, EncryptedCodec):
            codec = getattr(codec, "inner", None)  # type: ignore[assignment]
            if codec is None:
                raise InvalidArgumentError(
                    "the store's codec was replaced: it no longer encrypts", backend=self.backend_name
                )
        return codec

    def rotate(self, schema_name: str | None = None) -> int:
        """Re-encrypt every KV value (or every record of ``schema_name``) under the first key.

        Each value is swapped with ``compare_and_set`` against its own decrypted value, so a concurrent
        write is never overwritten. Returns how many values were re-encrypted. ``NotSupportedError`` naming
        ``compare_and_set`` on a store without it; ``SerializationError`` for a value no key
        decrypts (values before it are re-encrypted already; run it again after fixing the keys).
        """
        if Capability.COMPARE_AND_SET not in self.capabilities:
            raise self._unsupported(Capability.COMPARE_AND_SET, "rotate() (it needs compare_and_set)")
        ns = KV_NAMESPACE if schema_name is None else self._schema(schema_name)
        layer = self._layer()
        rotated = 0
        items = self.inner._scan_items(ns, "")
        try:
            for key, data in items:
                current = self._decode(data, ns, key)  # SerializationError naming the key if no key fits
                fresh = layer.rotate(data)
                if self.inner._compare_and_set(ns, key, current, fresh):
                    rotated += 1
        finally:
            close_iterator(items)
        return rotated
