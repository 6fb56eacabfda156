"""File names for keys: an injective, case-safe encoding that keeps prefixes, with a hashed form for long keys.

Every character other than ``a-z 0-9 -`` becomes ``_xx`` (lower-case hex of each UTF-8 byte), so an
encoded name holds only lower-case letters, digits, ``-`` and ``_``: no ``/``, ``\\``, NUL, ``%`` or ``.`` (never
``.``/``..`` nor a hidden or temporary name), and two keys differing only in case get names that differ in
more than case. The code works character by character, so ``key.startswith(prefix)`` exactly when
``encode(key).startswith(encode(prefix))``: prefix scans filter names without reading files.

An encoded name longer than ``MAX_PLAIN_NAME`` bytes is cut at a character boundary and ends with
``~`` + the SHA-256 of the key (``~`` never appears in a plain name); such a file starts with a header
holding the full key, because the name alone no longer gives it back.
"""

from __future__ import annotations

import hashlib
from urllib.parse import unquote_to_bytes

__all__ = [
    "HASH_MARK",
    "MAX_PLAIN_NAME",
    "TEMP_MARK",
    "decode_name",
    "encode_key",
    "file_name",
    "hashed_name",
    "is_hashed",
    "is_temporary",
    "may_match",
    "pack_long",
    "unpack_long",
]

#: Longest plain (unhashed) name in bytes; leaves room below the usual 255-byte limit.
MAX_PLAIN_NAME = 180
#: Separates the visible part of a hashed name from the key's hash.
HASH_MARK = "~"
#: Temporary files (writes in progress) start with this; no encoded name does.
TEMP_MARK = "."
_HEADER = b"polykv-key:"

#: ``_`` escapes rather than ``%``: WebHDFS (Hadoop 2.7) decodes ``%xx`` in names when it redirects a read.
ESCAPE = "_"
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_ASCII_TABLE = {c: (chr(c) if chr(c) in _SAFE else f"{ESCAPE}{c:02x}") for c in range(128)}


def _encode(text: str) -> str:
    if text.isascii():
        return text.translate(_ASCII_TABLE)
    return "".join(
        _ASCII_TABLE[ord(ch)] if ord(ch) < 128 else "".join(f"{ESCAPE}{b:02x}" for b in ch.encode("utf-8"))
        for ch in text
    )


def encode_key(key: str) -> str:
    """The plain encoded form of ``key`` (or of a prefix); may exceed ``MAX_PLAIN_NAME``."""
    return _encode(key)


def hashed_name(key: str, encoded: str) -> str:
    """The hashed file name of a key whose encoded form is too long."""
    visible = encoded[: MAX_PLAIN_NAME - 1 - 64]
    cut = visible.rfind(ESCAPE, len(visible) - 2)
    if cut != -1:  # never split an _xx escape
        visible = visible[:cut]
    return visible + HASH_MARK + hashlib.sha256(key.encode("utf-8")).hexdigest()


def file_name(key: str) -> str:
    """The one file name of ``key``."""
    encoded = _encode(key)
    return encoded if len(encoded) <= MAX_PLAIN_NAME else hashed_name(key, encoded)


def is_hashed(name: str) -> bool:
    """Whether ``name`` is the hashed form (the key must then be read from the file)."""
    return HASH_MARK in name


def is_temporary(name: str) -> bool:
    """Whether ``name`` is a write in progress (or anything else that is not a key)."""
    return name.startswith(TEMP_MARK) or not name


def decode_name(name: str) -> str:
    """The key of a plain (unhashed) file name."""
    if ESCAPE not in name:
        return name
    return unquote_to_bytes(name.replace(ESCAPE, "%")).decode("utf-8")


def may_match(name: str, encoded_prefix: str) -> bool:
    """Whether the file ``name`` can hold a key starting with the prefix whose encoding is ``encoded_prefix``.

    Exact for plain names; for hashed names only the visible part is known, so a name whose visible part is
    itself a prefix of ``encoded_prefix`` may match and its file must be read to decide.
    """
    if name.startswith(encoded_prefix):
        return True
    if HASH_MARK in name:
        return encoded_prefix.startswith(name[: name.index(HASH_MARK)])
    return False


def pack_long(key: str, data: bytes) -> bytes:
    """File content for a hashed name: a header line with the key's length and the key, then the value."""
    raw = key.encode("utf-8")
    return b"%s%d\n%s%s" % (_HEADER, len(raw), raw, data)


def unpack_long(content: bytes) -> tuple[str, bytes]:
    """The key and the value from the content of a hashed-name file."""
    if not content.startswith(_HEADER):
        raise ValueError("hashed-name file has no polykv-key header")
    newline = content.index(b"\n", len(_HEADER))
    size = int(content[len(_HEADER) : newline])
    start = newline + 1
    return content[start : start + size].decode("utf-8"), content[start + size :]
