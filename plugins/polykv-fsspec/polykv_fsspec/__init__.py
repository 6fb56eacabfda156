"""polykv-fsspec: polykv stores on HDFS, S3, local files and any fsspec file system.

Stores are loaded on first use, so importing this package imports neither fsspec nor a client library.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .aio import AsyncS3Store
    from .faults import AccessDeniedError
    from .hdfs import HDFSConnector, HDFSStore
    from .s3 import S3Store
    from .store import FsspecStore

__version__ = "1.0.0.dev0"

_EXPORTS = {
    "AccessDeniedError": "faults",
    "AsyncS3Store": "aio",
    "FsspecStore": "store",
    "HDFSConnector": "hdfs",
    "HDFSStore": "hdfs",
    "S3Store": "s3",
}
__all__ = ["AccessDeniedError", "AsyncS3Store", "FsspecStore", "HDFSConnector", "HDFSStore", "S3Store"]


def __getattr__(name: str) -> Any:
    """Load a public name on first access (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'polykv_fsspec' has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)
