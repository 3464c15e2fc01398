"""Throwaway TLS material for tests, made with the openssl CLI: a CA, a server certificate
for 127.0.0.1/localhost and a client certificate, all signed by the CA (EC P-256 keys:
quick to make). Each ``make_certs`` call makes a fresh, unrelated CA."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certs:
    dir: Path

    @property
    def ca(self) -> Path:
        return self.dir / "ca.pem"

    def cert(self, name: str) -> Path:
        return self.dir / f"{name}.pem"

    def key(self, name: str) -> Path:
        return self.dir / f"{name}-key.pem"


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)


def make_certs(directory: Path) -> Certs:
    directory.mkdir(parents=True, exist_ok=True)
    certs = Certs(directory)
    curve = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *curve, "-days", "2", "-subj", "/CN=berth-test-ca",
             "-keyout", directory / "ca-key.pem", "-out", certs.ca)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                 "extendedKeyUsage=serverAuth"),
                      ("client", "extendedKeyUsage=clientAuth")):
        csr, extfile = directory / f"{name}.csr", directory / f"{name}.ext"
        extfile.write_text(ext + "\n")
        _openssl("req", *curve, "-subj", f"/CN={name}", "-keyout", certs.key(name),
                 "-out", csr)
        _openssl("x509", "-req", "-in", csr, "-CA", certs.ca, "-CAkey",
                 directory / "ca-key.pem", "-CAcreateserial", "-days", "2", "-extfile",
                 extfile, "-out", certs.cert(name))
    return certs
