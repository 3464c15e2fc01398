"""``berth.client.tls``: the TLS session the tcp:// transport and hijacked streams use.

The peer is a stdlib ``ssl`` server socket on the other end of a socket pair, in a thread:
the handshake with client certificates, stdin's half-close under TLS (the server still
answers after reading EOF, as berthd's attach does), and one thread writing while another
reads, as ``berth run -i`` does.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.tlscerts import Certs, make_certs

from berth.client.stream import RawStream
from berth.client.tls import TLSOptions, TLSSocket, client_context
from berth.client.transport import TLSFailure


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("tls"))


def server_context(certs: Certs) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.cert("server"), certs.key("server"))
    context.load_verify_locations(certs.ca)
    context.verify_mode = ssl.CERT_REQUIRED  # berthd --tlsverify: client certificates
    # as berthd's listener: a half-close under TLS (no close_notify) is the client's EOF,
    # not a failure that would stop OpenSSL 3 from sending the answer
    context.options |= ssl.OP_IGNORE_UNEXPECTED_EOF
    return context


def client_options(certs: Certs) -> TLSOptions:
    return TLSOptions(verify=True, ca_file=str(certs.ca), cert_file=str(certs.cert("client")),
                      key_file=str(certs.key("client")))


@pytest.fixture
def peer(certs: Certs) -> Iterator[Callable[[Callable[[ssl.SSLSocket], None]], TLSSocket]]:
    """Start ``serve(tls_server_socket)`` in a thread; returns our connected TLSSocket."""
    threads: list[threading.Thread] = []
    errors: list[BaseException] = []

    def start(serve: Callable[[ssl.SSLSocket], None]) -> TLSSocket:
        ours, theirs = socket.socketpair()
        ours.settimeout(10)
        theirs.settimeout(10)

        def run() -> None:
            try:
                with server_context(certs).wrap_socket(theirs, server_side=True) as tls:
                    serve(tls)
            except BaseException as err:  # reported by the test, not lost in the thread
                errors.append(err)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        threads.append(thread)
        client = TLSSocket(ours, client_context("tcp://127.0.0.1:2376",
                                                client_options(certs)), "127.0.0.1")
        client.handshake()
        return client

    yield start
    for thread in threads:
        thread.join(10)
    assert not errors, errors


def read_to_eof(tls: ssl.SSLSocket) -> bytes:
    data = b""
    while chunk := tls.recv(65536):
        data += chunk
    return data


def test_half_close_under_tls_keeps_the_answer_coming(peer):
    def serve(tls: ssl.SSLSocket) -> None:
        got = read_to_eof(tls)  # our half-close reads as EOF (a ragged one: no close_notify)
        tls.sendall(b"echo:" + got)
        tls.unwrap()  # close_notify, then the socket closes

    client = peer(serve)
    stream = RawStream(client)
    stream.write(b"stdin bytes")
    stream.close_write()
    assert stream.read() == b"echo:stdin bytes"
    stream.close()


def test_one_thread_writes_while_another_reads(peer):
    total = 4 << 20

    def serve(tls: ssl.SSLSocket) -> None:  # echo until our half-close
        while chunk := tls.recv(65536):
            tls.sendall(chunk)
        tls.unwrap()

    client = peer(serve)
    stream = RawStream(client)
    block = bytes(range(256)) * 256

    def write() -> None:
        for _ in range(total // len(block)):
            stream.write(block)
        stream.close_write()

    writer = threading.Thread(target=write)
    writer.start()
    received = bytearray()
    while chunk := stream.read1(65536):
        received += chunk
    writer.join(10)
    assert len(received) == total and bytes(received[:len(block)]) == block


def test_shutdown_from_another_thread_ends_the_reader(peer):
    release = threading.Event()

    def serve(tls: ssl.SSLSocket) -> None:
        release.wait(10)

    stream = RawStream(peer(serve))
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(stream.read1()))
    reader.start()
    stream.shutdown()  # the detach keys, typed while the main thread reads the output
    reader.join(10)
    assert got == [b""]
    release.set()
    stream.close()


def test_an_untrusted_daemon_fails_the_handshake(certs, tmp_path):
    other = make_certs(tmp_path / "other")  # a CA that did not sign the server
    ours, theirs = socket.socketpair()

    def run() -> None:
        with pytest.raises(ssl.SSLError):
            server_context(certs).wrap_socket(theirs, server_side=True)
        theirs.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    options = TLSOptions(ca_file=str(other.ca), cert_file=str(certs.cert("client")),
                         key_file=str(certs.key("client")))
    client = TLSSocket(ours, client_context("tcp://127.0.0.1:2376", options), "127.0.0.1")
    with pytest.raises(ssl.SSLCertVerificationError):
        client.handshake()
    client.close()
    thread.join(10)


@pytest.mark.parametrize(("field", "message"), [
    ("ca_file", "could not read CA certificate"),
    ("cert_file", "could not load X509 key pair"),
])
def test_unreadable_files_are_a_tls_failure(certs, tmp_path: Path, field, message):
    options = {**client_options(certs).__dict__, field: str(tmp_path / "missing.pem")}
    with pytest.raises(TLSFailure, match=message):
        client_context("tcp://127.0.0.1:2376", TLSOptions(**options))
