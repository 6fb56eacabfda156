"""``polykv.connect(url)``: a store from a URL, by the schemes store classes declare.

Schemes come from store classes defined in this process (``url_schemes`` in their own body), the built-in
stores (``polykv.catalog.KNOWN_BACKENDS``), and the ``polykv.backends`` entry points, whose names carry the
schemes (``"backend:scheme,scheme" = "package.module:StoreClass"``), which lets a plugin serve a scheme
before its module is imported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from .backend_registry import check_store_class, load_store_class
from .catalog import BUILTIN_SCHEMES, KNOWN_BACKENDS, SCHEME_ALIASES, install_hint, scheme_entry_points
from .claims import Claim, class_target, resolve_claims, same_target
from .errors import InvalidURLError
from .events import load_plugins
from .options import is_secret_option, secret_options
from .registration import STORE_CLASSES
from .store import KeyValueStore

__all__ = ["DEFAULT_URL", "OpenClass", "connect", "open_url", "redact_url", "store_class_for_url"]


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


#: What a scheme claim names: the backend, its declared schemes and who declares it.
_Origin = tuple[str, tuple[str, ...], str]


def _scheme_claims(scheme: str) -> tuple[list[Claim], dict[str, _Origin], list[str]]:
    """Every claim on URL scheme ``scheme`` (store classes of this process that list it in their own
    ``url_schemes``, the built-in stores, ``polykv.backends`` entry points naming it), what each claimed
    target declares, and every scheme the entry points declare (for messages). Imports nothing."""
    defined = [cls for cls in STORE_CLASSES.values() if scheme in vars(cls).get("url_schemes", ())]
    claims: list[Claim] = []
    origins: dict[str, _Origin] = {}
    if scheme in BUILTIN_SCHEMES:
        known = next(k for k in KNOWN_BACKENDS.values() if k.builtin and scheme in k.schemes)
        claims.append(Claim("builtin", BUILTIN_SCHEMES[scheme], "polykv-core"))
        origins[BUILTIN_SCHEMES[scheme]] = (known.name, known.schemes, "polykv-core")
    by_scheme = scheme_entry_points()
    for entry in by_scheme.get(scheme, []):
        match = next((cls for cls in defined if same_target(entry.target, cls)), None)
        claim = Claim("entry_point", class_target(match) if match else entry.target, entry.distribution)
        claims.append(claim)
        origin = f"distribution {entry.distribution!r}" if entry.distribution else "an entry point"
        origins.setdefault(claim.target, (entry.name, entry.schemes, origin))
    # a class of this process claims on its own only when no declaration names it (then the claim says who)
    claims.extend(Claim("defined", class_target(cls)) for cls in defined if class_target(cls) not in origins)
    return claims, origins, sorted(by_scheme)


def _scheme_alias(scheme: str) -> str | None:
    """The scheme a hook plugin makes ``scheme`` an alias of, or None (hook plugins declared by entry points
    are loaded first if they were not yet)."""
    alias = SCHEME_ALIASES.resolve(scheme)
    if alias is None and load_plugins():
        alias = SCHEME_ALIASES.resolve(scheme)
    return alias


def store_class_for_url(url: str, *, _follow_alias: bool = True) -> type[KeyValueStore]:
    """The store class that serves ``url``'s scheme (or the scheme a hook plugin makes it an alias of)."""
    if not isinstance(url, str):
        raise InvalidURLError(f"a store URL must be a str, got {type(url).__name__}")
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise InvalidURLError(f"cannot parse store URL {redact_url(url)!r}: {exc}") from None
    if not scheme:
        raise InvalidURLError(f"store URL {redact_url(url)!r} has no scheme (e.g. sqlite:///data.db)")
    claims, origins, declared = _scheme_claims(scheme)
    if not claims and "+" in scheme:
        # a "family+" entry point serves every "family+anything" scheme (e.g. fsspec+memory://)
        claims, origins, declared = _scheme_claims(scheme.split("+", 1)[0] + "+")
    chosen = resolve_claims(
        "URL scheme",
        scheme,
        claims,
        how_to_choose="open the store with the class you want: StoreClass.from_url(url)",
    )
    target = None
    if chosen is not None:
        declared_as = origins.get(chosen.target)
        for cls in STORE_CLASSES.values():
            if class_target(cls) == chosen.target:
                if declared_as is not None:  # defined already: it must still say what its declaration says
                    name, schemes, origin = declared_as
                    check_store_class(cls, name, chosen.target, schemes, f"{origin}, for URL scheme {scheme!r}")
                return cls
        target = chosen.target
    if target is None and _follow_alias:  # a hook plugin may declare it an alias (polykv_url_scheme_aliases)
        alias = _scheme_alias(scheme)
        if alias is not None:
            return store_class_for_url(alias + url[len(scheme) :], _follow_alias=False)
    if target is None:
        known = sorted(set(BUILTIN_SCHEMES) | set(declared))
        hint = install_hint(scheme=scheme)
        head = scheme.partition("+")[0]
        if "+" in scheme and head not in known and f"{head}+" not in known:  # "bogus+memory": a misspelt wrapper
            from .wrappers.stacking import WRAPPER_NAMES

            hint = (
                f"; if {head!r} is meant as a wrapper in front of a store URL, it is none of "
                f"{', '.join(WRAPPER_NAMES)}{hint}"
            )
        raise InvalidURLError(f"no store serves the URL scheme {scheme!r} (known: {', '.join(known)}){hint}")
    name, schemes, origin = origins[target]
    return load_store_class(name, target, schemes, f"{origin}, for URL scheme {scheme!r}")


#: The store ``connect()`` opens when neither an argument nor ``$POLYKV_URL`` names one (also the CLI's default).
DEFAULT_URL = "sqlite:///polykv.db"


def connect(url: str | None = None, **options: Any) -> KeyValueStore:
    """Open a new store for ``url`` (``memory://``, ``sqlite:///path.db``, plugin schemes such as
    ``redis://``); ``options`` go to the store's constructor. The caller closes it.

    Without ``url``, configuration decides: ``$POLYKV_URL`` if set and not empty, else ``DEFAULT_URL``."""
    if url is None:
        import os

        url = os.environ.get("POLYKV_URL") or DEFAULT_URL
    return open_url(url, options, _from_url)


def _from_url(cls: type[KeyValueStore], url: str, options: dict[str, Any]) -> KeyValueStore:
    store: KeyValueStore = cls.from_url(url, **options)
    return store


#: What builds one store from its class, its URL and the options: ``cls.from_url(url, **options)`` for
#: ``connect``; ``polykv.aio`` builds the class's async face instead.
OpenClass = Callable[[type[KeyValueStore], str, dict[str, Any]], KeyValueStore]


def open_url(url: str, options: dict[str, Any], open_class: OpenClass) -> KeyValueStore:
    """Resolve ``url`` (wrapper stacks, scheme claims, scheme aliases) and build each store in it with
    ``open_class``; what ``connect`` does, with the last step chosen by the caller."""
    # wrappers (readonly+prefix:t1/+sqlite://...): the first letters of polykv.wrappers.stacking's names
    if isinstance(url, str) and url[:1] in "rpcfite" and "+" in url:
        from .wrappers.stacking import connect_stacked, is_stacked_url

        if is_stacked_url(url):  # the wrappers open each store URL in the stack the same way
            return connect_stacked(url, lambda inner, **more: open_url(inner, more, open_class), **options)
    cls = store_class_for_url(url)
    scheme = urlsplit(url).scheme.lower()
    if scheme not in cls.url_schemes and scheme not in BUILTIN_SCHEMES:  # reached through a scheme alias
        alias = _scheme_alias(scheme)
        if alias is not None:
            url = alias + url[len(scheme) :]
    return open_class(cls, url, options)
