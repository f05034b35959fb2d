"""Scrub credentials out of text before it reaches a response or a log line."""

from __future__ import annotations

import re
from collections.abc import Iterable

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")
_KEY_VALUE = re.compile(
    r"(?P<key>password|passwd|pwd|api[-_]?key|token|secret|key)(?P<sep>\s*[=:]\s*)"
    r"(?P<quote>['\"]?)[^'\"\s,;&)]+",
    re.IGNORECASE,
)
_MAX_LEN = 300


def sanitize(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Return ``text`` without URL userinfo, ``password=...`` pairs or any of ``secrets``."""
    # Longest first, so a secret that contains another one is removed whole.
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _USERINFO.sub(r"\g<scheme>***@", text)
    text = _KEY_VALUE.sub(r"\g<key>\g<sep>\g<quote>***", text)
    return text


def short(text: str) -> str:
    """Return ``text`` on one line, cut to a length fit for a JSON field."""
    text = " ".join(text.split())
    return text if len(text) <= _MAX_LEN else text[: _MAX_LEN - 1] + "…"
