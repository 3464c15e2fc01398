"""One HTTP session to registries: endpoints, authentication retries and error mapping.

Every registry request goes through ``RegistrySession.request``, so the rules live once:

- scheme: ``https``, except hosts the caller calls insecure (``host[:port]``, or a CIDR
  holding the host's address literal) and loopback ones (``localhost``, ``127.0.0.0/8``,
  ``::1``), which are plain HTTP as docker treats them;
- ``docker.io`` is served by ``registry-1.docker.io``; ``served_by`` sends a host's requests
  elsewhere (a mirror, the daemon's default registry), authenticating against that host;
- a 401 is answered once (``auth.Authorizer``), a body is re-created for the retry;
- a status the caller did not expect becomes a ``berth.errors`` exception chosen by the
  status alone, its message the registry's own (``{"errors": [{"message": ...}]}``);
- a connection failure becomes ``Unavailable``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
from yarl import URL

from berth.errors import BerthError, InvalidArgument, Unauthorized, Unavailable, from_status
from berth.oci.reference import Reference
from berth.registry.client.auth import Authorizer, CredentialStore, parse_challenges

log = logging.getLogger(__name__)

DOCKER_HUB_ENDPOINT = "registry-1.docker.io"


@dataclass(frozen=True)
class SessionOptions:
    insecure: frozenset[str] = frozenset()  # ``host[:port]`` or CIDRs over plain HTTP
    # registry host → the endpoint that serves it: ``host[:port]`` or ``scheme://host[:port]``
    served_by: Mapping[str, str] = field(default_factory=dict)
    credentials: CredentialStore | None = None
    user_agent: str = "berth"
    connect_timeout: float = 30.0
    read_timeout: float = 300.0  # between two reads of a body, not for the whole body


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(URL(f"//{host}").host or host)
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    if (URL(f"//{host}").host or host) == "localhost":
        return True
    address = _address(host)
    return address is not None and address.is_loopback


def is_insecure(host: str, insecure: frozenset[str]) -> bool:
    """Plain HTTP for ``host``: loopback, listed by name, or inside a listed CIDR (only an
    address literal is matched: no name is resolved to decide)."""
    if host in insecure or is_loopback(host):
        return True
    address = _address(host)
    if address is None:
        return False
    for entry in insecure:
        if "/" in entry:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    return False


@dataclass(frozen=True)
class Endpoint:
    """One repository on one registry: ``<scheme>://<host>/v2/<name>/``."""

    host: str  # as the reference names it (``docker.io``, ``localhost:5000``): auth's key
    base: URL  # ``http://localhost:5000/v2/``
    name: str  # the repository path, ``library/busybox``

    def manifest(self, reference: str) -> URL:
        return self.base.with_path(f"{self.base.path}{self.name}/manifests/{reference}")

    def blob(self, digest: str) -> URL:
        return self.base.with_path(f"{self.base.path}{self.name}/blobs/{digest}")

    def uploads(self) -> URL:
        return self.base.with_path(f"{self.base.path}{self.name}/blobs/uploads/")

    def location(self, header: str) -> URL:
        """An upload's ``Location``, which may be relative to the registry."""
        return self.base.join(URL(header))

    def scope(self, actions: str = "pull", name: str | None = None) -> str:
        return f"repository:{name or self.name}:{actions}"


@dataclass(frozen=True)
class Request:
    method: str
    url: URL
    scopes: tuple[str, ...]
    ok: tuple[int, ...] = (200,)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Callable[[], Any] | None = None  # called per attempt: a retry needs a fresh body


class RegistrySession:
    """``async with RegistrySession(options) as session:`` — owns the aiohttp session."""

    def __init__(self, options: SessionOptions | None = None) -> None:
        self.options = options or SessionOptions()
        self._http: aiohttp.ClientSession | None = None
        self._auth: Authorizer | None = None

    async def __aenter__(self) -> RegistrySession:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.options.connect_timeout,
                                        sock_read=self.options.read_timeout)
        self._http = aiohttp.ClientSession(
            timeout=timeout, headers={"User-Agent": self.options.user_agent},
            auto_decompress=False)  # blobs are hashed as served, never decoded
        self._auth = Authorizer(self._http, self.options.credentials)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._http is not None:
            await self._http.close()
        self._http = self._auth = None

    def endpoint(self, ref: Reference) -> Endpoint:
        host = ref.domain
        target = self.options.served_by.get(host)
        if target is None:
            target = DOCKER_HUB_ENDPOINT if host == "docker.io" else host
            plain = is_insecure(host, self.options.insecure)
        else:
            scheme, sep, rest = target.partition("://")
            if sep:
                plain, target = scheme == "http", rest
            else:
                plain = is_insecure(target, self.options.insecure)
            host = target  # credentials and tokens belong to the endpoint that answers
        return Endpoint(host, URL(f"{'http' if plain else 'https'}://{target}/v2/"), ref.path)

    @contextlib.asynccontextmanager
    async def request(self, endpoint: Endpoint, req: Request
                      ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send ``req``; yields the response if its status is one of ``req.ok``."""
        if self._http is None or self._auth is None:
            raise BerthError("registry session used outside 'async with'")
        sent: str | None = None
        for attempt in (1, 2):
            headers = dict(req.headers)
            sent = await self._auth.authorization(endpoint.host, req.scopes)
            if sent is not None:
                headers["Authorization"] = sent
            try:
                resp = await self._http.request(
                    req.method, req.url, headers=headers,
                    data=req.body() if req.body is not None else None)
            except (aiohttp.ClientError, TimeoutError) as err:
                raise Unavailable(f"{req.method} {req.url}: {err}") from err
            try:
                if resp.status == 401 and attempt == 1:
                    challenges = parse_challenges(resp.headers.getall("WWW-Authenticate", []))
                    if await self._auth.challenged(endpoint.host, challenges, req.scopes, sent):
                        continue
                if resp.status not in req.ok:
                    raise await _error(req, resp)
                yield resp
                return
            finally:
                resp.release()
        raise BerthError("unreachable")  # pragma: no cover - the loop returns or raises


async def read_body(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, refusing more than ``limit`` bytes (a manifest, a token)."""
    chunks: list[bytes] = []
    total = 0
    try:
        async for chunk in resp.content.iter_any():
            total += len(chunk)
            if total > limit:
                raise InvalidArgument(f"{resp.url.path}: response larger than {limit} bytes")
            chunks.append(chunk)
    except (aiohttp.ClientError, TimeoutError) as err:
        raise BerthError(f"{resp.url.path}: reading the response: {err}") from err
    return b"".join(chunks)


async def _error(req: Request, resp: aiohttp.ClientResponse) -> BerthError:
    message = f"{req.method} {req.url.path}: {resp.status} {resp.reason or ''}".rstrip()
    try:
        body = await resp.read() if req.method != "HEAD" else b""
    except aiohttp.ClientError:
        body = b""
    registry_message = _registry_message(body)
    if registry_message:
        message = registry_message
    if resp.status == 401:
        # A HEAD has no body to carry the registry's words.
        return Unauthorized(message if registry_message else f"{message}: authentication required")
    return from_status(resp.status, message)


def _registry_message(body: bytes) -> str:
    """The spec's ``{"errors": [{"code", "message", "detail"}]}`` as one line."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return ""
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list):
        return ""
    messages = [str(e.get("message") or e.get("code")) for e in errors
                if isinstance(e, dict) and (e.get("message") or e.get("code"))]
    return "; ".join(messages)
