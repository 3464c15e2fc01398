"""``docker images`` filters (moby ``daemon/images/images.go``): ``dangling``,
``reference`` (Go ``path.Match`` globs against ``name:tag`` and ``name``), ``label``,
``before`` and ``since`` (images created before/after a named image)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from berth.engine import clock
from berth.errors import InvalidArgument
from berth.oci.reference import Reference, parse

from .image import Image

ACCEPTED = frozenset({"dangling", "label", "before", "since", "reference"})


@dataclass(frozen=True)
class ImageFilters:
    dangling: bool | None = None
    references: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    before: str | None = None  # an image reference or ID
    since: str | None = None


def boolean(name: str, values: list[str]) -> bool:
    if len(values) != 1 or values[0].lower() not in ("true", "false", "1", "0"):
        raise InvalidArgument(f"Invalid filter '{name}={','.join(values)}'")
    return values[0].lower() in ("true", "1")


def parse_filters(raw: Mapping[str, list[str]]) -> ImageFilters:
    unknown = sorted(set(raw) - ACCEPTED)
    if unknown:
        raise InvalidArgument(f"invalid filter '{unknown[0]}'")
    dangling = boolean("dangling", raw["dangling"]) if "dangling" in raw else None
    return ImageFilters(dangling=dangling, references=tuple(raw.get("reference", [])),
                        labels=tuple(raw.get("label", [])),
                        before=_last(raw, "before"), since=_last(raw, "since"))


def _last(raw: Mapping[str, list[str]], key: str) -> str | None:
    values = raw.get(key)
    return values[-1] if values else None


def _glob(pattern: str) -> re.Pattern[str]:
    """Go's ``path.Match``: ``*`` and ``?`` never match ``/``; ``[...]`` classes."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                raise InvalidArgument("syntax error in pattern")
            body = pattern[i + 1:end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            out.append(f"[{'^' if negate else ''}{body.replace(chr(92), chr(92) * 2)}]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def reference_matches(pattern: str, ref: Reference) -> bool:
    """docker's ``reference.FamiliarMatch``."""
    glob = _glob(pattern)
    return bool(glob.match(ref.familiar()) or glob.match(ref.familiar_name()))


def labels_match(wanted: Iterable[str], labels: Mapping[str, str]) -> bool:
    for item in wanted:
        key, sep, value = item.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


def select(images: list[Image], filters: ImageFilters, all: bool,
           created_of: Callable[[str], str]) -> list[Image]:
    """The images ``docker images`` lists, their names narrowed by ``reference``;
    ``created_of(ref)`` is the creation time of the image a before/since filter names."""
    before = clock.parse(created_of(filters.before)) if filters.before else None
    since = clock.parse(created_of(filters.since)) if filters.since else None
    parents = {i.parent for i in images if i.parent}
    out = []
    for image in images:
        if filters.dangling and image.id in parents:
            continue
        created = _created(image)
        if (before is not None and created >= before) or (since is not None
                                                         and created <= since):
            continue
        if filters.labels and not labels_match(
                filters.labels, image.config.get("config", {}).get("Labels") or {}):
            continue
        tags = [t for t in image.repo_tags if _wanted(t, filters)]
        digests = [d for d in image.repo_digests if _wanted(d, filters)]
        if not tags and not digests:
            named = bool(image.repo_tags or image.repo_digests)
            if named or filters.references or filters.dangling is False:
                continue
            if not all and image.id in parents:
                continue
        elif filters.dangling and tags:
            continue
        out.append(replace(image, repo_tags=tuple(tags), repo_digests=tuple(digests)))
    return out


def _wanted(name: str, filters: ImageFilters) -> bool:
    return not filters.references or any(reference_matches(p, parse(name))
                                         for p in filters.references)


def _created(image: Image) -> float:
    try:
        return clock.parse(image.created)
    except ValueError:
        return 0.0
