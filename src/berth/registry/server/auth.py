"""htpasswd basic authentication, as distribution's ``auth/htpasswd`` does it.

The file holds ``user:hash`` lines; only bcrypt hashes (``htpasswd -B``: ``$2y$``, ``$2a$``,
``$2b$``) are accepted, other lines are skipped with a warning, exactly the subset
distribution supports. Every request, ``GET /v2/`` included (that is how clients discover
that a registry wants credentials), needs a valid ``Authorization: Basic`` header or gets::

    401 UNAUTHORIZED   WWW-Authenticate: Basic realm="<realm>"

bcrypt is slow on purpose, so a verified (user, password) pair is remembered by the sha256
of the password: a push of many blobs checks the hash once, not once per request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import threading
from pathlib import Path

import bcrypt
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from berth.registry.server.errcode import ErrorCode, RegistryError

log = logging.getLogger(__name__)

_BCRYPT_PREFIXES = (b"$2y$", b"$2a$", b"$2b$")
# Checked for unknown users so that a wrong user costs as long as a wrong password.
_DUMMY_HASH = bcrypt.hashpw(b"berth", bcrypt.gensalt(rounds=5))

class Htpasswd:
    def __init__(self, entries: dict[str, bytes]) -> None:
        self._entries = entries
        self._verified: set[tuple[str, bytes]] = set()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path) -> Htpasswd:
        entries: dict[str, bytes] = {}
        for number, line in enumerate(path.read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            if not sep or not hashed.encode().startswith(_BCRYPT_PREFIXES):
                log.warning("%s:%d: not a bcrypt entry, skipped", path, number)
                continue
            entries[user] = hashed.encode()
        return cls(entries)

    def verify(self, user: str, password: str) -> bool:
        key = (user, hashlib.sha256(password.encode()).digest())
        with self._lock:
            if key in self._verified:
                return True
        hashed = self._entries.get(user)
        ok = bcrypt.checkpw(password.encode(), hashed or _DUMMY_HASH) and hashed is not None
        if ok:
            with self._lock:
                self._verified.add(key)
        return ok


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def auth_middleware(htpasswd: Htpasswd, realm: str) -> Middleware:
    challenge = {"WWW-Authenticate": f'Basic realm="{realm}"'}

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        credentials = basic_credentials(request.headers.get("Authorization"))
        if credentials is None:
            raise RegistryError(ErrorCode.UNAUTHORIZED, headers=challenge)
        if not await asyncio.to_thread(htpasswd.verify, *credentials):
            raise RegistryError(ErrorCode.UNAUTHORIZED, "invalid username or password",
                                headers=challenge)
        return await handler(request)

    return authenticate
