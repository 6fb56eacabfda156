"""What polykv knows about URL schemes without importing any store: the aliases hook plugins offer.

``SCHEME_ALIASES`` is pushed by ``polykv.hooks`` whenever the registered hook plugins change and read by
``polykv.urls`` for a scheme that no store serves.
"""

from __future__ import annotations

from .claims import Offers

__all__ = ["SCHEME_ALIASES"]

#: ``{alias: scheme}`` offers of hook plugins (``polykv_url_scheme_aliases``), e.g. ``{"mem": "memory"}``.
SCHEME_ALIASES: Offers[str] = Offers("URL scheme alias", "write the scheme it stands for in the URL")
