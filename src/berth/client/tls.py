"""TLS for tcp:// hosts, as docker's CLI sets it up (``--tls``, ``--tlsverify``,
``--tlscacert``/``--tlscert``/``--tlskey``; the CLI fills in the defaults from the
environment), and the TLS connection the h11 transport and hijacked streams run over.

``TLSSocket`` rather than ``ssl.SSLSocket``: an attach reads the output in one thread while
another writes stdin, and OpenSSL does not allow one SSL object to be used by two threads at
once, which ``SSLSocket`` leaves to it. Here the ``SSLObject`` sits between two memory BIOs
and every use of it holds ``_lock``; only the blocking ``recv`` and ``sendall`` on the TCP
socket happen outside it::

    reader thread:  recv ─▶ incoming BIO ─┐                 ┌─▶ read() plaintext
                                          ├─ SSLObject ─────┤    (under _lock)
    writer thread:  write(plaintext) ─────┘  (under _lock)  └─▶ outgoing BIO ─▶ sendall
                                                                (under _send_lock, taken
                                                                 before _lock is let go,
                                                                 so records leave in order)

Stdin's EOF half-closes the TCP socket under the TLS session (``shutdown(SHUT_WR)``),
without a close_notify, exactly as docker's ``tlsClientCon.CloseWrite`` does: the daemon
reads EOF and keeps sending the output. At the end a close_notify, or the peer's plain EOF
(docker's daemons send none after an attach), reads as b"": the HTTP framing above decides
whether the body was complete.
"""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass

from berth.client.stream import RECV_SIZE
from berth.client.transport import TLSFailure


@dataclass(frozen=True)
class TLSOptions:
    """``verify``: check the daemon's certificate against ``ca_file`` (``--tlsverify``);
    without it the connection is encrypted but the daemon is not authenticated
    (``--tls``). ``cert_file``/``key_file``: our client certificate, if any."""

    verify: bool = True
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""


def client_context(host: str, options: TLSOptions) -> ssl.SSLContext:
    """An SSL context for ``options``; unreadable files are a ``TLSFailure`` naming them."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # docker's client minimum
    if options.verify:
        try:
            if options.ca_file:  # docker: "Trust certs signed only by this CA"
                context.load_verify_locations(cafile=options.ca_file)
            else:
                context.load_default_certs()
        except (OSError, ssl.SSLError) as err:
            raise TLSFailure(host, f"could not read CA certificate {options.ca_file!r}: "
                                   f"{_reason(err)}") from err
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if options.cert_file or options.key_file:
        try:
            context.load_cert_chain(options.cert_file, options.key_file or None)
        except (OSError, ssl.SSLError) as err:
            raise TLSFailure(host, f"could not load X509 key pair ({options.cert_file!r}, "
                                   f"{options.key_file!r}): {_reason(err)}") from err
    return context


def tls_reason(err: ssl.SSLError) -> str:
    """An OpenSSL failure in the words Go's TLS stack uses (what docker users see)."""
    if isinstance(err, ssl.SSLCertVerificationError):
        return f"tls: failed to verify certificate: {err.verify_message}"
    return "tls: " + (err.reason or str(err)).lower().replace("_", " ")


def _reason(err: OSError) -> str:
    if isinstance(err, ssl.SSLError):
        return err.reason or str(err)
    return err.strerror or str(err)


class TLSSocket:
    """A client TLS session over a connected TCP socket, for one reading and one writing
    thread at a time. ``recv``/``sendall``/``shutdown``/``close`` as a socket has them."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, hostname: str,
                 host: str = "") -> None:
        self._host = host or hostname  # for messages: the -H value
        self._sock = sock
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl = context.wrap_bio(self._incoming, self._outgoing,
                                     server_hostname=hostname)
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()

    def handshake(self) -> None:
        """Run the TLS handshake (ssl.SSLError when either side refuses it)."""
        while True:
            with self._lock:
                try:
                    self._ssl.do_handshake()
                    done = True
                except ssl.SSLWantReadError:
                    done = False
                out = self._outgoing.read()
            if out:
                self._sock.sendall(out)
            if done:
                return
            if not self._fill():
                raise ssl.SSLEOFError(ssl.SSL_ERROR_EOF, "the daemon closed the connection "
                                      "during the TLS handshake")

    def _fill(self) -> bool:
        """One ``recv`` from the TCP socket into the incoming BIO; False at EOF."""
        data = self._sock.recv(RECV_SIZE)
        with self._lock:
            if data:
                self._incoming.write(data)
            else:
                self._incoming.write_eof()
        return bool(data)

    def recv(self, size: int) -> bytes:
        """Up to ``size`` bytes of plaintext, waiting for at most what one record needs;
        b"" at the end of the stream."""
        while True:
            with self._lock:
                try:
                    data: bytes | None = self._ssl.read(size)  # b"": after close_notify
                except ssl.SSLWantReadError:
                    data = None
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    return b""  # close_notify, or the peer's plain EOF (see the module doc)
                except ssl.SSLError as err:  # an alert: TLS 1.3 refuses our certificate here
                    raise TLSFailure(self._host, tls_reason(err)) from err
                self._send_pending()
            if data is not None:
                return data
            self._fill()  # at EOF the BIO gets its EOF, and the read above ends the stream

    def _send_pending(self) -> None:
        """Records the SSL object produced while reading (a TLS 1.3 key update answer):
        sent now, in order with the writer's (called holding ``_lock``)."""
        if self._outgoing.pending:
            with self._send_lock:
                self._sock.sendall(self._outgoing.read())

    def sendall(self, data: bytes) -> None:
        with self._lock:
            self._ssl.write(data)
            out = self._outgoing.read()
            self._send_lock.acquire()  # before _lock is let go: records leave in order
        try:
            self._sock.sendall(out)
        finally:
            self._send_lock.release()

    def shutdown(self, how: int) -> None:
        """The TCP socket's shutdown, under the TLS session (no close_notify)."""
        self._sock.shutdown(how)

    def close(self) -> None:
        self._sock.close()

    def settimeout(self, timeout: float | None) -> None:
        self._sock.settimeout(timeout)
