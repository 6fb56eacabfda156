"""Checking the options a store passes on to an fsspec file system, before the file system is made.

fsspec file systems take ``**storage_options`` and many keep what they do not know without a word
(fsspec's ``memory`` and ``file``; s3fs stores them and fails on the first request). So polykv checks a
store's pass-through options itself, against the keyword parameters of the file system class's
``__init__`` along its MRO (fsspec's convention: every ``__init__`` hands ``**kwargs`` up to
``AbstractFileSystem``) plus the few fsspec's base classes read from ``**storage_options``. An option
outside that set raises :class:`~polykv.errors.InvalidArgumentError` naming it and the accepted ones
(``InvalidURLError`` when it came from the URL being opened).
Values are never shown: an option may be a credential.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from polykv.options import option_error

__all__ = ["FSSPEC_BASE_OPTIONS", "check_filesystem_options", "filesystem_options"]

#: Options fsspec's base classes take out of ``**storage_options`` (``_Cached``, ``DirCache``,
#: ``AsyncFileSystem``): accepted by every file system.
FSSPEC_BASE_OPTIONS: frozenset[str] = frozenset(
    {
        "skip_instance_cache",
        "use_listings_cache",
        "listings_expiry_time",
        "max_paths",
        "asynchronous",
        "loop",
        "batch_size",
    }
)

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def filesystem_options(fs_class: type) -> frozenset[str]:
    """The keyword options ``fs_class(...)`` accepts: named ``__init__`` parameters along its MRO, plus
    :data:`FSSPEC_BASE_OPTIONS`."""
    names = set(FSSPEC_BASE_OPTIONS)
    for klass in fs_class.__mro__:
        init = vars(klass).get("__init__")
        if init is None:
            continue
        try:
            parameters = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):  # a C-level __init__ without a signature
            continue
        names.update(p.name for p in parameters if p.kind in _NAMED and p.name != "self")
    return frozenset(names)


def check_filesystem_options(
    fs_class: type,
    options: Mapping[str, Any],
    *,
    backend: str,
    own_options: Iterable[str] = (),
    also_accepted: Callable[[str], bool] | None = None,
) -> None:
    """Raise ``InvalidArgumentError`` when ``options`` (about to go to ``fs_class``) name an option it does
    not take. ``own_options`` are the store's own (listed in the error); ``also_accepted(name)`` admits
    names by form (hdfs-native's dotted Hadoop configuration keys, for one)."""
    accepted = filesystem_options(fs_class)
    unknown = sorted(
        name for name in options if name not in accepted and not (also_accepted is not None and also_accepted(name))
    )
    if unknown:
        listed = ", ".join(sorted(set(own_options))) or "none"
        raise option_error(
            unknown,
            f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} for the {backend} "
            f"store: accepted are the store's own ({listed}) and those of {fs_class.__module__}."
            f"{fs_class.__qualname__} ({', '.join(sorted(accepted))})",
            backend,
        )
