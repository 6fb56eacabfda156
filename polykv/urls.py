"""``polykv.connect(url)``: a store from a URL, by the schemes store classes declare.

Schemes come from store classes defined in this process (``url_schemes``), the built-in stores, and the
``polykv.url_schemes`` entry-point group (``scheme = "package.module:StoreClass"``), which lets a plugin
serve a scheme before its module is imported.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus, urlsplit

from .errors import InvalidURLError, PluginLoadError
from .options import is_secret_option, secret_options
from .registry import STORE_CLASSES, Claim, class_target, entry_point_claims, load_target, resolve_claims, same_target

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


def _scheme_class(scheme: str) -> type | None:
    """The store class already defined for ``scheme`` (imports nothing), or None."""
    for cls in STORE_CLASSES.values():
        if scheme in vars(cls).get("url_schemes", ()):
            return cls
    return None


_USERINFO = re.compile(r"(://[^/@:?#\s]*):([^/?#\s]*)@")
_QUERY_OPTION = re.compile(r"([?&;])([^=&#?;\s]+)=([^&#;\s]*)")


def redact_url(url: str) -> str:
    """``url`` with its secrets replaced by ``***`` (safe for messages and logs): every userinfo password and
    every credential-like query option (``password``, ``secret``, ``token``, ``key``... see
    ``polykv.options.GENERIC_SECRET_OPTIONS``, plus the ``secret_options`` of the scheme's store class when
    that class is loaded). Works on wrapper stacks (``readonly+redis://...``) and nested URLs alike."""
    if not isinstance(url, str):
        return "<not a URL>"
    scheme = url.partition("://")[0].rsplit("+", 1)[-1].rsplit("/", 1)[-1].lower()
    declared = secret_options(_scheme_class(scheme))

    def query(match: re.Match[str]) -> str:
        if match.group(3) and is_secret_option(unquote_plus(match.group(2)), declared):
            return f"{match.group(1)}{match.group(2)}=***"
        return match.group(0)

    return _QUERY_OPTION.sub(query, _USERINFO.sub(r"\1:***@", url))


def _scheme_claims(scheme: str) -> list[Claim]:
    """Every claim on URL scheme ``scheme``: store classes of this process that list it in their own
    ``url_schemes``, the built-in stores, and ``polykv.url_schemes`` entry points (imports nothing)."""
    defined = [cls for cls in STORE_CLASSES.values() if scheme in vars(cls).get("url_schemes", ())]
    claims = [Claim("defined", class_target(cls)) for cls in defined]
    if scheme in BUILTIN_SCHEMES:
        claims.append(Claim("builtin", BUILTIN_SCHEMES[scheme], "polykv"))
    for claim in entry_point_claims(SCHEME_ENTRY_POINT_GROUP).get(scheme, []):
        match = next((cls for cls in defined if same_target(claim.target, cls)), None)
        claims.append(Claim(claim.source, class_target(match), claim.distribution) if match else claim)
    return claims


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
    claims = _scheme_claims(scheme)
    if not claims and "+" in scheme:
        # a "family+" entry point serves every "family+anything" scheme (e.g. fsspec+memory://)
        claims = _scheme_claims(scheme.split("+", 1)[0] + "+")
    chosen = resolve_claims(
        "URL scheme",
        scheme,
        claims,
        how_to_choose="open the store with the class you want: StoreClass.from_url(url)",
    )
    declared = _scheme_entry_points()
    target = None
    if chosen is not None:
        for cls in STORE_CLASSES.values():
            if class_target(cls) == chosen.target:
                return cls
        target = chosen.target
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
    # wrappers (readonly+prefix:t1/+sqlite://...): the first letters of polykv.wrappers.stacking's names
    if isinstance(url, str) and url[:1] in "rpcfite" and "+" in url:
        from .wrappers.stacking import connect_stacked, is_stacked_url

        if is_stacked_url(url):
            return connect_stacked(url, connect, **options)  # the wrappers open each store URL with this function
    cls = store_class_for_url(url)
    scheme = urlsplit(url).scheme.lower()
    if scheme not in cls.url_schemes and scheme not in BUILTIN_SCHEMES:  # reached through a scheme alias
        from .hooks import scheme_alias

        alias = scheme_alias(scheme)
        if alias is not None:
            url = alias + url[len(scheme) :]
    store: KeyValueStore = cls.from_url(url, **options)
    return store
