"""Registry authentication: docker's ``config.json`` credentials and the two challenges.

A request goes out with whatever this host last asked for; a 401 names the scheme::

    client ── GET /v2/<name>/manifests/<tag> ───────────────▶ registry
           ◀── 401  WWW-Authenticate: Basic realm="..."
           ── same request, Authorization: Basic base64(user:password) ─▶  (config.json)

    client ── GET /v2/... ──────────────────────────────────▶ registry
           ◀── 401  WWW-Authenticate: Bearer realm="R",service="S",scope="repository:n:pull"
           ── GET R?service=S&scope=... (Basic credentials, if any) ──▶ token server
           ◀── 200 {"token": "T", "expires_in": 300}
           ── same request, Authorization: Bearer T ────────────────▶ registry

Bearer tokens are cached per (host, scopes) until they expire; once a host has shown its
challenge, a request for new scopes fetches its token up front instead of taking a 401.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import aiohttp
from yarl import URL

from berth.errors import BerthError, InvalidArgument, Unauthorized, Unavailable, from_status

log = logging.getLogger(__name__)

DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")
DEFAULT_TOKEN_LIFETIME = 60.0  # seconds; the token spec's default for a missing expires_in


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    # An OAuth2 refresh token (docker's ``identitytoken``): traded at the token server by
    # ``POST grant_type=refresh_token`` instead of sending a password.
    identity_token: str = field(default="", repr=False)

    def basic(self) -> str:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return f"Basic {token}"


class CredentialStore(Protocol):
    def credentials(self, host: str) -> Credentials | None:
        """Credentials for a registry host (``host[:port]``), or None."""
        ...


def normalize_host(key: str) -> str:
    """``https://index.docker.io/v1/`` → ``docker.io``; ``http://h:5000/x`` → ``h:5000``."""
    host = key.split("://", 1)[-1].split("/", 1)[0].lower()
    return "docker.io" if host in DOCKER_HUB_HOSTS else host


class DockerConfig:
    """The ``auths`` of a docker ``config.json``: ``{"auths": {"host": {"auth": b64}}}``."""

    def __init__(self, auths: Mapping[str, Credentials]) -> None:
        self._auths = {normalize_host(k): v for k, v in auths.items()}

    @classmethod
    def load(cls, path: Path) -> DockerConfig:
        """Read ``path``; a missing file is an empty config, as docker treats it."""
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            return cls({})
        except (OSError, ValueError) as err:
            raise InvalidArgument(f"{path}: {err}") from err
        auths = doc.get("auths") if isinstance(doc, dict) else None
        out: dict[str, Credentials] = {}
        for key, entry in (auths or {}).items():
            creds = _entry_credentials(entry)
            if creds is not None:
                out[key] = creds
            else:
                log.debug("%s: no usable credentials for %s", path, key)
        return cls(out)

    def credentials(self, host: str) -> Credentials | None:
        return self._auths.get(normalize_host(host))


def _entry_credentials(entry: object) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return Credentials(user, password) if sep else None
    name, secret = entry.get("username"), entry.get("password")
    if isinstance(name, str) and isinstance(secret, str) and name:
        return Credentials(name, secret)
    return None


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower-case: "basic" or "bearer"
    params: Mapping[str, str]


_PARAM_RE = re.compile(r'([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


def parse_challenges(headers: Iterable[str]) -> list[Challenge]:
    """One challenge per ``WWW-Authenticate`` header (quoted values may hold commas)."""
    out = []
    for header in headers:
        scheme, _, rest = header.strip().partition(" ")
        params: dict[str, str] = {}
        for m in _PARAM_RE.finditer(rest):
            quoted = m.group(2)
            params[m.group(1).lower()] = (quoted.replace('\\"', '"') if quoted is not None
                                          else str(m.group(3)))
        out.append(Challenge(scheme.lower(), params))
    return out


@dataclass
class _BearerHost:
    realm: str
    service: str | None
    tokens: dict[tuple[str, ...], tuple[str, float]] = field(default_factory=dict)


class Authorizer:
    """Remembers, per registry host, the scheme it asked for and the tokens it granted."""

    def __init__(self, http: aiohttp.ClientSession, store: CredentialStore | None) -> None:
        self._http = http
        self._store = store
        self._basic: set[str] = set()
        self._bearer: dict[str, _BearerHost] = {}
        self._lock = asyncio.Lock()

    async def authorization(self, host: str, scopes: tuple[str, ...]) -> str | None:
        """The ``Authorization`` header for a request needing ``scopes``, if one is known."""
        if host in self._basic:
            creds = self._credentials(host)
            return creds.basic() if creds is not None else None
        bearer = self._bearer.get(host)
        if bearer is None:
            return None
        return f"Bearer {await self._token(host, bearer, scopes)}"

    async def challenged(self, host: str, challenges: list[Challenge],
                         scopes: tuple[str, ...], sent: str | None) -> bool:
        """Learn from a 401; True if the request is worth one retry."""
        for challenge in challenges:
            if challenge.scheme == "bearer" and "realm" in challenge.params:
                extra = tuple(s for s in challenge.params.get("scope", "").split(" ") if s)
                bearer = _BearerHost(challenge.params["realm"], challenge.params.get("service"))
                old = self._bearer.get(host)
                if old is not None and (old.realm, old.service) == (bearer.realm, bearer.service):
                    bearer = old
                self._bearer[host] = bearer
                key = _scope_key((*scopes, *extra))
                if sent is not None and sent.startswith("Bearer "):
                    bearer.tokens.pop(key, None)  # expired or revoked: ask once more
                header = f"Bearer {await self._token(host, bearer, key)}"
                return header != sent
            if challenge.scheme == "basic":
                creds = self._credentials(host)
                if creds is None or sent == creds.basic():
                    return False
                self._basic.add(host)
                return True
        return False

    def _credentials(self, host: str) -> Credentials | None:
        return self._store.credentials(host) if self._store is not None else None

    async def _token(self, host: str, bearer: _BearerHost, scopes: tuple[str, ...]) -> str:
        key = _scope_key(scopes)
        async with self._lock:  # concurrent layer downloads share one token request
            cached = bearer.tokens.get(key)
            if cached is not None and cached[1] > time.monotonic():
                return cached[0]
            token, lifetime = await self._fetch_token(host, bearer, key)
            bearer.tokens[key] = (token, time.monotonic() + lifetime)
            return token

    async def _fetch_token(self, host: str, bearer: _BearerHost, scopes: tuple[str, ...]
                           ) -> tuple[str, float]:
        query = [("service", bearer.service)] if bearer.service else []
        url = URL(bearer.realm).extend_query([*query, *(("scope", s) for s in scopes)])
        creds = self._credentials(host)
        if creds is not None and creds.identity_token:
            form = {"grant_type": "refresh_token", "refresh_token": creds.identity_token,
                    "client_id": "berth", "scope": " ".join(scopes), **dict(query)}
            request = self._http.post(URL(bearer.realm), data=form)
        else:
            headers = {"Authorization": creds.basic()} if creds is not None else {}
            request = self._http.get(url, headers=headers)
        try:
            async with request as resp:
                body = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as err:
            raise Unavailable(f"token server {url.host}: {err}") from err
        if status != 200:
            message = f"token server for {host} answered {status}: " \
                      f"{body[:200].decode(errors='replace').strip()}"
            raise Unauthorized(message) if status in (401, 403) else from_status(status, message)
        try:
            doc = json.loads(body)
        except ValueError as err:
            raise BerthError(f"token server for {host}: invalid JSON: {err}") from err
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise BerthError(f"token server for {host}: no token in the response")
        expires = doc.get("expires_in")
        lifetime = float(expires) if isinstance(expires, int | float) and expires > 0 \
            else DEFAULT_TOKEN_LIFETIME
        return token, max(lifetime - 5.0, 1.0)  # renew a little before it lapses


def _scope_key(scopes: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(scopes)))
