"""The attach relay: bytes between a hijacked client connection and a shim attach stream.

One function serves ``POST /containers/{id}/attach`` and ``POST /exec/{id}/start``::

    client ──stdin──▶ [detach-key filter] ──▶ shim attach socket ──▶ process stdin
    client ◀──────────── stdout/stderr (stdcopy frames or tty bytes, spliced as is)

Detach keys are moby's: a comma-separated list of single characters or ``ctrl-<x>``
(default ``ctrl-p,ctrl-q``), honoured only with a tty, as moby's ``copyEscapable`` is. When
the whole sequence has arrived the daemon ends the client's connection and the process
keeps running; a partial match is held back until the next bytes decide it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from berth.api.server.hijack import Hijacked
from berth.formats.stdcopy import STDOUT, FrameDecoder, encode_frame

DEFAULT_DETACH_KEYS = b"\x10\x11"  # ctrl-p, ctrl-q

# moby/term's keyMap: ctrl-@ is NUL, ctrl-a..ctrl-z are 1..26, then ctrl-[ \ ] ^ _.
_CTRL = {f"ctrl-{ch}": code for code, ch in enumerate("@abcdefghijklmnopqrstuvwxyz[\\]^_")}


def parse_detach_keys(spec: str) -> bytes:
    """``"ctrl-p,ctrl-q"`` → ``b"\\x10\\x11"``; an empty spec is the default sequence.
    Raise ValueError for anything moby's ``term.ToBytes`` rejects."""
    if not spec:
        return DEFAULT_DETACH_KEYS
    codes = bytearray()
    for key in spec.split(","):
        if len(key) == 1:
            codes += key.encode()
            continue
        code = _CTRL.get(key.lower())
        if code is None:
            raise ValueError(f"Unknown character: '{key}'")
        codes.append(code)
    return bytes(codes)


class _EscapeFilter:
    """Passes stdin through, holding back a prefix of the detach sequence until the next
    bytes either complete it (detach) or break it (the held bytes are released)."""

    def __init__(self, keys: bytes) -> None:
        self._keys = keys
        self._held = 0  # how many bytes of ``keys`` are matched and held back

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """The bytes to forward now, and whether the sequence is complete."""
        out = bytearray()
        for byte in data:
            if byte == self._keys[self._held]:
                self._held += 1
                if self._held == len(self._keys):
                    return bytes(out), True
                continue
            out += self._keys[:self._held]
            self._held = 0
            if byte == self._keys[0]:
                self._held = 1
                if len(self._keys) == 1:
                    return bytes(out), True
            else:
                out.append(byte)
        return bytes(out), False


Reframe = Callable[[bytes], bytes]


def reframing(produced_tty: bool, raw: bool) -> Reframe | None:
    """How output made for one framing is sent in another: an exec's process writes to a
    tty (raw bytes) or not (stdcopy frames, from the shim), while the client asks for raw
    or multiplexed output at start. None when they agree."""
    if produced_tty == raw:
        return None
    if produced_tty:
        return lambda data: encode_frame(STDOUT, data)
    decoder = FrameDecoder()
    return lambda data: b"".join(payload for _, payload in decoder.feed(data))


async def splice(conn: Hijacked, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 stdin: bool, detach_keys: bytes | None, reframe: Reframe | None = None
                 ) -> bool:
    """Relay until the process's output ends, the client goes away, or the client types
    the detach keys (``detach_keys`` None: no detaching). Return True on a detach.

    Closes the shim side only; the caller closes ``conn`` once it has nothing more to say
    (an exec records its exit code first, so a client that inspects it at EOF sees it)."""

    async def pump_in() -> bool:
        escape = _EscapeFilter(detach_keys) if detach_keys else None
        while data := await conn.reader.read(65536):
            detached = False
            if escape is not None:
                data, detached = escape.feed(data)
            if data:
                writer.write(data)
                await writer.drain()
            if detached:
                return True
        if writer.can_write_eof():
            writer.write_eof()  # the client's stdin EOF closes the process's stdin
        return False

    async def pump_out() -> None:
        while data := await reader.read(65536):
            if reframe is not None:
                data = reframe(data)
            if data:
                await conn.write(data)

    out_task = asyncio.create_task(pump_out())
    in_task = asyncio.create_task(pump_in()) if stdin else None
    pending: set[asyncio.Task[None] | asyncio.Task[bool]] = {out_task}
    if in_task is not None:
        pending.add(in_task)
    detached = False
    try:
        while out_task in pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if in_task in done and not in_task.cancelled() and in_task.exception() is None:
                detached = in_task.result()
                if detached:
                    break
    finally:
        for task in (out_task, in_task):
            if task is not None and not task.done():
                task.cancel()
            if task is not None:
                # A client or shim that went away ends the relay, never the process.
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await task
        writer.close()
    return detached
