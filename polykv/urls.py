"""``polykv.connect(url)``: a store from a URL, by the schemes store classes declare.

Schemes come from store classes defined in this process (``url_schemes``), the built-in stores, and the
``polykv.url_schemes`` entry-point group (``scheme = "package.module:StoreClass"``), which lets a plugin
serve a scheme before its module is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

from .errors import InvalidURLError, PluginLoadError
from .registry import STORE_CLASSES, load_target

if TYPE_CHECKING:
    from .store import KeyValueStore

__all__ = ["BUILTIN_SCHEMES", "SCHEME_ENTRY_POINT_GROUP", "connect", "redact_url", "store_class_for_url"]

SCHEME_ENTRY_POINT_GROUP = "polykv.url_schemes"

#: Schemes served by the built-in stores.
BUILTIN_SCHEMES: dict[str, str] = {
    "memory": "polykv.backends.memory:MemoryStore",
    "sqlite": "polykv.backends.sqlite:SQLiteStore",
}

#: Install hints for schemes served by polykv's own plugin distributions.
KNOWN_SCHEME_DISTRIBUTIONS: dict[str, str] = {
    "redis": "polykv-redis",
    "rediss": "polykv-redis",
    "redis+cluster": "polykv-redis",
    "rediss+cluster": "polykv-redis",
    "hdfs": "polykv-fsspec",
    "webhdfs": "polykv-fsspec",
    "s3": "polykv-fsspec",
    "file": "polykv-fsspec",
}


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe for messages and logs)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{user}:***@{host}"
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _scheme_entry_points() -> dict[str, str]:
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=SCHEME_ENTRY_POINT_GROUP)}


def store_class_for_url(url: str, *, _follow_alias: bool = True) -> type[KeyValueStore]:
    """The store class that serves ``url``'s scheme (or the scheme a hook plugin makes it an alias of)."""
    from .store import KeyValueStore

    if not isinstance(url, str):
        raise InvalidURLError(f"a store URL must be a str, got {type(url).__name__}")
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise InvalidURLError(f"cannot parse store URL {redact_url(url)!r}: {exc}") from None
    if not scheme:
        raise InvalidURLError(f"store URL {redact_url(url)!r} has no scheme (e.g. sqlite:///data.db)")
    for cls in STORE_CLASSES.values():
        if scheme in cls.url_schemes:
            return cls
    declared = _scheme_entry_points()
    target = BUILTIN_SCHEMES.get(scheme) or declared.get(scheme)
    if target is None and "+" in scheme:
        # a "family+" entry point serves every "family+anything" scheme (e.g. fsspec+memory://)
        target = declared.get(scheme.split("+", 1)[0] + "+")
    if target is None and _follow_alias:  # a hook plugin may declare it an alias (polykv_url_scheme_aliases)
        from .hooks import scheme_alias

        alias = scheme_alias(scheme)
        if alias is not None:
            return store_class_for_url(alias + url[len(scheme) :], _follow_alias=False)
    if target is None:
        known = sorted(set(BUILTIN_SCHEMES) | set(declared))
        hint = ""
        if scheme in KNOWN_SCHEME_DISTRIBUTIONS:
            hint = f"; install it with: pip install {KNOWN_SCHEME_DISTRIBUTIONS[scheme]}"
        raise InvalidURLError(f"no store serves the URL scheme {scheme!r} (known: {', '.join(known)}){hint}")
    try:
        cls = load_target(target)
    except Exception as exc:
        raise PluginLoadError(
            f"cannot load the store for scheme {scheme!r} from {target!r}: {type(exc).__name__}: {exc}"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, KeyValueStore)):
        raise PluginLoadError(f"scheme {scheme!r} = {target!r} is not a polykv store class")
    return cls


#: The store ``connect()`` opens when neither an argument nor ``$POLYKV_URL`` names one (also the CLI's default).
DEFAULT_URL = "sqlite:///polykv.db"


def connect(url: str | None = None, **options: Any) -> KeyValueStore:
    """Open a new store for ``url`` (``memory://``, ``sqlite:///path.db``, plugin schemes such as
    ``redis://``); ``options`` go to the store's constructor. The caller closes it.

    Without ``url``, configuration decides: ``$POLYKV_URL`` if set and not empty, else ``DEFAULT_URL``."""
    if url is None:
        import os

        url = os.environ.get("POLYKV_URL") or DEFAULT_URL
    if isinstance(url, str) and url[:1] in "rpcf" and "+" in url:  # wrappers: readonly+prefix:t1/+sqlite://...
        from .wrappers import connect_stacked, is_stacked_url

        if is_stacked_url(url):
            return connect_stacked(url, **options)
    cls = store_class_for_url(url)
    scheme = urlsplit(url).scheme.lower()
    if scheme not in cls.url_schemes and scheme not in BUILTIN_SCHEMES:  # reached through a scheme alias
        from .hooks import scheme_alias

        alias = scheme_alias(scheme)
        if alias is not None:
            url = alias + url[len(scheme) :]
    store: KeyValueStore = cls.from_url(url, **options)
    return store
