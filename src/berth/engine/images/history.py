"""``docker history``: an image's config history as rows, newest first (moby
``daemon/images/image_history.go``).

Each history entry that made a layer is paired with the next diff_id and sized by that
layer's snapshot; ``empty_layer`` entries (ENV, CMD...) have size 0. Rows carry no ID
("<missing>") except the top one, the image itself, and further down those of its local
parents (an image built here on another one), each with its tags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from berth.engine import clock
from berth.errors import BerthError
from berth.oci.image import chain_ids

from .image import Image

MISSING = "<missing>"


@dataclass(frozen=True)
class HistoryItem:
    id: str
    created: int  # unix seconds
    created_by: str
    tags: tuple[str, ...]
    size: int
    comment: str


def _seconds(stamp: str) -> int:
    try:
        return int(clock.parse(stamp)) if stamp else 0
    except ValueError:
        return 0


def history(image: Image, layer_size: Callable[[str], int],
            parent_of: Callable[[str], Image | None]) -> list[HistoryItem]:
    """``layer_size(chain_id)``: the size of an unpacked layer; ``parent_of(id)``: the
    local parent image, if there is one."""
    chains = chain_ids(image.diff_ids)
    rows: list[HistoryItem] = []
    layer = 0
    for entry in image.config.get("history", []):
        size = 0
        if not entry.get("empty_layer", False):
            if layer >= len(chains):
                raise BerthError("too many non-empty layers in History section")
            size = layer_size(chains[layer])
            layer += 1
        rows.append(HistoryItem(MISSING, _seconds(entry.get("created", "")),
                                entry.get("created_by", ""), (), size,
                                entry.get("comment", "")))
    rows.reverse()
    current: Image | None = image
    for n, row in enumerate(rows):
        if current is None:
            break
        rows[n] = HistoryItem(current.id, row.created, row.created_by, current.repo_tags,
                              row.size, row.comment)
        current = parent_of(current.parent) if current.parent else None
    return rows
