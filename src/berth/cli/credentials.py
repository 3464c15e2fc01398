"""Registry credentials in a docker-compatible ``config.json`` (``$DOCKER_CONFIG/config.json``,
else ``~/.docker/config.json``), shared with the docker CLI::

    {"auths": {"localhost:5000": {"auth": "<base64 user:password>"},
               "https://index.docker.io/v1/": {"auth": "..."}}}

``berth login`` writes an entry (keeping every other key of the file), ``logout`` removes
it, ``pull`` and ``push`` send it to the daemon as ``X-Registry-Auth`` (base64url JSON).
``binascii`` rather than ``base64``, which would import ``re`` at every pull.
"""

from __future__ import annotations

import binascii
import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

DOCKER_HUB = "docker.io"
HUB_SERVER = "https://index.docker.io/v1/"  # docker's key for Docker Hub
_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io")


def config_path(env: Mapping[str, str]) -> str:
    directory = env.get("DOCKER_CONFIG") or os.path.join(env.get("HOME") or
                                                         os.path.expanduser("~"), ".docker")
    return os.path.join(directory, "config.json")


def registry_of(image: str) -> str:
    """The registry host an image reference names (``docker.io`` when it names none),
    by distribution/reference's rule for the first path component."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        host = first.lower()
        return DOCKER_HUB if host in _HUB_ALIASES else host
    return DOCKER_HUB


def server_key(server: str) -> str:
    """The ``auths`` key docker uses: Docker Hub's v1 URL, else the bare host[:port]."""
    host = server.split("://", 1)[-1].split("/", 1)[0].lower()
    return HUB_SERVER if not host or host in _HUB_ALIASES else host


def _load(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return {}
    doc = json.loads(raw) if raw.strip() else {}
    return doc if isinstance(doc, dict) else {}


def _save(path: str, doc: dict[str, Any]) -> None:
    """Atomically, readable only by the user, as docker writes it."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(doc))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode()


def store(env: Mapping[str, str], server: str, username: str, password: str) -> None:
    path = config_path(env)
    doc = _load(path)
    auths = doc.setdefault("auths", {})
    auths[server_key(server)] = {"auth": _b64(f"{username}:{password}".encode())}
    _save(path, doc)


def remove(env: Mapping[str, str], server: str) -> bool:
    """Forget ``server``'s credentials; False if there were none."""
    path = config_path(env)
    doc = _load(path)
    auths = doc.get("auths")
    if not isinstance(auths, dict):
        return False
    key = server_key(server)
    found = [k for k in auths if server_key(k) == key]
    if not found:
        return False
    for k in found:
        del auths[k]
    _save(path, doc)
    return True


def lookup(env: Mapping[str, str], server: str) -> tuple[str, str] | None:
    """(username, password) stored for ``server``."""
    auths = _load(config_path(env)).get("auths")
    if not isinstance(auths, dict):
        return None
    key = server_key(server)
    for name, entry in auths.items():
        if server_key(name) != key or not isinstance(entry, dict):
            continue
        encoded = entry.get("auth")
        if isinstance(encoded, str) and encoded:
            try:
                user, sep, password = binascii.a2b_base64(encoded).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                continue
            if sep:
                return user, password
    return None


def header(env: Mapping[str, str], image: str) -> str | None:
    """``X-Registry-Auth`` for pulling or pushing ``image``, if credentials are stored."""
    host = registry_of(image)
    found = lookup(env, host)
    if found is None:
        return None
    doc = {"username": found[0], "password": found[1], "serveraddress": server_key(host)}
    encoded = _b64(json.dumps(doc).encode())
    return encoded.replace("+", "-").replace("/", "_")
