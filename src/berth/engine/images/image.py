"""The image as the engine hands it to the API layer."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from berth.errors import InvalidArgument, NotFound
from berth.oci.image import ImageConfig, chain_ids
from berth.oci.reference import Reference, parse

T = TypeVar("T")
_HEX_PREFIX = re.compile(r"^(?:sha256:)?([0-9a-f]{1,64})$")


@dataclass(frozen=True)
class Image:
    id: str  # "sha256:<hex>", the digest of the stored config bytes
    repo_tags: tuple[str, ...]  # familiar: "busybox:latest"
    repo_digests: tuple[str, ...]  # familiar: "busybox@sha256:..."
    created: str  # RFC 3339
    size: int
    config: ImageConfig
    parent: str
    comment: str

    @property
    def diff_ids(self) -> list[str]:
        return list(self.config["rootfs"]["diff_ids"])

    @property
    def chain_id(self) -> str | None:
        """The chain id of the top layer (the snapshot containers start from)."""
        ids = chain_ids(self.diff_ids)
        return ids[-1] if ids else None


def resolve(ref_or_id: str, by_reference: Callable[[Reference], T | None],
            by_id_prefix: Callable[[str], list[T]]) -> T:
    """docker's image lookup: a reference first (``busybox`` is ``busybox:latest``), then
    a unique id prefix (``sha256:`` optional); NotFound names the image as the user
    would, and a string that is neither is an invalid reference."""
    ref: Reference | None
    try:
        ref = parse(ref_or_id)
    except InvalidArgument:
        ref = None
    if ref is not None:
        found = by_reference(ref)
        if found is not None:
            return found
    match = _HEX_PREFIX.match(ref_or_id)
    if match is not None:
        candidates = by_id_prefix("sha256:" + match.group(1))
        if len(candidates) == 1:
            return candidates[0]
    if match is None and ref is None:
        raise InvalidArgument("invalid reference format")
    shown = ref.with_default_tag().familiar() if ref is not None else ref_or_id
    raise NotFound(f"No such image: {shown}")
