"""Validation of keys and schema names, done before anything is written."""

from __future__ import annotations

import re

from .errors import InvalidKeyError

__all__ = [
    "MAX_KEY_LENGTH",
    "SCHEMA_NAME_PATTERN",
    "encodable",
    "prefix_successor",
    "validate_key",
    "validate_prefix",
    "validate_schema_name",
]

#: Longest key accepted by every store, in characters (UTF-8 encodable, not empty).
MAX_KEY_LENGTH = 1024

#: Schema names are short identifiers so that every backend can use them as a folder or key part.
SCHEMA_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")


def validate_key(key: object, backend: str | None = None, schema: str | None = None) -> str:
    """Return ``key`` if it is a non-empty, UTF-8 encodable ``str`` of at most MAX_KEY_LENGTH characters."""
    if type(key) is not str:
        if not isinstance(key, str):
            raise InvalidKeyError(f"keys must be str, got {type(key).__name__} {key!r}", backend=backend, schema=schema)
        key = str(key)
    if not key:
        raise InvalidKeyError("keys must not be empty", backend=backend, schema=schema)
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKeyError(
            f"key is {len(key)} characters long; the maximum is {MAX_KEY_LENGTH}",
            backend=backend,
            schema=schema,
            key=key[:40] + "...",
        )
    if not key.isascii():
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidKeyError(
                "key contains characters that cannot be encoded as UTF-8 (lone surrogates)",
                backend=backend,
                schema=schema,
                key=repr(key),
            ) from None
    return key


def validate_prefix(prefix: object, backend: str | None = None, schema: str | None = None) -> str:
    """Return ``prefix`` if it is a ``str`` (empty means everything); prefixes match literally."""
    if not isinstance(prefix, str):
        raise InvalidKeyError(
            f"prefixes must be str, got {type(prefix).__name__} {prefix!r}", backend=backend, schema=schema
        )
    return prefix


def validate_schema_name(schema: object, backend: str | None = None) -> str:
    """Return ``schema`` if it matches SCHEMA_NAME_PATTERN (letters, digits, ``_ . -``; 128 at most)."""
    if not isinstance(schema, str) or SCHEMA_NAME_PATTERN.fullmatch(schema) is None:
        raise InvalidKeyError(
            f"schema names must be 1-128 characters of letters, digits, '_', '.' or '-', starting with a "
            f"letter or digit; got {schema!r}",
            backend=backend,
        )
    return schema


def encodable(text: str) -> bool:
    """Whether ``text`` encodes to UTF-8 (a lone surrogate does not: no valid key contains one)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def prefix_successor(prefix: str) -> str | None:
    """The smallest string above every string that starts with ``prefix`` (None: no upper bound), in
    code-point order, so ``prefix <= key < successor`` selects exactly the keys that start with ``prefix``
    wherever text compares as UTF-8 bytes (SQLite's TEXT, PostgreSQL's ``COLLATE "C"``). Trailing
    U+10FFFF characters cannot be incremented and are dropped; the surrogate block (never in a valid key)
    is skipped."""
    while prefix:
        code = ord(prefix[-1]) + 1
        if code <= 0x10FFFF:
            if 0xD800 <= code <= 0xDFFF:
                code = 0xE000
            return prefix[:-1] + chr(code)
        prefix = prefix[:-1]
    return None
