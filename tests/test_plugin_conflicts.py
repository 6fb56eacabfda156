"""Issue 11, item 7: every name a plugin can claim (backend, URL scheme, codec, scheme alias) follows one
conflict rule (``polykv.claims.resolve_claims``), and ``polykv backends --load`` reports what
``registry[name]`` raises."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import polykv
from polykv import hooks
from polykv.backend_registry import BackendRegistry
from polykv.backends.memory import MemoryStore
from polykv.claims import Claim, resolve_claims
from polykv.cli import cli
from polykv.codecs import JSONCodec
from polykv.errors import PluginConflictError

#: The ``make_dist`` fixture (tests/conftest.py): installs a throwaway plugin distribution.
MakeDist = Callable[..., Path]


SOURCE = """
from polykv.backends.memory import MemoryStore

class S{n}(MemoryStore):
    _backend_type = "{name}"
    url_schemes = ("{scheme}",)

    @classmethod
    def from_url(cls, url, **options):
        return cls(**options)
"""


def test_resolve_claims_is_the_one_rule() -> None:
    a, b = Claim("entry_point", "a:A", "dist-a"), Claim("entry_point", "b:B", "dist-b")
    assert resolve_claims("backend", "x", [], how_to_choose="...") is None
    assert resolve_claims("backend", "x", [a, Claim("defined", "a:A")], how_to_choose="...") == a
    for order in ([a, b], [b, a]):  # the message does not depend on discovery order
        with pytest.raises(PluginConflictError) as info:
            resolve_claims("backend", "x", order, how_to_choose="pick one")
        assert str(info.value).index("dist-a") < str(info.value).index("dist-b")
        assert "pick one" in str(info.value)


def test_two_distributions_claiming_one_url_scheme_conflict_whatever_was_imported(make_dist: MakeDist) -> None:
    one = SOURCE.format(n=1, name="one", scheme="twin")
    two = SOURCE.format(n=2, name="two", scheme="twin")
    make_dist("polykv-one", {"polykv.backends": {"one:twin": "one_scheme:S1"}}, {"one_scheme": one})
    make_dist("polykv-two", {"polykv.backends": {"two:twin": "two_scheme:S2"}}, {"two_scheme": two})
    import one_scheme  # noqa: F401 - imported first: must not make it win

    with pytest.raises(PluginConflictError) as info:
        polykv.connect("twin://x")
    assert "polykv-one" in str(info.value) and "polykv-two" in str(info.value)


def test_a_distribution_claiming_a_builtin_scheme_conflicts(make_dist: MakeDist) -> None:
    mem = SOURCE.format(n=3, name="mem", scheme="sqlite")
    make_dist("polykv-mem", {"polykv.backends": {"mem:sqlite": "mem_scheme:S3"}}, {"mem_scheme": mem})
    with pytest.raises(PluginConflictError, match="polykv-mem"):
        polykv.connect("sqlite://")


def test_same_class_declared_twice_is_one_claim(make_dist: MakeDist) -> None:
    source = SOURCE.format(n=4, name="single", scheme="single")
    make_dist("polykv-single", {"polykv.backends": {"single:single": "single_mod:S4"}}, {"single_mod": source})
    make_dist("polykv-again", {"polykv.backends": {"single:single": "single_mod:S4"}}, {})
    assert type(polykv.connect("single://")).__name__ == "S4"
    assert type(BackendRegistry()["single"]).__name__ == "S4"


def test_backends_load_reports_what_the_registry_raises(make_dist: MakeDist) -> None:
    source = "from polykv.backends.memory import MemoryStore\nclass S{n}(MemoryStore):\n    pass\n"
    make_dist("polykv-left", {"polykv.backends": {"clash": "left_mod:S1"}}, {"left_mod": source.format(n=1)})
    make_dist("polykv-right", {"polykv.backends": {"clash": "right_mod:S2"}}, {"right_mod": source.format(n=2)})
    polykv.default_registry().refresh()
    with pytest.raises(PluginConflictError) as info:
        polykv.default_registry()["clash"]
    result = CliRunner().invoke(cli, ["backends", "--load"], terminal_width=400, env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.replace("│", " ").split())
    assert "PluginConflictError" in flat
    assert "polykv-left" in flat and "polykv-right" in flat
    assert " ".join(info.value.message.split())[:60] in flat


class _Offer:
    def __init__(self, name: str, codec: Any) -> None:
        self.name, self.codec = name, codec

    @hooks.hookimpl
    def polykv_codecs(self) -> dict[str, Any]:
        return {self.name: self.codec}

    @hooks.hookimpl
    def polykv_url_scheme_aliases(self) -> dict[str, str]:
        return {"twinalias": "memory" if self.codec is JSONCodec else "sqlite"}


def test_two_hook_plugins_offering_one_codec_or_alias_conflict() -> None:
    class Other(JSONCodec):
        name = "twin-codec"

    first, second = _Offer("twin-codec", JSONCodec), _Offer("twin-codec", Other)
    hooks.register(first, "offer-a")
    hooks.register(second, "offer-b")
    try:
        with pytest.raises(PluginConflictError, match=r"offer-a.*offer-b"):
            MemoryStore(codec="twin-codec")
        with pytest.raises(PluginConflictError):
            polykv.connect("twinalias://")
    finally:
        hooks.unregister(first)
        hooks.unregister(second)
    hooks.register(first, "offer-a")
    try:
        assert MemoryStore(codec="twin-codec").codec.name == "json"
    finally:
        hooks.unregister(first)
