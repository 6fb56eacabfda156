"""Secrets out of messages: find the secret values in URLs (``secrets_in``) and remove them from text (``scrub``)."""

from __future__ import annotations

import re

__all__ = ["scrub", "secrets_in"]


def secrets_in(*urls: str) -> tuple[str, ...]:
    """The secret values in ``urls``: userinfo passwords and credential-like query options (as ``redact_url``
    masks them), raw and percent-decoded, so that ``scrub`` can remove them from any message."""
    from urllib.parse import parse_qsl, unquote

    from ..options import is_secret_option

    found: list[str] = []
    for url in urls:
        if not isinstance(url, str) or "://" not in url:
            continue
        for match in re.finditer(r"://[^/@:?#\s]*:([^/?#\s]*)@", url):
            found += [match.group(1), unquote(match.group(1))]
        for query in re.findall(r"\?([^#\s]*)", url):
            for piece in re.split(r"[&;]", query):
                name, sep, value = piece.partition("=")
                if sep and value and is_secret_option(unquote(name)):
                    found.append(value)
            for name, value in parse_qsl(query, keep_blank_values=False):
                if is_secret_option(name):
                    found.append(value)
    return tuple(sorted({s for s in found if s}, key=len, reverse=True))


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` on one line with every value of ``secrets`` replaced by ``***`` (messages from polykv are
    redacted already; this scrubs what other code put in them)."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return " ".join(text.split())  # one line
