"""A socket stand-in for framing tests: scripted bytes in, recorded bytes out."""

from __future__ import annotations


class ScriptedSocket:
    """Stands in for the socket: ``recv`` hands out ``data`` ``step`` bytes at a time (or
    the scripted pieces), ``sendall`` records what the client wrote."""

    def __init__(self, data: bytes = b"", step: int = 0, pieces: list[bytes] | None = None,
                 fail_send_after: int | None = None) -> None:
        if pieces is None:
            step = step or max(len(data), 1)
            pieces = [data[i:i + step] for i in range(0, len(data), step)]
        self.pieces = pieces
        self.sent = bytearray()
        self.closed = False
        self.sends = 0
        self.fail_send_after = fail_send_after

    def recv(self, size: int) -> bytes:
        if not self.pieces:
            return b""
        piece = self.pieces[0]
        if len(piece) > size:
            self.pieces[0] = piece[size:]
            return piece[:size]
        self.pieces.pop(0)
        return piece

    def sendall(self, data: bytes) -> None:
        self.sends += 1
        if self.fail_send_after is not None and self.sends > self.fail_send_after:
            raise BrokenPipeError(32, "Broken pipe")
        self.sent += data

    def close(self) -> None:
        self.closed = True

    def shutdown(self, how: int) -> None:
        pass
