"""Validation of what clients put in a URL: repository names, tags and digests.

The grammar is the distribution spec's ("Pulling manifests")::

    name       [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*
    tag        [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
    digest     sha256:<64 lowercase hex>    (the one algorithm this registry stores)

A name is at most 255 characters, the limit distribution and most clients share. Each
check raises the ``RegistryError`` the spec names for it, so handlers never re-word them.
"""

from __future__ import annotations

import re

from berth.errors import InvalidArgument
from berth.oci import digest as digests
from berth.registry.server.errcode import ErrorCode, RegistryError

NAME_MAX_LENGTH = 255

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAME_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
# Any algorithm:encoded pair is a digest *syntactically*; only sha256 is supported.
_ANY_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


def validate_name(name: str) -> str:
    if len(name) > NAME_MAX_LENGTH or not _NAME_RE.match(name):
        raise RegistryError(ErrorCode.NAME_INVALID, detail={"name": name})
    return name


def is_tag(reference: str) -> bool:
    return bool(_TAG_RE.match(reference))


def is_digest(reference: str) -> bool:
    return bool(_ANY_DIGEST_RE.match(reference))


def validate_digest(digest: str) -> str:
    """Return ``digest`` if it is a sha256 digest this registry can verify."""
    try:
        return digests.validate(digest)
    except InvalidArgument as err:
        raise RegistryError(ErrorCode.DIGEST_INVALID, f"invalid or unsupported digest: "
                            f"{digest!r}", detail={"digest": digest}) from err


def validate_reference(reference: str) -> str:
    """A manifest reference is a tag or a digest."""
    if is_digest(reference):
        return validate_digest(reference)
    if not is_tag(reference):
        raise RegistryError(ErrorCode.MANIFEST_INVALID, f"invalid tag: {reference!r}",
                            detail={"reference": reference})
    return reference
