"""Conformance cases for configuration (issue 11, items 6 and 9): a store refuses an option it does not
accept at construction, as ``InvalidArgumentError`` listing the accepted ones, and its ``repr`` and URL
errors never show a secret.

A suite subclass may give a ``store_url`` fixture (a URL that opens a store like ``store``); the URL
cases use it and are skipped without it."""

from __future__ import annotations

from typing import Any

import pytest

from ..errors import InvalidArgumentError, InvalidURLError
from ..options import store_options
from ..urls import redact_url

__all__ = ["ConfigSuite"]

_UNKNOWN = "polykv_no_such_option"
_SECRET = "Pk9zSeCrEt"  # noqa: S105 - a marker that must never show


def _store_url(request: pytest.FixtureRequest) -> str:
    try:
        url: str = request.getfixturevalue("store_url")
    except pytest.FixtureLookupError:
        pytest.skip("not applicable: the test class gives no store_url fixture, so there is no URL to open")
    return url


def _with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url.rpartition('/')[2] or '?' in url else '?'}{query}"


class ConfigSuite:
    """Mixed into ``StoreSuite``: configuration faults surface at construction, secrets stay hidden."""

    def test_constructor_refuses_an_unknown_option(self, store: Any) -> None:
        cls = type(store)
        if store_options(cls) is None:
            pytest.skip(
                f"not applicable: {cls.__name__} takes **kwargs and declares no accepted_options(), "
                "so an unknown option cannot be told from a known one"
            )
        with pytest.raises(InvalidArgumentError, match=_UNKNOWN) as info:
            cls(**{_UNKNOWN: 1})
        assert "accepted" in str(info.value), "the error lists the accepted options"

    def test_from_url_refuses_an_unknown_query_option(self, store: Any, request: pytest.FixtureRequest) -> None:
        url = _store_url(request)
        with pytest.raises(InvalidURLError, match=_UNKNOWN) as info:  # a URL's fault: InvalidURLError
            opened = type(store).from_url(_with_query(url, f"{_UNKNOWN}=1"))
            opened.close()
        assert info.value.backend is not None and "accepted" in str(info.value)  # it lists what is

    def test_an_unknown_codec_is_a_configuration_error(self, store: Any, request: pytest.FixtureRequest) -> None:
        # A codec name nothing offers is the caller's configuration, not a value that failed to encode:
        # InvalidURLError from a URL query, InvalidArgumentError from a keyword, naming the backend.
        url = _store_url(request)
        with pytest.raises(InvalidURLError, match="unknown codec 'polykv-no-such-codec'") as info:
            type(store).from_url(_with_query(url, "codec=polykv-no-such-codec")).close()
        assert info.value.backend is not None and "json" in str(info.value), "it lists the known codecs"
        with pytest.raises(InvalidArgumentError, match="unknown codec") as keyword:
            type(store).from_url(url, codec="polykv-no-such-codec").close()
        assert not isinstance(keyword.value, InvalidURLError) and keyword.value.backend is not None

    def test_query_secrets_never_show(self, store: Any, request: pytest.FixtureRequest) -> None:
        url = _with_query(_store_url(request), f"{_UNKNOWN}=1&password={_SECRET}&token={_SECRET}")
        assert _SECRET not in redact_url(url)
        with pytest.raises(InvalidArgumentError) as info:
            type(store).from_url(url).close()
        assert _SECRET not in str(info.value) and _SECRET not in repr(info.value)
        assert _SECRET not in repr(store)
