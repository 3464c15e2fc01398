"""``POST /build``: the classic builder's endpoint. The context tar is the request body,
sent chunked as it is produced; the answer is JSON lines read as they arrive."""

from __future__ import annotations

import json

from berth import errors
from berth.client.api import json_lines
from berth.client.models import Progress, Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Final

    from berth.client.api import EngineAPI
    from berth.client.transport import Body


class BuildOptions(Value):
    """The query of ``POST /build`` (docker's ``ImageBuildOptions``, classic subset).

    ``build_args`` values may be None: "declared on the command line, not set" (sent as
    JSON null, as the docker CLI does for ``--build-arg K`` with K not in its
    environment). ``secrets`` (id, content) is Berth's extension: they travel in the
    body, ahead of the context (:func:`secrets_preamble`), never in the query."""

    __slots__ = ("build_args", "dockerfile", "force_remove", "labels", "network", "no_cache",
                 "pull", "quiet", "remove", "secrets", "tags", "target")
    tags: Final[tuple[str, ...]]
    dockerfile: Final[str]
    build_args: Final[tuple[tuple[str, str | None], ...]]
    target: Final[str]
    no_cache: Final[bool]
    pull: Final[bool]
    labels: Final[tuple[tuple[str, str], ...]]
    quiet: Final[bool]
    network: Final[str]
    remove: Final[bool]
    force_remove: Final[bool]
    secrets: Final[tuple[tuple[str, bytes], ...]]

    def __init__(self, tags: tuple[str, ...] = (), dockerfile: str = "",
                 build_args: tuple[tuple[str, str | None], ...] = (), target: str = "",
                 no_cache: bool = False, pull: bool = False,
                 labels: tuple[tuple[str, str], ...] = (), quiet: bool = False,
                 network: str = "", remove: bool = True, force_remove: bool = False,
                 secrets: tuple[tuple[str, bytes], ...] = ()) -> None:
        self.tags = tags
        self.dockerfile = dockerfile
        self.build_args = build_args
        self.target = target
        self.no_cache = no_cache
        self.pull = pull
        self.labels = labels
        self.quiet = quiet
        self.network = network
        self.remove = remove
        self.force_remove = force_remove
        self.secrets = secrets

    def params(self) -> dict[str, str | bool | tuple[str, ...] | None]:
        return {
            "t": self.tags or None,
            "dockerfile": self.dockerfile or None,
            "buildargs": json.dumps(dict(self.build_args)) if self.build_args else None,
            "target": self.target or None,
            "nocache": self.no_cache or None,
            "pull": self.pull or None,
            "labels": json.dumps(dict(self.labels)) if self.labels else None,
            "q": self.quiet or None,
            "networkmode": self.network or None,
            "rm": self.remove,
            "forcerm": self.force_remove or None,
        }


SECRETS_PREFIX = ".berth-secrets/"
_BLOCK = 512


def secrets_preamble(secrets: Iterable[tuple[str, bytes]]) -> bytes:
    """Berth's build secrets on the wire: one uncompressed ustar entry
    ``.berth-secrets/<id>`` per secret, sent before the context archive (plain or
    compressed); the daemon takes them off the stream before it unpacks the context."""
    import tarfile

    out = []
    for ident, data in secrets:
        info = tarfile.TarInfo(SECRETS_PREFIX + ident)
        info.size, info.mode = len(data), 0o600
        try:
            header = info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict")
        except ValueError as err:
            raise ValueError(f"invalid secret id {ident!r}: {err}") from None
        out.append(header + data + b"\0" * (-len(data) % _BLOCK))
    return b"".join(out)


def _with_preamble(head: bytes, context: Body) -> Iterator[bytes]:
    yield head
    if isinstance(context, bytes | bytearray):
        yield bytes(context)
    elif context is None:
        return
    elif hasattr(context, "read"):
        while chunk := context.read(1 << 18):
            yield chunk
    else:
        yield from context


def reusable(api: EngineAPI, key: str, files: list[tuple[str, int, str]]
             ) -> tuple[str, list[int]]:
    """``POST /build/context`` (Berth's extension): the kept context of ``key`` that this
    build can start from, and the indices of ``files`` (path, size, signature) it holds
    unchanged; ``("", [])`` from a daemon that keeps none (or does not know the route)."""
    try:
        doc = api.json("POST", "/build/context", None,
                       {"key": key, "files": [list(f) for f in files]})
    except errors.NotFound:
        return "", []
    if not isinstance(doc, dict):
        return "", []
    return str(doc.get("base") or ""), [int(i) for i in doc.get("reuse") or ()]


def build(api: EngineAPI, context: Body, opts: BuildOptions) -> Iterator[Progress]:
    """Send ``context`` (a tar: bytes, a file, or an iterable of chunks, streamed; the
    secrets of ``opts`` ahead of it) and yield the build's messages as they come."""
    if opts.secrets:
        context = _with_preamble(secrets_preamble(opts.secrets), context)
    resp = api.request("POST", "/build", opts.params(), context,
                       {"Content-Type": "application/x-tar"})
    for doc in json_lines(resp):
        if isinstance(doc, dict):
            yield Progress.from_json(doc)


def prune(api: EngineAPI, all: bool = False, keep_storage: int = 0,
          filters: dict[str, list[str]] | None = None) -> tuple[list[str], int]:
    """``POST /build/prune``: the IDs of the build cache entries removed, and the bytes
    reclaimed."""
    doc = api.json("POST", "/build/prune", {
        "all": all or None, "keep-storage": keep_storage or None,
        "filters": json.dumps(filters) if filters else None}) or {}
    return [str(i) for i in doc.get("CachesDeleted") or ()], int(doc.get("SpaceReclaimed") or 0)
