"""One error taxonomy for every graph provider.

The driver's own exception is always kept as ``__cause__`` (``raise ... from exc``) so logs keep
the detail, while the message itself is sanitised: it never carries a URI with credentials or a
password (see :func:`sanitize`).
"""

from __future__ import annotations

import re

from experio_platform.exceptions import ExperioPlatformError

__all__ = [
    "GraphAuthError",
    "GraphConstraintError",
    "GraphError",
    "GraphQueryError",
    "GraphTimeout",
    "GraphTransientError",
    "GraphUnavailable",
    "GraphValueError",
    "sanitize",
]


class GraphError(ExperioPlatformError):
    """Base of every graph error. ``retryable`` says whether a retry may succeed."""

    retryable: bool = False


class GraphUnavailable(GraphError):
    """The graph server is down, cold (scaled to zero) or unreachable; retry later."""

    retryable = True


class GraphTimeout(GraphError):
    """A connect or query deadline passed. Retryable for reads and idempotent writes."""

    retryable = True


class GraphTransientError(GraphError):
    """A server-side transient failure (deadlock, leader switch, busy); safe to retry."""

    retryable = True


class GraphConstraintError(GraphError):
    """A write broke a unique or mandatory constraint; retrying cannot help."""


class GraphQueryError(GraphError):
    """The Cypher is invalid or unsupported by this provider; never retried."""


class GraphAuthError(GraphError):
    """The server rejected the credentials; fix NEO4J_USER/NEO4J_PASSWORD or FALKOR_PASSWORD."""


class GraphValueError(GraphQueryError, ValueError):
    """A parameter cannot be stored as a graph property (NaN, infinity, a nested map...)."""


# user:password@ in URIs, and password=... / auth=(...) fragments some drivers put in messages.
_URI_CREDS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")
_KV_SECRET = re.compile(r"(?i)(password|passwd|pwd|secret|token|auth)(['\"]?\s*[=:]\s*)\S+")


def sanitize(text: str, *secrets: str | None) -> str:
    """Return ``text`` with credentials removed: URI userinfo, key=value secrets, given secrets."""
    text = _URI_CREDS.sub(r"\g<scheme>***@", text)
    text = _KV_SECRET.sub(r"\1\2***", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    # Keep messages short: drivers sometimes embed whole stack descriptions.
    return text if len(text) <= 500 else text[:497] + "..."
