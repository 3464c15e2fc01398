"""``/containers``: the container endpoints the CLI uses."""

from __future__ import annotations

import builtins
import json

from berth.client.api import quote_id, raw_chunks
from berth.client.models import ContainerSummary, Created, WaitResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from berth.api.types import responses as wire
    from berth.client.api import EngineAPI
    from berth.client.containerspec import ContainerSpec
    from berth.client.hijack import HijackedStream
    from berth.client.models import LogOptions
    from berth.client.resources import ResourceUpdate
    from berth.client.transport import Response

    Filters = dict[str, list[str]]  # module scope: ``list`` is a method name in the class


class PendingWait:
    """A ``/wait`` whose headers have arrived (so the daemon has registered it) and whose
    body, the exit status, comes when the container reaches the condition."""

    def __init__(self, resp: Response) -> None:
        self._resp = resp

    def result(self) -> WaitResult:
        with self._resp:
            raw = self._resp.read()
        doc: wire.ContainerWaitResponse = json.loads(raw)
        return WaitResult.from_json(doc)

    def close(self) -> None:
        self._resp.close()


class ContainersAPI:
    def __init__(self, api: EngineAPI) -> None:
        self._api = api

    def list(self, all: bool = False, size: bool = False,
             filters: dict[str, list[str]] | None = None) -> list[ContainerSummary]:
        params = {"all": all or None, "size": size or None,
                  "filters": json.dumps(filters) if filters else None}
        docs: list[wire.ContainerSummary] = self._api.json("GET", "/containers/json", params)
        return [ContainerSummary.from_json(d) for d in docs or ()]

    def create(self, spec: ContainerSpec, name: str = "", platform: str = "") -> Created:
        params = {"name": name or None, "platform": platform or None}
        doc: wire.ContainerCreateResponse = self._api.json(
            "POST", "/containers/create", params, spec.to_json())
        return Created.from_json(doc)

    def inspect(self, ident: str, size: bool = False) -> wire.ContainerInspect:
        doc: wire.ContainerInspect = self._api.json(
            "GET", f"/containers/{quote_id(ident)}/json", {"size": size or None})
        return doc

    def start(self, ident: str) -> None:
        self._api.json("POST", f"/containers/{quote_id(ident)}/start")

    def stop(self, ident: str, timeout: int | None = None, signal: str = "") -> None:
        self._api.json("POST", f"/containers/{quote_id(ident)}/stop",
                       {"t": timeout, "signal": signal or None})

    def kill(self, ident: str, signal: str = "") -> None:
        self._api.json("POST", f"/containers/{quote_id(ident)}/kill", {"signal": signal or None})

    def remove(self, ident: str, force: bool = False, volumes: bool = False) -> None:
        self._api.json("DELETE", f"/containers/{quote_id(ident)}",
                       {"force": force or None, "v": volumes or None})

    def wait(self, ident: str, condition: str = "") -> WaitResult:
        return self.wait_pending(ident, condition).result()

    def wait_pending(self, ident: str, condition: str = "") -> PendingWait:
        """Register a wait now and collect its result later (``run`` does this before
        start so a short-lived container's exit cannot be missed)."""
        resp = self._api.request("POST", f"/containers/{quote_id(ident)}/wait",
                                 {"condition": condition or None})
        return PendingWait(resp)

    def attach(self, ident: str, stdin: bool = False, logs: bool = False,
               detach_keys: str = "") -> HijackedStream:
        params = {"stream": True, "stdout": True, "stderr": True, "stdin": stdin or None,
                  "logs": logs or None, "detachKeys": detach_keys or None}
        from berth.client.hijack import hijack  # only attached sessions need it

        return hijack(self._api, f"/containers/{quote_id(ident)}/attach", params)

    def resize(self, ident: str, height: int, width: int) -> None:
        self._api.json("POST", f"/containers/{quote_id(ident)}/resize",
                       {"h": height, "w": width})

    def restart(self, ident: str, timeout: int | None = None, signal: str = "") -> None:
        self._api.json("POST", f"/containers/{quote_id(ident)}/restart",
                       {"t": timeout, "signal": signal or None})

    def pause(self, ident: str) -> None:
        self._api.json("POST", f"/containers/{quote_id(ident)}/pause")

    def unpause(self, ident: str) -> None:
        self._api.json("POST", f"/containers/{quote_id(ident)}/unpause")

    def update(self, ident: str, change: ResourceUpdate) -> tuple[str, ...]:
        """``docker update``: the daemon's Warnings."""
        doc = self._api.json("POST", f"/containers/{quote_id(ident)}/update", None,
                             change.to_json())
        return tuple((doc or {}).get("Warnings") or ())

    def rename(self, ident: str, name: str) -> None:
        self._api.json("POST", f"/containers/{quote_id(ident)}/rename", {"name": name})

    def top(self, ident: str, ps_args: str = "",
            ) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
        """The titles and rows of ``ps`` run in the container's pid namespace."""
        doc = self._api.json("GET", f"/containers/{quote_id(ident)}/top",
                             {"ps_args": ps_args or None})
        return (tuple(doc.get("Titles") or ()),
                tuple(tuple(p) for p in doc.get("Processes") or ()))

    def prune(self, filters: Filters | None = None,
              ) -> tuple[tuple[str, ...], int]:
        """The ids removed and the bytes reclaimed."""
        doc = self._api.json("POST", "/containers/prune",
                             {"filters": json.dumps(filters) if filters else None})
        doc = doc or {}
        return (tuple(doc.get("ContainersDeleted") or ()),
                int(doc.get("SpaceReclaimed") or 0))

    def export(self, ident: str) -> Iterator[bytes]:
        """The container's root filesystem as a tar, as it arrives."""
        return raw_chunks(self._api.request("GET", f"/containers/{quote_id(ident)}/export"))

    def changes(self, ident: str) -> builtins.list[tuple[int, str]]:
        """``GET /containers/{id}/changes``: (kind, path), kind 0 modified, 1 added,
        2 deleted."""
        docs = self._api.json("GET", f"/containers/{quote_id(ident)}/changes") or ()
        return [(int(d.get("Kind", 0)), str(d.get("Path") or "")) for d in docs]

    def commit(self, ident: str, repo: str = "", tag: str = "", comment: str = "",
               author: str = "", changes: tuple[str, ...] = (), pause: bool = True) -> str:
        """``POST /commit``: the new image's id."""
        params = {"container": ident, "repo": repo, "tag": tag, "comment": comment,
                  "author": author, "changes": changes or None,
                  "pause": None if pause else False}
        doc = self._api.json("POST", "/commit", params) or {}
        return str(doc.get("Id") or "")

    def logs(self, ident: str, opts: LogOptions) -> Response:
        """The open log stream: stdcopy frames without a tty, raw bytes with one."""
        params = {"stdout": opts.stdout, "stderr": opts.stderr,
                  "follow": opts.follow or None, "timestamps": opts.timestamps or None,
                  "tail": opts.tail, "since": opts.since or None, "until": opts.until or None}
        return self._api.request("GET", f"/containers/{quote_id(ident)}/logs", params)

