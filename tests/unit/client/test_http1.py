"""The client's HTTP/1.1 framing (``berth.client.http1``), case by case.

Responses are fed from hand-written bytes through a scripted socket, whole and split into
every piece size that can cut a line or a chunk in two, and from a real stdlib
``http.server`` on a unix socket; requests are checked byte for byte.
"""

from __future__ import annotations

import io
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from scripted import ScriptedSocket

from berth import errors
from berth.client.api import EngineAPI
from berth.client.http1 import Connection
from berth.client.transport import DaemonUnreachable, ProtocolError
from berth.client.unix import UnixSocketTransport, connect_unix
from berth.client.unix import exchange as unix_exchange


def response(raw: bytes, step: int = 0, method: str = "GET"):
    return Connection(ScriptedSocket(raw, step)).response(method)  # type: ignore[arg-type]


STEPS = [0, 1, 2, 3, 7]  # 0: everything in one recv


# -- bodies ------------------------------------------------------------------------------
@pytest.mark.parametrize("step", STEPS)
def test_content_length_body(step):
    resp = response(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nApi-Version: 1.45\r\n\r\n"
                    b"hello world", step)
    assert (resp.status, resp.reason) == (200, "OK")
    assert resp.getheader("api-version") == "1.45" and resp.getheader("X-None", "d") == "d"
    assert resp.read() == b"hello world"
    assert resp.complete and resp.read() == b"" and resp.read1() == b""


@pytest.mark.parametrize("step", STEPS)
def test_chunked_with_extensions_and_trailers(step):
    raw = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5;name=value;other=\"q\"\r\nhello\r\n"
           b"A \t;ext\r\n, world!\r\n\r\n"
           b"0;last\r\nX-Checksum: abc\r\nX-Other:  two words \r\n\r\n")
    resp = response(raw, step)
    assert resp.read() == b"hello, world!\r\n"  # chunk data may hold CRLF
    assert resp.complete
    assert resp.trailers.get("x-checksum") == "abc"
    assert resp.trailers.get("X-Other") == "two words"


@pytest.mark.parametrize("step", STEPS)
def test_chunked_read_in_small_pieces_and_lines(step):
    raw = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
           b"4\r\n{\"a\"\r\n6\r\n:1}\n{\"\r\n5\r\nb\":2}\r\n1\r\n\n\r\n0\r\n\r\n")
    resp = response(raw, step)
    assert list(resp) == [b'{"a":1}\n', b'{"b":2}\n']
    assert resp.complete


def test_read_sizes_and_read1():
    resp = response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n")
    assert resp.read(4) == b"abcd"  # read(n) waits across chunks, as BufferedReader does
    assert resp.read1(10) == b"ef"  # read1 returns what one chunk has
    assert resp.read(10) == b""


@pytest.mark.parametrize("step", STEPS)
def test_body_until_eof_without_framing_headers(step):
    resp = response(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it\nand more",
                    step)
    assert resp.readline() == b"all of it\n"
    assert resp.read() == b"and more"
    assert resp.complete


def test_transfer_encoding_wins_over_content_length():
    resp = response(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked"
                    b"\r\n\r\n2\r\nok\r\n0\r\n\r\n")
    assert resp.read() == b"ok"


@pytest.mark.parametrize(("status", "method"), [(204, "DELETE"), (304, "GET"), (200, "HEAD")])
def test_responses_without_a_body_ignore_their_length(status, method):
    # A 304 or a HEAD answer may announce the entity's length; no body follows.
    sock = ScriptedSocket(f"HTTP/1.1 {status} X\r\nContent-Length: 10\r\n\r\n".encode())
    resp = Connection(sock).response(method)  # type: ignore[arg-type]
    assert resp.status == status and resp.complete and resp.read() == b""


def test_interim_100_continue_is_skipped():
    resp = response(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: 1\r\n\r\n"
                    b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}")
    assert resp.status == 201 and resp.read() == b"{}"


def test_repeated_headers_join_and_lines_may_end_in_bare_lf():
    resp = response(b"HTTP/1.1 200 OK\nWarning: a\nwarning: b\nContent-Length: 0\n\n")
    assert resp.getheader("Warning") == "a, b"
    assert "WARNING" in resp.headers and "nope" not in resp.headers
    assert [name for name, _ in resp.headers.fields] == ["Warning", "warning",
                                                          "Content-Length"]


def test_equal_repeated_content_lengths_are_one():
    assert response(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok").read() == b"ok"


# -- malformed responses -------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "message"), [
    (b"", "connection closed in the status line"),
    (b"HTTP/1.1 200 OK\r\nContent-Type: x\r\n", "connection closed in the header"),
    (b"garbage\r\n\r\n", "malformed status line"),
    (b"HTTP/2 200 OK\r\n\r\n", "malformed status line"),
    (b"HTTP/1.1 20 OK\r\n\r\n", "malformed status line"),
    (b"HTTP/1.1 2000 OK\r\n\r\n", "malformed status line"),
    (b"HTTP/1.1 abc OK\r\n\r\n", "malformed status line"),
    (b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "malformed header line"),
    (b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "malformed header line"),
    (b"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", "malformed header line"),
    (b"HTTP/1.1 200 OK\r\nX: a\r\n  folded\r\n\r\n", "obsolete line folding"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nx", "conflicting Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "malformed Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n", "malformed Content-Length"),
    (b"HTTP/1.1 200 OK\r\n" + b"X: " + b"y" * 70_000 + b"\r\n\r\n", "longer than"),
])
def test_malformed_heads_are_rejected(raw, message):
    with pytest.raises(ProtocolError, match=message):
        response(raw)


CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(("body", "message"), [
    (b"zz\r\n", "malformed chunk size"),
    (b"0x5\r\nhello\r\n0\r\n\r\n", "malformed chunk size"),
    (b"+5\r\nhello\r\n0\r\n\r\n", "malformed chunk size"),
    (b"1_0\r\n", "malformed chunk size"),
    (b";ext\r\n", "malformed chunk size"),
    (b"1" * 17 + b"\r\n", "malformed chunk size"),
    (b"3\r\nabcdef\r\n0\r\n\r\n", "chunk data longer than its chunk size"),
    (b"5\r\nabc", "connection closed with 2 bytes of the chunk"),
    (b"3\r\nabc\r\n", "connection closed in the chunk size line"),
    (b"3\r\nabc\r\n0\r\n", "connection closed in the trailer"),
    (b"0\r\nbad trailer\r\n\r\n", "malformed trailer line"),
])
def test_malformed_chunked_bodies_are_rejected(body, message):
    with pytest.raises(ProtocolError, match=message):
        response(CHUNKED + body, step=1).read()


def test_body_shorter_than_content_length_is_an_error():
    resp = response(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
    with pytest.raises(ProtocolError, match="5 bytes of the body still to come"):
        resp.read()


def test_body_longer_than_content_length_is_an_error():
    resp = response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA")
    with pytest.raises(ProtocolError, match="5 bytes follow the end of the body"):
        resp.read()


def test_bytes_after_the_last_chunk_are_an_error():
    with pytest.raises(ProtocolError, match="follow the end of the body"):
        response(CHUNKED + b"0\r\n\r\nHTTP/1.1 200 OK\r\n").read()


# -- upgrade -------------------------------------------------------------------------------
def test_upgrade_hands_over_socket_with_leftover_bytes():
    sock = ScriptedSocket(pieces=[
        b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n\x01\x00\x00",
        b"\x00\x00\x00\x00\x02hi",
    ])
    resp = Connection(sock).response("POST")  # type: ignore[arg-type]
    assert resp.status == 101 and resp.getheader("Upgrade") == "tcp"
    stream = resp.detach()
    assert stream.sock is sock
    resp.close()  # detached: the response no longer closes the socket
    assert not sock.closed
    assert stream.read(2) == b"\x01\x00"
    assert stream.read() == b"\x00\x00\x00\x00\x00\x02hi"


def test_upgrade_leftover_includes_bytes_read_ahead_by_readline():
    resp = response(b"HTTP/1.1 200 OK\r\n\r\nline\nraw bytes")
    assert resp.readline() == b"line\n"
    assert resp.detach().read() == b"raw bytes"


# -- requests ------------------------------------------------------------------------------
def sent(body=None, headers=None, method="POST", target="/v1.45/x?a=1"):
    sock = ScriptedSocket()
    Connection(sock).send(method, target, headers, body)  # type: ignore[arg-type]
    return bytes(sock.sent)


def test_request_with_bytes_body_has_content_length():
    assert sent(b'{"a":1}', {"Content-Type": "application/json"}) == (
        b"POST /v1.45/x?a=1 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
        b"\r\nContent-Length: 7\r\n\r\n{\"a\":1}")


def test_request_without_body():
    assert sent(method="GET", target="/_ping") == (
        b"GET /_ping HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert sent(method="POST").endswith(b"Content-Length: 0\r\n\r\n")


def test_streamed_file_is_chunked():
    body = io.BytesIO(b"x" * 70_000)
    raw = sent(body)
    head, _, payload = raw.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head and b"Content-Length" not in head
    assert payload == (b"10000\r\n" + b"x" * 65536 + b"\r\n" + b"1170\r\n" + b"x" * 4464
                       + b"\r\n0\r\n\r\n")


def test_streamed_iterable_skips_empty_blocks():
    assert sent(iter([b"ab", b"", b"c"])).endswith(b"2\r\nab\r\n1\r\nc\r\n0\r\n\r\n")


def test_streamed_file_with_content_length_goes_as_is():
    raw = sent(io.BytesIO(b"abc"), {"Content-Length": "3"})
    assert raw.endswith(b"Content-Length: 3\r\n\r\nabc")
    assert b"chunked" not in raw


@pytest.mark.parametrize(("data", "message"), [(b"ab", "shorter"), (b"abcd", "longer")])
def test_streamed_body_must_match_its_content_length(data, message):
    with pytest.raises(errors.InvalidArgument, match=message):
        sent(io.BytesIO(data), {"Content-Length": "3"})


@pytest.mark.parametrize(("target", "headers"), [
    ("/x HTTP/1.1\r\nX: y", None), ("/x", {"X": "a\r\nInjected: 1"}), ("/x", {"X\n": "a"}),
])
def test_line_breaks_in_request_fields_are_refused(target, headers):
    with pytest.raises(errors.InvalidArgument, match="line break"):
        sent(b"", headers, target=target)


def test_early_answer_while_sending_body_wins_over_broken_pipe():
    sock = ScriptedSocket(b"HTTP/1.1 413 Too Large\r\nContent-Length: 21\r\n\r\n"
                          b'{"message":"too big"}', fail_send_after=1)
    resp = unix_exchange(Connection(sock), "unix:///nonexistent.sock",  # type: ignore[arg-type]
                         "POST", "/images/create", None, io.BytesIO(b"x" * 10))
    with pytest.raises(errors.BerthError, match="too big") as info:
        EngineAPI(UnixSocketTransport("unix:///nonexistent.sock")).check(resp)
    assert info.value.status == 500 and sock.closed


def test_broken_pipe_without_answer_is_unreachable():
    sock = ScriptedSocket(b"", fail_send_after=0)
    with pytest.raises(DaemonUnreachable):
        unix_exchange(Connection(sock), "unix:///nonexistent.sock",  # type: ignore[arg-type]
                      "GET", "/_ping", None, None)


# -- against a real server -----------------------------------------------------------------
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, dict[str, str], bytes]]

    def log_message(self, format, *args):
        return None

    def address_string(self):
        return "unix"

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding") == "chunked":
            data = b""
            while size := int(self.rfile.readline().split(b";")[0], 16):
                data += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return data
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        body = self._body() if self.command != "HEAD" else b""
        self.seen.append((self.command, self.path, dict(self.headers), body))
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Sum")
            self.end_headers()
            self.wfile.write(b"4;x=y\r\nabcd\r\n2\r\nef\r\n0\r\nX-Sum: 6\r\n\r\n")
        elif self.path == "/empty":
            self.send_response(204)
            self.end_headers()
        elif self.path == "/not-modified":
            self.send_response(304)
            self.send_header("Content-Length", "5")
            self.end_headers()
        elif self.path == "/close":
            self.close_connection = True
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until the end")
        else:
            payload = b"echo:" + body
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

    do_GET = do_POST = do_HEAD = _handle


class UnixHTTPServer(ThreadingHTTPServer):
    address_family = socket.AF_UNIX
    daemon_threads = True

    def server_bind(self) -> None:
        self.socket.bind(self.server_address)
        self.server_name, self.server_port = "localhost", 0


@pytest.fixture
def server(tmp_path):
    path = str(tmp_path / "http.sock")
    handler = type("RecordingHandler", (Handler,), {"seen": []})
    httpd = UnixHTTPServer(path, handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield path, handler.seen
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def exchange(path, method, target, body=None, headers=None):
    conn = Connection(connect_unix(path, timeout=5))
    conn.send(method, target, headers, body)
    return conn.response(method)


@pytest.mark.parametrize(("target", "method", "status", "body"), [
    ("/chunked", "GET", 200, b"abcdef"),
    ("/empty", "GET", 204, b""),
    ("/not-modified", "GET", 304, b""),
    ("/close", "GET", 200, b"until the end"),
    ("/echo", "HEAD", 200, b""),
    ("/echo", "GET", 200, b"echo:"),
])
def test_real_server_framings(server, target, method, status, body):
    path, _ = server
    with exchange(path, method, target) as resp:
        assert resp.status == status
        assert resp.read() == body
        assert resp.complete
    if target == "/chunked":
        assert resp.trailers.get("x-sum") == "6"


def test_real_server_receives_streamed_and_sized_bodies(server):
    path, seen = server
    with exchange(path, "POST", "/echo", io.BytesIO(b"y" * 100_000)) as resp:
        assert resp.read() == b"echo:" + b"y" * 100_000
    with exchange(path, "POST", "/echo", io.BytesIO(b"abc"), {"Content-Length": "3"}) as resp:
        assert resp.read() == b"echo:abc"
    (_, _, chunked_headers, _), (_, _, sized_headers, sized_body) = seen
    assert chunked_headers["Transfer-Encoding"] == "chunked"
    assert sized_headers["Content-Length"] == "3" and sized_body == b"abc"


def test_connection_reset_while_reading_is_a_protocol_error():
    class ResetSocket(ScriptedSocket):
        def recv(self, size):
            raise ConnectionResetError(104, "Connection reset by peer")

    with pytest.raises(ProtocolError, match="Connection reset by peer"):
        Connection(ResetSocket()).response("GET")  # type: ignore[arg-type]
