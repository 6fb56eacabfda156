"""Wrappers stacked in front of a store URL: ``readonly+prefix:tenant1/+sqlite:///data.db``.

This module knows the wrapper segments and builds the stack; it does not know how a store URL is opened.
The caller passes that in as ``connect`` (``polykv.urls.connect`` passes itself), so the URL front door
depends on the wrappers and never the other way round.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote

from ..errors import InvalidURLError
from ..store import KeyValueStore
from .cached import CachedStore
from .compressed import CompressedStore
from .fallback import FallbackStore
from .instrumented import InstrumentedStore
from .prefix import PrefixStore
from .readonly import ReadOnlyStore
from .ttl import TTLStore

__all__ = ["WRAPPER_NAMES", "Connect", "connect_stacked", "is_stacked_url"]

#: What opens one store URL: ``connect(url, **options) -> KeyValueStore`` (``polykv.urls.connect``).
Connect = Callable[..., KeyValueStore]

#: Wrapper names usable in front of a store URL, outermost first.
WRAPPER_NAMES = ("readonly", "prefix", "cached", "fallback", "compressed", "instrumented", "ttl")

#: Recognised so that it is refused with a clear message: keys never come from a URL.
_REFUSED = ("encrypted",)

_SEGMENT = re.compile(rf"({'|'.join(WRAPPER_NAMES + _REFUSED)})(?::([^+]*))?\+")


def is_stacked_url(url: object) -> bool:
    """Whether ``url`` starts with a wrapper segment such as ``readonly+`` or ``prefix:tenant1/+``."""
    return isinstance(url, str) and _SEGMENT.match(url) is not None


def _split_stack(url: str) -> tuple[list[tuple[str, str | None]], str]:
    segments: list[tuple[str, str | None]] = []
    position = 0
    while (match := _SEGMENT.match(url, position)) is not None:
        segments.append((match.group(1), match.group(2)))
        position = match.end()
    return segments, url[position:]


#: The options each wrapper with ``name=value`` options takes, and an example of them.
_OPTIONS = {
    "cached": (("front", "max_items", "ttl"), "cached:max_items=1000&ttl=30+redis://localhost/0"),
    "compressed": (("algorithm", "min_size", "level"), "compressed:algorithm=zstd&min_size=1024+redis://localhost/0"),
    "ttl": (("default", "max"), "ttl:default=60&max=3600+redis://localhost/0"),
}


def _options(name: str, arg: str | None) -> dict[str, str]:
    if not arg:
        return {}
    known, example = _OPTIONS[name]
    try:
        pairs = parse_qsl(arg, keep_blank_values=False, strict_parsing=True)
    except ValueError:
        raise InvalidURLError(
            f"{name} takes options as name=value pairs joined by '&' ({', '.join(known)}), e.g. {example}"
        ) from None
    options = dict(pairs)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise InvalidURLError(f"{name}: unknown option(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return options


def _number(name: str, option: str, text: str | None, kind: type[int] | type[float]) -> Any:
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        what = "an int" if kind is int else "a number of seconds"
        raise InvalidURLError(f"{name}: {option} must be {what}, got {text!r}") from None


def _wrap(
    name: str, arg: str | None, inner: KeyValueStore, opened: list[KeyValueStore], connect: Connect
) -> KeyValueStore:
    """Apply one URL segment to ``inner``; stores opened on the way (with ``connect``) are appended to ``opened``."""
    if name == "readonly":
        if arg:
            raise InvalidURLError("readonly takes no argument: write 'readonly+<url>'")
        return ReadOnlyStore(inner, owns=True)
    if name == "prefix":
        if not arg:
            raise InvalidURLError("prefix needs a prefix: write 'prefix:<prefix>+<url>' (a '+' in it as %2B)")
        return PrefixStore(inner, unquote(arg), owns=True)
    if name == "encrypted":  # the argument is never echoed: it may be a key
        raise InvalidURLError(
            "encryption keys never come from a URL: wrap the store in code, "
            "polykv.wrappers.EncryptedStore(polykv.connect(url), keys)"
        )
    if name == "instrumented":
        if arg:
            raise InvalidURLError("instrumented takes no argument: write 'instrumented+<url>'")
        return InstrumentedStore(inner, owns=True)
    if name == "compressed":
        options = _options(name, arg)
        min_size = _number(name, "min_size", options.get("min_size"), int)
        return CompressedStore(
            inner,
            algorithm=options.get("algorithm", "zlib"),
            level=_number(name, "level", options.get("level"), int),
            owns=True,
            **({} if min_size is None else {"min_size": min_size}),
        )
    if name == "ttl":
        options = _options(name, arg)
        if not options:
            raise InvalidURLError("ttl needs default=<seconds>, max=<seconds> or both: 'ttl:default=60&max=3600+<url>'")
        return TTLStore(
            inner,
            default_ttl=_number(name, "default", options.get("default"), float),
            max_ttl=_number(name, "max", options.get("max"), float),
            owns=True,
        )
    if name == "fallback":
        if not arg:
            raise InvalidURLError("fallback needs the secondary store's URL: 'fallback:<url>+<primary url>'")
        secondary = connect(unquote(arg))
        opened.append(secondary)
        return FallbackStore(inner, secondary, owns=True)
    options = _options(name, arg)
    try:
        max_items = int(options.get("max_items", "1024"))
        ttl = float(options["ttl"]) if "ttl" in options else None
    except ValueError:
        raise InvalidURLError("cached: max_items must be an int and ttl a number of seconds") from None
    front = connect(options.get("front", "memory://"))
    opened.append(front)
    return CachedStore(front, inner, max_items=max_items, ttl=ttl, owns=True)


def connect_stacked(url: str, connect: Connect, /, **options: Any) -> KeyValueStore:
    """Open ``<wrapper>+...+<store URL>``: the store URL with ``options``, then each wrapper, innermost first.

    ``connect`` opens each store URL in the stack (the store URL, a fallback's secondary, a cached front):
    ``polykv.connect`` is the one to pass, and ``polykv.connect(url)`` does exactly this for a stacked URL.

    Wrappers: ``readonly``, ``prefix:<prefix>``, ``cached[:front=<url>&max_items=<n>&ttl=<seconds>]``
    (front defaults to ``memory://``), ``fallback:<secondary URL>``,
    ``compressed[:algorithm=zlib|zstd&min_size=<bytes>&level=<n>]``, ``instrumented``,
    ``ttl:default=<seconds>&max=<seconds>`` (either or both). ``encrypted`` is refused: keys never come
    from a URL. An argument ends at the next ``+``:
    write a ``+`` inside one as ``%2B`` (and ``&`` inside a cached option as ``%26``). The returned stack
    owns every store it opened: closing it closes them all (on an error, what was opened is closed).
    Raises ``InvalidURLError`` for a URL that starts with no wrapper or names no store URL, or a bad argument.
    """
    segments, base = _split_stack(url)
    if not segments:
        raise InvalidURLError(
            "a stacked store URL starts with a wrapper: readonly+, prefix:<p>+, cached+, fallback:<url>+, "
            "compressed+, instrumented+ or ttl:<options>+"
        )
    if not base:
        raise InvalidURLError(f"the stacked URL {'+'.join(n for n, _ in segments)}+... names no store URL")
    store = connect(base, **options)
    opened: list[KeyValueStore] = [store]
    try:
        for name, arg in reversed(segments):
            store = _wrap(name, arg, store, opened, connect)
    except BaseException:
        for each in reversed(opened):
            with contextlib.suppress(Exception):
                each.close()
        raise
    return store
