"""Adapters that put a polykv store inside other projects: each one needs that project installed.

* ``polykv.integrations.eric_sse``: ``KvStorageAdapter``, an eric-sse ``KvStorage`` over any store
  (``pip install "polykv-core[eric-sse]"``).
* ``polykv.integrations.zarr``: ``ZarrStore``, a zarr v3 ``Store`` over any store (``pip install "polykv-core[zarr]"``).
* ``polykv.integrations.dogpile``: a dogpile.cache backend named ``polykv``, found through dogpile's own
  entry-point group (``pip install "polykv-core[dogpile]"``).

Nothing here is imported by ``import polykv`` or by importing this package: each adapter module imports
its third-party package when it is itself imported, and raises ``MissingDependencyError`` naming the extra
to install when that package is missing.
"""
