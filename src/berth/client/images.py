"""``/images``: list, inspect, remove, import, pull and Berth's bootstrap extension."""

from __future__ import annotations

import builtins

from berth.client import jsoncodec
from berth.client.models import ImageSummary, Progress
from berth.client.transport import json_lines, quote_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import IO, Any

    from berth.client.models import ImportOptions
    from berth.client.transport import Transport


class ImagesAPI:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def list(self, all: bool = False,
             filters: dict[str, list[str]] | None = None) -> list[ImageSummary]:
        params = {"all": all or None, "filters": jsoncodec.dumps(filters) if filters else None}
        docs = self._t.json("GET", "/images/json", params)
        return [ImageSummary.from_json(d) for d in docs or ()]

    def inspect(self, name: str) -> dict[str, Any]:
        doc: dict[str, Any] = self._t.json("GET", f"/images/{quote_id(name)}/json")
        return doc

    def remove(self, name: str, force: bool = False,
               prune: bool = True) -> builtins.list[dict[str, str]]:
        """The ``Untagged``/``Deleted`` records, in the daemon's order."""
        params = {"force": force or None, "noprune": None if prune else True}
        docs: builtins.list[dict[str, str]] = self._t.json("DELETE", f"/images/{quote_id(name)}",
                                                  params) or []
        return docs

    def import_tar(self, source: IO[bytes] | None, opts: ImportOptions,
                   size: int | None = None) -> Iterator[Progress]:
        """Stream ``source`` as the body (never read whole) and yield the progress; with
        no source the daemon fetches ``opts.source``, a URL."""
        params = {"fromSrc": opts.source if source is None else "-",
                  "repo": opts.repo or None, "tag": opts.tag or None,
                  "changes": opts.changes or None, "message": opts.message or None,
                  "platform": opts.platform or None}
        headers = {"Content-Type": "application/x-tar"}
        if size is not None:
            headers["Content-Length"] = str(size)
        resp = self._t.request("POST", "/images/create", params, source, headers)
        return _progress(json_lines(resp))

    def pull(self, image: str, tag: str) -> Iterator[Progress]:
        resp = self._t.request("POST", "/images/create", {"fromImage": image, "tag": tag})
        return _progress(json_lines(resp))

    def bootstrap(self, name: str) -> Iterator[Progress]:
        """Berth's extension: build a base image (``busybox``) from the host."""
        resp = self._t.request("POST", "/images/bootstrap", {"name": name})
        return _progress(json_lines(resp))


def _progress(docs: Iterator[Any]) -> Iterator[Progress]:
    for doc in docs:
        if isinstance(doc, dict):
            yield Progress.from_json(doc)
