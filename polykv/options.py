"""Checking store configuration at construction: option names, URL query values, optional dependencies,
and which option names hold secrets.

Every way of configuring a store (constructor keywords, ``connect(url, **options)``, URL query options,
``BackendRegistry`` config dicts, wrapper stacks, the CLI) ends in one constructor call, which
``StoreMeta`` checks with ``check_options`` before the store's ``__init__`` runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from importlib import import_module
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl

from .errors import InvalidArgumentError, InvalidURLError, MissingDependencyError

__all__ = [
    "GENERIC_SECRET_OPTIONS",
    "MAX_TTL",
    "as_bool",
    "as_float",
    "as_int",
    "check_options",
    "check_seconds",
    "is_secret_option",
    "option_error",
    "options_from_url",
    "parse_query",
    "require_module",
    "secret_options",
    "store_options",
]

#: The option names read from the URL being opened (``options_from_url``), for ``option_error``.
_URL_OPTIONS: ContextVar[frozenset[str]] = ContextVar("polykv_url_options", default=frozenset())

#: The longest TTL every store honours, in seconds (10 years of 365 days): well inside Redis's PX range
#: and exact as a float expiry in sqlite and memory. A ttl is finite, > 0 and at most this.
MAX_TTL = 315_360_000

#: Query/option names treated as secrets for every store, whatever the store declares in ``secret_options``.
GENERIC_SECRET_OPTIONS: frozenset[str] = frozenset(
    {
        "password",
        "passwd",
        "pass",
        "pwd",
        "secret",
        "secret_key",
        "secret_access_key",
        "aws_secret_access_key",
        "token",
        "session_token",
        "aws_session_token",
        "access_token",
        "refresh_token",
        "auth_token",
        "api_key",
        "apikey",
        "key",
        "access_key",
        "access_key_id",
        "aws_access_key_id",
        "private_key",
        "credential",
        "credentials",
        "sas_token",
        "account_key",
        "client_secret",
    }
)
_SECRET_WORDS = ("password", "passwd", "secret", "token", "credential", "private_key", "api_key", "apikey")

_OPTIONS_CACHE: dict[type, frozenset[str] | None] = {}


def is_secret_option(name: str, declared: Iterable[str] = ()) -> bool:
    """Whether an option named ``name`` holds a secret: a generic name, a name containing a secret word
    (``password``, ``secret``, ``token``...), or one the store declares in ``secret_options``."""
    lowered = name.lower()
    return lowered in GENERIC_SECRET_OPTIONS or lowered in declared or any(w in lowered for w in _SECRET_WORDS)


def secret_options(cls: type | None) -> frozenset[str]:
    """The option names ``cls`` declares as secret (its ``secret_options`` class attribute) plus the generic ones."""
    declared = getattr(cls, "secret_options", ()) if cls is not None else ()
    return GENERIC_SECRET_OPTIONS | frozenset(str(n).lower() for n in declared)


def store_options(cls: type) -> frozenset[str] | None:
    """The keyword options ``cls(...)`` accepts, or None when it cannot be known.

    A store whose ``__init__`` takes ``**kwargs`` declares the full set with a classmethod
    ``accepted_options()``; otherwise the names come from ``__init__``'s signature, and a ``**kwargs``
    without ``accepted_options`` means "not checked here" (the store checks them itself)."""
    try:
        return _OPTIONS_CACHE[cls]
    except KeyError:
        pass
    declared = getattr(cls, "accepted_options", None)
    result: frozenset[str] | None
    if callable(declared):
        result = frozenset(declared())
    else:
        params: list[inspect.Parameter] | None
        try:
            params = list(inspect.signature(cls.__init__).parameters.values())  # type: ignore[misc]
        except (TypeError, ValueError):
            params = None
        if params is None or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            result = None
        else:
            result = frozenset(
                p.name
                for p in params[1:]
                if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
            )
    _OPTIONS_CACHE[cls] = result
    return result


def check_options(cls: type, options: Mapping[str, Any], backend: str | None = None) -> None:
    """Raise ``InvalidArgumentError`` listing the accepted options when ``options`` holds a name ``cls``
    does not accept; does nothing when the accepted set cannot be known (see ``store_options``). A class
    with many pass-through options may shorten the list with a ``listed_options()`` classmethod (a list
    of names and ``"ssl_*"``-style groups)."""
    if not options:
        return
    accepted = store_options(cls)
    if accepted is None:
        return
    unknown = sorted(set(options) - accepted)
    if unknown:
        name = backend or getattr(cls, "_backend_type", None) or cls.__name__
        raise option_error(
            unknown,
            f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} for the {name!r} "
            f"store ({cls.__name__}); accepted: {_listed(cls, accepted)}",
            name,
        )


def _listed(cls: type, accepted: frozenset[str]) -> str:
    """The accepted options of ``cls`` as its errors list them (its ``listed_options()`` if it has one)."""
    listed = getattr(cls, "listed_options", None)
    return ", ".join(listed() if callable(listed) else sorted(accepted)) or "none"


@contextmanager
def options_from_url(names: Iterable[str], overridden: Iterable[str] = ()) -> Iterator[None]:
    """Within this block, an unknown or malformed option among ``names`` (read from the URL being opened)
    that no keyword in ``overridden`` replaced is a fault of the URL: the option checks (``check_options``,
    a plugin's own) raise ``InvalidURLError`` for it (see ``option_error``). ``from_url`` methods wrap their
    constructor call in it: ``with options_from_url(query, options): return cls(...)``."""
    token = _URL_OPTIONS.set(frozenset(names).difference(overridden))
    try:
        yield
    finally:
        _URL_OPTIONS.reset(token)


def option_error(options: Iterable[str], message: str, backend: str | None) -> InvalidArgumentError:
    """The error for unknown or malformed ``options`` (their names): ``InvalidURLError`` when they all
    came from the URL being opened (inside ``options_from_url``), else ``InvalidArgumentError``."""
    from_url = _URL_OPTIONS.get()
    names = set(options)
    error = InvalidURLError if names and names <= from_url else InvalidArgumentError
    return error(message, backend=backend)


def check_seconds(value: Any, what: str, backend: str | None, *, zero: bool = False) -> float:
    """``value`` as seconds (a finite number > 0, or >= 0 with ``zero``); else ``InvalidArgumentError``
    naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value == float("inf"):
        raise InvalidArgumentError(f"{what} must be a finite number of seconds, got {value!r}", backend=backend)
    if value < 0 or (value == 0 and not zero):
        raise InvalidArgumentError(
            f"{what} must be {'>= 0' if zero else '> 0'} seconds, got {value!r}", backend=backend
        )
    return float(value)


def as_int(value: str) -> int:
    """A URL query value as an int (``ValueError`` otherwise)."""
    return int(value)


def as_float(value: str) -> float:
    """A URL query value as a float (``ValueError`` otherwise)."""
    return float(value)


def as_bool(value: str) -> bool:
    """``true``/``false``/``1``/``0``/``yes``/``no`` (any case) as a bool (``ValueError`` otherwise)."""
    lowered = value.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {value!r} (use true or false)")


def parse_query(
    query: str,
    converters: Mapping[str, Callable[[str], Any]],
    backend: str,
    *,
    others: Callable[[str, str], Any] | None = None,
    secrets: Iterable[str] = (),
) -> dict[str, Any]:
    """Parse a URL query into keyword options: each name in ``converters`` is converted by its function;
    other names go through ``others(name, value)`` when given, else raise ``InvalidURLError`` listing the
    accepted names. A value that does not convert raises ``InvalidURLError`` (secret values are not shown)."""
    options: dict[str, Any] = {}
    declared = frozenset(secrets)
    for name, value in parse_qsl(query, keep_blank_values=True):
        convert = converters.get(name)
        if convert is None and others is None:
            raise InvalidURLError(
                f"unknown URL query option {name!r} for the {backend!r} store; accepted: "
                f"{', '.join(sorted(converters))}",
                backend=backend,
            )
        try:
            options[name] = convert(value) if convert is not None else others(name, value)  # type: ignore[misc]
        except (TypeError, ValueError) as exc:
            shown = "***" if is_secret_option(name, declared) else repr(value)
            raise InvalidURLError(
                f"URL query option {name}={shown} is malformed: {exc if shown != '***' else type(exc).__name__}",
                backend=backend,
            ) from None
    return options


def require_module(module: str, extra: str, what: str, *, backend: str | None = None) -> ModuleType:
    """Import ``module`` or raise ``MissingDependencyError`` telling what to install (``pip install "extra"``)."""
    try:
        return import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{what} needs the {module.split('.')[0]!r} package, which is not installed "
            f'({type(exc).__name__}: {exc}); install it with: pip install "{extra}"',
            backend=backend,
        ) from exc
