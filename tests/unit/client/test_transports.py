"""The ``Transport`` seam: what both transports must do alike (against the fake daemon, via
the ``client`` fixture), what the h11 transport writes and reads (against scripted
sockets), and how ``-H`` values are read."""

from __future__ import annotations

import io

import pytest
from fake_daemon import CID
from scripted import ScriptedSocket

from berth import errors
from berth.client.api import EngineAPI
from berth.client.execs import ExecSpec
from berth.client.h11transport import H11Transport
from berth.client.transport import DaemonUnreachable, ProtocolError, parse_host, transport_for
from berth.client.unix import UnixSocketTransport


# -- both transports -----------------------------------------------------------------------
@pytest.mark.parametrize("tty", [False, True])
def test_attach_stdin_eof_keeps_the_output_coming(daemon, client, tty):
    """``echo hi | berth run -i``: stdin ends (a half-close) before the output is sent."""
    daemon.state.echo_stdin, daemon.state.tty = True, tty
    with client.containers.attach(CID, stdin=True) as stream:
        client.containers.start(CID)
        stream.write(b"hi\n")
        stream.close_write()
        out, err = io.BytesIO(), io.BytesIO()
        stream.copy_output(out, err if not tty else out, tty=tty)
    want = b"out\nerr\nhi\n" if tty else b"out\nhi\n"
    assert out.getvalue() == want


def test_exec_start_sends_its_body_and_hijacks(daemon, client):
    daemon.state.echo_stdin = True
    exec_id = client.execs.create(CID, ExecSpec(("cat",), attach_stdin=True,
                                                attach_stdout=True))
    with client.execs.start(exec_id) as stream:
        stream.write(b"typed")
        stream.close_write()
        out = io.BytesIO()
        stream.copy_output(out, io.BytesIO(), tty=False)
    assert out.getvalue().endswith(b"typed")


def test_events_stream_as_json_lines(daemon, client):
    daemon.state.events = [{"status": "start", "id": "a"}, {"status": "die", "id": "a"}]
    assert [e["status"] for e in client.events()] == ["start", "die"]


# -- h11 against scripted sockets ----------------------------------------------------------
def h11_over(sock: ScriptedSocket) -> H11Transport:
    return H11Transport("tcp://127.0.0.1:2375", lambda: sock,  # type: ignore[arg-type,return-value]
                        "127.0.0.1:2375")


def test_h11_request_head_and_sized_body_go_out_in_one_write():
    sock = ScriptedSocket(b"HTTP/1.1 204 No Content\r\n\r\n")
    resp = h11_over(sock).exchange("POST", "/v1.45/x?a=1", {"Content-Type": "application/json"},
                                   b'{"a":1}')
    assert resp.status == 204 and resp.read() == b""
    assert sock.sends == 1 and bytes(sock.sent) == (
        b"POST /v1.45/x?a=1 HTTP/1.1\r\nHost: 127.0.0.1:2375\r\nContent-Type: application/json"
        b"\r\nContent-Length: 7\r\n\r\n{\"a\":1}")


def test_h11_streams_a_file_chunked_and_reads_a_chunked_answer():
    sock = ScriptedSocket(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", step=5)
    resp = h11_over(sock).exchange("POST", "/build", None, io.BytesIO(b"x" * 70_000))
    assert resp.readline() == b"abcde" and resp.read() == b""
    head, _, body = bytes(sock.sent).partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert body.endswith(b"\r\n0\r\n\r\n") and body.count(b"x") == 70_000


@pytest.mark.parametrize(("data", "message"), [(b"ab", "invalid request"),
                                               (b"abcd", "invalid request")])
def test_h11_body_off_its_content_length_is_refused(data, message):
    sock = ScriptedSocket(b"")
    with pytest.raises(errors.InvalidArgument, match=message):
        h11_over(sock).exchange("POST", "/x", {"Content-Length": "3"}, io.BytesIO(data))
    assert sock.closed


def test_h11_upgrade_hands_over_the_bytes_behind_the_head():
    sock = ScriptedSocket(pieces=[
        b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
        b"Content-Type: application/vnd.docker.raw-stream\r\n\r\nfirst ", b"second"])
    resp = h11_over(sock).exchange("POST", "/attach", {"Connection": "Upgrade",
                                                       "Upgrade": "tcp"}, None)
    assert resp.status == 101 and resp.getheader("upgrade") == "tcp"
    stream = resp.detach()
    resp.close()  # detached: the response no longer closes the socket
    assert not sock.closed
    assert stream.read() == b"first second"


def test_h11_early_answer_while_sending_body_wins_over_broken_pipe():
    sock = ScriptedSocket(b"HTTP/1.1 413 Too Large\r\nContent-Length: 21\r\n\r\n"
                          b'{"message":"too big"}', fail_send_after=1)
    api = EngineAPI(h11_over(sock))
    with pytest.raises(errors.BerthError, match="too big"):
        api.request("POST", "/images/create", body=io.BytesIO(b"x" * 10))
    assert sock.closed


def test_h11_broken_pipe_without_answer_is_unreachable():
    sock = ScriptedSocket(b"", fail_send_after=0)
    with pytest.raises(DaemonUnreachable):
        h11_over(sock).exchange("GET", "/_ping", None, None)


@pytest.mark.parametrize("raw", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    b"NOT HTTP\r\n\r\n",
])
def test_h11_malformed_or_cut_responses_are_protocol_errors(raw):
    with pytest.raises(ProtocolError):
        h11_over(ScriptedSocket(raw)).exchange("GET", "/x", None, None).read()


# -- -H values -----------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "tls", "want"), [
    ("", False, "unix:///run/berth/berth.sock"),
    ("unix://", False, "unix:///run/berth/berth.sock"),
    ("unix:///tmp/b.sock", False, "unix:///tmp/b.sock"),
    ("tcp://10.0.0.1:2375", False, "tcp://10.0.0.1:2375"),
    ("tcp://10.0.0.1", False, "tcp://10.0.0.1:2375"),
    ("tcp://10.0.0.1", True, "tcp://10.0.0.1:2376"),
    ("tcp://:4243", False, "tcp://127.0.0.1:4243"),
    ("daemon.lan:4243", False, "tcp://daemon.lan:4243"),
    ("tcp://[::1]:2375", False, "tcp://[::1]:2375"),
])
def test_hosts_read_as_docker_reads_them(text, tls, want):
    assert parse_host(text, tls) == want


@pytest.mark.parametrize("text", ["ssh://me@box", "tcp://h:99999", "tcp://h:2375/path",
                                  "fd://"])
def test_unsupported_hosts_are_refused(text):
    with pytest.raises(errors.InvalidArgument, match="Invalid bind address format"):
        parse_host(text)


def test_each_scheme_gets_its_transport():
    assert isinstance(transport_for("unix:///tmp/b.sock"), UnixSocketTransport)
    remote = transport_for("tcp://127.0.0.1:2375")
    assert isinstance(remote, H11Transport) and remote.host == "tcp://127.0.0.1:2375"
