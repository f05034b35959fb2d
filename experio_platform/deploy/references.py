"""Container image references by the OCI distribution grammar (``distribution/reference``).

The grammar is the one Docker, containerd and registries enforce::

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [domain "/"] path-component ["/" path-component]*
    domain     := host [":" port]
    tag        := [\\w][\\w.-]{0,127}
    digest     := algorithm ":" hex{32,}

Kept here, dependency-free, because the generator must reject an invalid ``image:`` before
``omctl build`` or the kubelet does (where the error surfaces far from the compose file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE = re.compile(
    rf"^(?P<name>(?:(?P<domain>{_DOMAIN})/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$"
)
# A name longer than this is refused by registries (distribution/reference NameTotalLengthMax).
NAME_TOTAL_LENGTH_MAX = 255


@dataclass(frozen=True)
class ImageReference:
    """A parsed image reference; ``name`` includes the registry, without tag or digest."""

    name: str
    tag: str | None
    digest: str | None

    def with_tag(self, tag: str) -> str:
        """Return the reference re-pinned to ``tag`` (any digest dropped: the tag is the pin)."""
        return f"{self.name}:{tag}"


class InvalidReference(ValueError):
    """The text is not a valid image reference by the OCI distribution grammar."""


def parse_reference(text: str) -> ImageReference:
    """Parse ``text`` as an image reference.

    Raises:
        InvalidReference: with the reason, when ``text`` does not follow the grammar.
    """
    if not isinstance(text, str) or not text:
        raise InvalidReference("empty image reference")
    match = _REFERENCE.fullmatch(text)
    if match is None:
        reason = "not a valid reference ([registry/]path[:tag][@digest], lowercase path)"
        if "$" in text:
            reason = "contains a variable (Omnistrate and the kubelet never interpolate image:)"
        raise InvalidReference(reason)
    name = match.group("name")
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(f"repository name longer than {NAME_TOTAL_LENGTH_MAX} characters")
    return ImageReference(name=name, tag=match.group("tag"), digest=match.group("digest"))
