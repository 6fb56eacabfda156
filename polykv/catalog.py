"""What polykv knows about backends and URL schemes without importing any store.

A backend is declared once, by its store class: ``_backend_type``, ``url_schemes`` and ``capabilities``
in the class body. Finding a class that is not imported yet needs a few strings, kept in two places only:

- ``KNOWN_BACKENDS``, the one table of the core: the stores built into polykv (with their import path)
  and the backends of polykv's own plugin distributions (used only for "pip install ..." hints when that
  distribution is not installed);
- the ``polykv.backends`` entry-point group, one entry point per backend of an installed distribution::

      [project.entry-points."polykv.backends"]
      "redis:redis,rediss" = "polykv_redis.store:RedisStore"
      fsspec = "polykv_fsspec.store:FsspecStore"

  named ``backend`` or ``backend:scheme,scheme`` (the URL schemes of the class's own ``url_schemes``, so
  that ``polykv.connect`` finds the class for a scheme without importing any plugin). When a class is
  loaded, ``polykv.backend_registry`` checks that its ``_backend_type`` and ``url_schemes`` are what was
  declared, so the strings cannot drift from the class.

``SCHEME_ALIASES`` holds the URL-scheme aliases hook plugins offer, pushed by ``polykv.hooks``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .claims import Offers

__all__ = [
    "BACKEND_ENTRY_POINT_GROUP",
    "BUILTIN_BACKENDS",
    "BUILTIN_SCHEMES",
    "KNOWN_BACKENDS",
    "SCHEME_ALIASES",
    "BackendEntryPoint",
    "KnownBackend",
    "backend_entry_points",
    "install_hint",
    "parse_entry_point_name",
    "scheme_entry_points",
]

#: The one entry-point group in which distributions declare their stores (see the module docstring).
BACKEND_ENTRY_POINT_GROUP = "polykv.backends"

#: The distribution name of the core: a ``KnownBackend`` of this distribution is built in.
CORE_DISTRIBUTION = "polykv-core"


@dataclass(frozen=True)
class KnownBackend:
    """A backend polykv knows by name: built in (``target`` set) or in one of polykv's plugin distributions."""

    name: str
    distribution: str
    schemes: tuple[str, ...] = ()
    target: str | None = None  # "module:Class", for the built-in stores only

    @property
    def builtin(self) -> bool:
        return self.distribution == CORE_DISTRIBUTION and self.target is not None


#: The one table of backends the core knows by name (built-ins and polykv's own plugin distributions).
KNOWN_BACKENDS: dict[str, KnownBackend] = {
    known.name: known
    for known in (
        KnownBackend("memory", CORE_DISTRIBUTION, ("memory",), "polykv.backends.memory:MemoryStore"),
        KnownBackend("sqlite", CORE_DISTRIBUTION, ("sqlite",), "polykv.backends.sqlite:SQLiteStore"),
        KnownBackend("redis", "polykv-redis", ("redis", "rediss")),
        KnownBackend("redis_cluster", "polykv-redis", ("redis+cluster", "rediss+cluster")),
        KnownBackend("fsspec", "polykv-fsspec", ("file", "fsspec+")),
        KnownBackend("s3", "polykv-fsspec", ("s3",)),
        KnownBackend("hdfs", "polykv-fsspec", ("hdfs", "webhdfs")),
        KnownBackend("postgres", "polykv-postgres", ("postgresql", "postgres")),
    )
}

#: The stores built into polykv by backend name -> "module:Class" (derived from ``KNOWN_BACKENDS``).
BUILTIN_BACKENDS: dict[str, str] = {k.name: k.target for k in KNOWN_BACKENDS.values() if k.builtin and k.target}

#: The URL schemes of the built-in stores -> "module:Class" (derived from ``KNOWN_BACKENDS``).
BUILTIN_SCHEMES: dict[str, str] = {
    scheme: k.target for k in KNOWN_BACKENDS.values() if k.builtin and k.target for scheme in k.schemes
}


def install_hint(*, backend: str | None = None, scheme: str | None = None) -> str:
    """``"; install it with: pip install DIST"`` for a backend name or URL scheme of a known distribution
    (not the core's), else ``""``. Derived from ``KNOWN_BACKENDS``; a ``family+`` scheme covers
    ``family+anything``."""
    for known in KNOWN_BACKENDS.values():
        if known.distribution == CORE_DISTRIBUTION:
            continue
        if backend is not None and backend == known.name:
            return f"; install it with: pip install {known.distribution}"
        if scheme is not None and any(scheme == s or (s.endswith("+") and scheme.startswith(s)) for s in known.schemes):
            return f"; install it with: pip install {known.distribution}"
    return ""


@dataclass(frozen=True)
class BackendEntryPoint:
    """One ``polykv.backends`` entry point, parsed: the backend it declares and the schemes it serves."""

    name: str
    schemes: tuple[str, ...]
    target: str  # "module:Class"
    distribution: str | None = None
    version: str | None = None


def parse_entry_point_name(raw: str) -> tuple[str, tuple[str, ...]]:
    """``"redis:redis,rediss"`` -> ``("redis", ("redis", "rediss"))``; ``"fsspec"`` -> ``("fsspec", ())``.
    Whitespace around the parts is ignored; schemes are lower-cased. Nothing is validated here: a name the
    class does not match fails when that backend is loaded, and breaks nothing else."""
    name, _, schemes = raw.partition(":")
    return name.strip(), tuple(s.strip().lower() for s in schemes.split(",") if s.strip())


def _read_entry_points() -> list[BackendEntryPoint]:
    from importlib.metadata import entry_points

    found: list[BackendEntryPoint] = []
    for ep in entry_points(group=BACKEND_ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        name, schemes = parse_entry_point_name(ep.name)
        found.append(
            BackendEntryPoint(
                name=name,
                schemes=schemes,
                target=ep.value,
                distribution=dist.metadata["Name"] if dist is not None else None,
                version=dist.version if dist is not None else None,
            )
        )
    return found


def backend_entry_points() -> dict[str, list[BackendEntryPoint]]:
    """The ``polykv.backends`` entry points of every installed distribution by backend name, one per
    distinct target (imports no plugin)."""
    found: dict[str, list[BackendEntryPoint]] = {}
    for entry in _read_entry_points():
        bucket = found.setdefault(entry.name, [])
        if all(e.target != entry.target for e in bucket):
            bucket.append(entry)
    return found


def scheme_entry_points() -> dict[str, list[BackendEntryPoint]]:
    """The same entry points by URL scheme (a backend serving two schemes is listed under both)."""
    found: dict[str, list[BackendEntryPoint]] = {}
    for entry in _read_entry_points():
        for scheme in entry.schemes:
            found.setdefault(scheme, []).append(entry)
    return found


#: ``{alias: scheme}`` offers of hook plugins (``polykv_url_scheme_aliases``), e.g. ``{"mem": "memory"}``.
SCHEME_ALIASES: Offers[str] = Offers("URL scheme alias", "write the scheme it stands for in the URL")
