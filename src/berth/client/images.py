"""``/images``: list, inspect, remove, import, pull and Berth's bootstrap extension."""

from __future__ import annotations

import builtins
import json

from berth.client.api import json_lines, quote_id, raw_chunks
from berth.client.models import ImageSummary, Progress

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import IO, Any

    from berth.api.types import responses as wire
    from berth.client.api import EngineAPI
    from berth.client.models import ImportOptions


class ImagesAPI:
    def __init__(self, api: EngineAPI) -> None:
        self._api = api

    def list(self, all: bool = False,
             filters: dict[str, list[str]] | None = None) -> list[ImageSummary]:
        params = {"all": all or None, "filters": json.dumps(filters) if filters else None}
        docs: builtins.list[wire.ImageSummary] = self._api.json("GET", "/images/json", params)
        return [ImageSummary.from_json(d) for d in docs or ()]

    def inspect(self, name: str) -> wire.ImageInspect:
        doc: wire.ImageInspect = self._api.json("GET", f"/images/{quote_id(name)}/json")
        return doc

    def remove(self, name: str, force: bool = False,
               prune: bool = True) -> builtins.list[dict[str, str]]:
        """The ``Untagged``/``Deleted`` records, in the daemon's order."""
        params = {"force": force or None, "noprune": None if prune else True}
        docs: builtins.list[dict[str, str]] = self._api.json("DELETE", f"/images/{quote_id(name)}",
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
        resp = self._api.request("POST", "/images/create", params, source, headers)
        return _progress(json_lines(resp))

    def pull(self, image: str, tag: str, auth: str | None = None,
             platform: str = "") -> Iterator[Progress]:
        """``auth``: the ``X-Registry-Auth`` value (``berth.cli.credentials``)."""
        resp = self._api.request("POST", "/images/create",
                                 {"fromImage": image, "tag": tag, "platform": platform or None},
                                 headers=_auth_header(auth))
        return _progress(json_lines(resp))

    def push(self, name: str, tag: str = "", auth: str | None = None) -> Iterator[Progress]:
        """Push ``name`` with ``tag`` (every tag of the repository if empty)."""
        resp = self._api.request("POST", f"/images/{quote_id(name)}/push",
                                 {"tag": tag or None}, headers=_auth_header(auth))
        return _progress(json_lines(resp))

    def tag(self, source: str, repo: str, tag: str = "") -> None:
        with self._api.request("POST", f"/images/{quote_id(source)}/tag",
                               {"repo": repo, "tag": tag or None}) as resp:
            resp.read()

    def login(self, username: str, password: str, server: str) -> dict[str, Any]:
        """``POST /auth``: the daemon checks the credentials against the registry."""
        doc: dict[str, Any] = self._api.json("POST", "/auth", None, {
            "username": username, "password": password, "serveraddress": server}) or {}
        return doc

    def bootstrap(self, name: str, mirror: str = "") -> Iterator[Progress]:
        """Berth's extension: build a base image (``busybox``, ``debian:bookworm`` from
        the Debian ``mirror``, by default the daemon's) on the daemon's host."""
        params = {"name": name, **({"mirror": mirror} if mirror else {})}
        resp = self._api.request("POST", "/images/bootstrap", params)
        return _progress(json_lines(resp))

    def save(self, names: builtins.list[str]) -> Iterator[bytes]:
        """The archive of ``names`` (``docker save``), as it arrives."""
        if len(names) == 1:
            resp = self._api.request("GET", f"/images/{quote_id(names[0])}/get")
        else:
            resp = self._api.request("GET", "/images/get", {"names": tuple(names)})
        return raw_chunks(resp)

    def load(self, source: IO[bytes], quiet: bool = False,
             size: int | None = None) -> Iterator[Progress]:
        """Stream an image archive as the body (never read whole); yield the progress."""
        headers = {"Content-Type": "application/x-tar"}
        if size is not None:
            headers["Content-Length"] = str(size)
        resp = self._api.request("POST", "/images/load", {"quiet": quiet or None}, source,
                                 headers)
        return _progress(json_lines(resp))

    def history(self, name: str) -> builtins.list[wire.HistoryResponseItem]:
        docs: builtins.list[wire.HistoryResponseItem] = self._api.json(
            "GET", f"/images/{quote_id(name)}/history") or []
        return docs

    def prune(self, filters: dict[str, builtins.list[str]] | None = None,
              ) -> tuple[builtins.list[dict[str, str]], int]:
        """The ``Untagged``/``Deleted`` records and the bytes reclaimed."""
        doc = self._api.json("POST", "/images/prune",
                             {"filters": json.dumps(filters) if filters else None}) or {}
        return list(doc.get("ImagesDeleted") or ()), int(doc.get("SpaceReclaimed") or 0)


def _auth_header(auth: str | None) -> dict[str, str] | None:
    return {"X-Registry-Auth": auth} if auth else None


def _progress(docs: Iterator[Any]) -> Iterator[Progress]:
    for doc in docs:
        if isinstance(doc, dict):
            yield Progress.from_json(doc)
