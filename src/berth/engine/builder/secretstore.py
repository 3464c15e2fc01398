"""Build secrets (``berth build --secret id=x,src=file``): how they reach the daemon and
where they wait for a ``RUN --mount=type=secret``.

docker's classic ``/build`` has no secrets; Berth's extension sends them in the request
body, as uncompressed ustar entries named ``.berth-secrets/<id>`` *before* the context
archive (which may itself be compressed)::

    body = [.berth-secrets/a][.berth-secrets/b] <context tar, plain/gzip/bzip2/xz ...>
           └──── preamble: take_preamble() ───┘ └── receive_context() ─────────────────┘

The same preamble may hold one ``.berth-context`` entry: the berth CLI's list of the
context's files, some of which it left out of the tar for the daemon to take from the
context it kept from the last build (:mod:`berth.engine.builder.contextcache`).

The preamble is peeled off the stream before the context is unpacked, so no secret is
ever in the context (COPY cannot see it) nor in any layer: each one is written to a 0700
directory outside the context and bind-mounted read-only into the RUN that asks for it,
then the directory is deleted with the build.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

from berth.engine.builder.contextcache import MAX_MANIFEST
from berth.errors import InvalidArgument
from berth.formats.contextsync import MANIFEST_ENTRY as CONTEXT_MANIFEST

PREFIX = ".berth-secrets/"
MAX_SIZE = 500 * 1024  # buildkit's limit
_BLOCK = 512


class SecretStore:
    """The secrets of one build, as files in a private directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ids: set[str] = set()

    def _path(self, ident: str) -> Path:
        return self.directory / hashlib.sha256(ident.encode()).hexdigest()

    def add(self, ident: str, data: bytes) -> None:
        if not ident or "/" in ident:
            raise InvalidArgument(f"invalid secret id {ident!r}")
        if len(data) > MAX_SIZE:
            raise InvalidArgument(f"invalid secret size {len(data)}")
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self._path(ident), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                     0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        self.ids.add(ident)

    def file(self, ident: str, uid: int, gid: int, mode: int) -> Path | None:
        """A copy of secret ``ident`` owned ``uid:gid`` with ``mode`` (what the RUN sees
        through the bind mount); None when the build was given no such secret."""
        if ident not in self.ids:
            return None
        path = self.directory / f"{self._path(ident).name}-{uid}-{gid}-{mode:o}"
        if not path.exists():
            tmp = path.with_name(path.name + ".tmp")
            shutil.copyfile(self._path(ident), tmp)
            if os.geteuid() == 0:
                os.chown(tmp, uid, gid)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        return path

    def cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


async def take_preamble(body: AsyncIterator[bytes], store: SecretStore
                        ) -> tuple[AsyncIterator[bytes], bytes | None]:
    """Read the preamble of ``body``: secrets into ``store``; returns the rest of the
    body and the ``.berth-context`` entry's data, if there was one."""
    it = aiter(body)
    buf = bytearray()
    manifest: bytes | None = None

    async def fill(n: int) -> bool:
        while len(buf) < n:
            chunk = await anext(it, None)
            if chunk is None:
                return False
            buf.extend(chunk)
        return True

    while await fill(_BLOCK):
        try:
            info = tarfile.TarInfo.frombuf(bytes(buf[:_BLOCK]), "utf-8", "surrogateescape")
        except tarfile.HeaderError:
            break  # the context itself (a compressed one, or the end of an empty tar)
        is_manifest = info.name == CONTEXT_MANIFEST
        if not is_manifest and not info.name.startswith(PREFIX):
            break
        if not info.isfile():
            raise InvalidArgument(f"invalid build preamble entry {info.name!r}: not a file")
        if info.size > (MAX_MANIFEST if is_manifest else MAX_SIZE):
            what = CONTEXT_MANIFEST if is_manifest else "secret"
            raise InvalidArgument(f"invalid {what} size {info.size}")
        padded = _BLOCK + -(-info.size // _BLOCK) * _BLOCK
        if not await fill(padded):
            raise InvalidArgument(f"truncated build preamble entry {info.name!r}")
        data = bytes(buf[_BLOCK:_BLOCK + info.size])
        if is_manifest:
            manifest = data
        else:
            await asyncio.to_thread(store.add, info.name[len(PREFIX):], data)
        del buf[:padded]
    return _rest(bytes(buf), it), manifest


async def _rest(head: bytes, it: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if head:
        yield head
    async for chunk in it:
        yield chunk
