"""Content digests (``sha256:<64 hex>``)."""

from __future__ import annotations

import hashlib
import re

from berth.errors import InvalidArgument

_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def validate(digest: str) -> str:
    """Return ``digest`` if it is a well-formed sha256 digest, else raise InvalidArgument."""
    if not _DIGEST_RE.match(digest):
        raise InvalidArgument(f"invalid digest: {digest!r}")
    return digest


def hex_part(digest: str) -> str:
    return validate(digest).split(":", 1)[1]
