"""Credentials and certificates for tests: htpasswd files and self-signed TLS pairs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import bcrypt
import pytest


def write_htpasswd(path: Path, users: dict[str, str]) -> Path:
    """``htpasswd -B`` entries, from the real tool when installed (its ``$2y$`` form)."""
    tool = shutil.which("htpasswd")
    for i, (user, password) in enumerate(users.items()):
        if tool:
            flags = "-Bbc" if i == 0 else "-Bb"
            subprocess.run([tool, flags, str(path), user, password], check=True,
                           capture_output=True)
        else:
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
            with path.open("a") as f:
                f.write(f"{user}:{hashed.replace('$2b$', '$2y$', 1)}\n")
    return path


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """(cert, key) for 127.0.0.1, made by ``openssl req -x509``; skips without openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key
