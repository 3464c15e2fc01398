"""The build cache, as docker's classic builder keeps it: no separate index, the images
themselves are the cache.

A step's key is the image it starts from plus its ``created_by`` history text, which
already carries everything else the step depends on: the instruction with its variables
expanded, the build args RUN sees (``|1 V=2 ...``) and, for COPY/ADD, the checksum of the
files' content and metadata. A step hits when a local image whose parent is that image
has exactly one more history entry, and that entry's ``created_by`` is the key's
(moby ``getLocalCachedImage``). A rebuild with nothing changed therefore walks the same
chain of images and ends at the same image ID.

``--cache-from`` narrows where a hit may come from, as moby's ``ImageCache`` does: only
the listed images and their parents, back to the first (:func:`cache_sources`); an image
not found is skipped, so a list of unknown names means no hits at all. Without it, every
local image is a candidate.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from berth.engine.builder.backend import ImageLookup
from berth.oci.image import ImageConfig


@dataclass(frozen=True)
class CacheKey:
    parent: str  # image the step starts from; "" in an empty stage (FROM scratch)
    created_by: str
    depth: int  # history entries of the parent


def probe(images: ImageLookup, key: CacheKey, sources: frozenset[str] | None = None
          ) -> str | None:
    """The ID of the newest image that caches the step ``key``, if any; with ``sources``
    (:func:`cache_sources`), only one of those."""
    records = [r for i in images.image_children(key.parent)
               if (sources is None or i in sources)
               and (r := images.image_record(i)) is not None]
    for record in sorted(records, key=lambda r: r.created, reverse=True):
        config = cast(ImageConfig, json.loads(images.read_blob(record.config_digest)))
        history = config.get("history") or []
        if len(history) == key.depth + 1 and history[-1].get("created_by") == key.created_by:
            return record.id
    return None


def cache_sources(images: ImageLookup, image_ids: Iterable[str]) -> frozenset[str]:
    """``image_ids`` and every image each was built from, following ``parent`` links
    (the chain ``--cache-from`` lets a build reuse: moby's ``ImageCache.isParent``)."""
    chain: set[str] = set()
    for image_id in image_ids:
        while image_id and image_id not in chain:
            chain.add(image_id)
            record = images.image_record(image_id)
            image_id = record.parent if record is not None else ""
    return frozenset(chain)
