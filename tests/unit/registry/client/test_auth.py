"""Basic (htpasswd) and Bearer (token server) authentication against real servers."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from aiohttp import web
from tests.unit.registry.client.images import blobs_of, make_image, serving
from tests.unit.registry.server.security import write_htpasswd

from berth.errors import Unauthorized
from berth.oci import reference
from berth.oci.digest import sha256_digest
from berth.registry.client import (
    Descriptor,
    DockerConfig,
    Fetcher,
    RegistrySession,
    SessionOptions,
    pull,
    push,
)
from berth.registry.client.auth import parse_challenges
from berth.registry.server import RegistryOptions, create_app
from berth.registry.server.storage.memory import InMemoryDriver
from berth.store.content import ContentStore


def docker_config(tmp_path, host: str, user: str, password: str) -> DockerConfig:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return DockerConfig.load(path)


def round_trip(tmp_path, text: str, options: SessionOptions) -> None:
    source, sink = ContentStore(tmp_path / "a"), ContentStore(tmp_path / "b")
    desc = make_image(source)
    r = reference.parse(text)

    async def go() -> None:
        async with RegistrySession(options) as session:
            await push(session, r, desc, source)
        async with RegistrySession(options) as session:
            await pull(session, r, sink)

    asyncio.run(go())
    assert blobs_of(sink) == blobs_of(source)


def test_basic_auth_with_credentials_from_config_json(tmp_path):
    htpasswd = write_htpasswd(tmp_path / "htpasswd", {"alice": "s3cret"})
    with serving(create_app(InMemoryDriver(), RegistryOptions(htpasswd=htpasswd))) as port:
        host = f"127.0.0.1:{port}"
        config = docker_config(tmp_path, f"http://{host}", "alice", "s3cret")
        round_trip(tmp_path, f"{host}/app:v1", SessionOptions(credentials=config))

        with pytest.raises(Unauthorized, match="authentication required"):
            round_trip(tmp_path, f"{host}/app:v1", SessionOptions())
        wrong = docker_config(tmp_path, host, "alice", "nope")
        with pytest.raises(Unauthorized):
            round_trip(tmp_path, f"{host}/app:v1", SessionOptions(credentials=wrong))

        async def fetch_config() -> None:  # a GET: the registry's message comes through
            async with RegistrySession(SessionOptions(credentials=wrong)) as session:
                await Fetcher(session).fetch(reference.parse(f"{host}/app:v1"),
                                             Descriptor("x", sha256_digest(b"{}"), 2),
                                             ContentStore(tmp_path / "c"))

        with pytest.raises(Unauthorized, match="invalid username or password"):
            asyncio.run(fetch_config())


class TokenServer:
    """Grants every scope asked for to alice; tokens are ``tok:<scope> <scope>...``."""

    def __init__(self) -> None:
        self.requests: list[list[str]] = []
        self.app = web.Application()
        self.app.router.add_get("/token", self.token)

    async def token(self, request: web.Request) -> web.Response:
        expected = "Basic " + base64.b64encode(b"alice:s3cret").decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"details": "bad credentials"}, status=401)
        assert request.query["service"] == "test-registry"
        scopes = request.query.getall("scope", [])
        self.requests.append(scopes)
        return web.json_response({"token": "tok:" + " ".join(scopes), "expires_in": 300})


def bearer_middleware(realm: str):
    """In front of berth's registry: a request needs a token granting its scope."""

    @web.middleware
    async def check(request: web.Request, handler):
        parts = request.path.split("/")
        needed = None
        if len(parts) > 3:
            name = "/".join(parts[2:-2]) if parts[-2] in ("manifests", "blobs") \
                else "/".join(parts[2:parts.index("blobs")])
            action = "pull" if request.method in ("GET", "HEAD") else "push"
            needed = f"repository:{name}:{action}"
        header = request.headers.get("Authorization", "")
        granted = set()
        if header.startswith("Bearer tok:"):
            for scope in header[len("Bearer tok:"):].split(" "):
                resource, _, actions = scope.rpartition(":")
                granted |= {f"{resource}:{a}" for a in actions.split(",")}
        if header.startswith("Bearer tok:") and (needed is None or needed in granted):
            return await handler(request)
        challenge = f'Bearer realm="{realm}",service="test-registry"'
        if needed is not None:
            challenge += f',scope="{needed}"'
        return web.json_response(
            {"errors": [{"code": "UNAUTHORIZED", "message": "token required"}]},
            status=401, headers={"WWW-Authenticate": challenge})

    return check


@contextmanager
def bearer_registry() -> Iterator[tuple[TokenServer, int]]:
    """An in-memory registry that wants a token from a ``TokenServer``: yields the token
    server and the registry's port."""
    tokens = TokenServer()
    with serving(tokens.app) as token_port:
        app = create_app(InMemoryDriver())
        app.middlewares.insert(0, bearer_middleware(f"http://127.0.0.1:{token_port}/token"))
        with serving(app) as port:
            yield tokens, port


def test_bearer_token_flow_caches_tokens_per_scope(tmp_path):
    with bearer_registry() as (tokens, port):
        host = f"127.0.0.1:{port}"
        config = docker_config(tmp_path, host, "alice", "s3cret")
        round_trip(tmp_path, f"{host}/team/app:v1", SessionOptions(credentials=config))
        # the pull (3 blobs, 2 manifest requests) took one token for its one scope
        assert tokens.requests[-1] == ["repository:team/app:pull"]
        assert tokens.requests.count(["repository:team/app:pull"]) == 1
        assert len(tokens.requests) <= 3

        wrong = docker_config(tmp_path, host, "alice", "nope")
        with pytest.raises(Unauthorized, match="bad credentials"):
            round_trip(tmp_path, f"{host}/team/app:v1", SessionOptions(credentials=wrong))


def test_challenge_parsing_keeps_commas_inside_quotes():
    [c] = parse_challenges(['Bearer realm="https://a/token",service="reg",'
                            'scope="repository:x/y:pull,push"'])
    assert (c.scheme, dict(c.params)) == ("bearer", {
        "realm": "https://a/token", "service": "reg", "scope": "repository:x/y:pull,push"})


def test_docker_config_normalises_hub_and_scheme_keys(tmp_path):
    config = docker_config(tmp_path, "https://index.docker.io/v1/", "u", "p")
    assert config.credentials("docker.io").username == "u"
    assert config.credentials("registry-1.docker.io").password == "p"
    assert config.credentials("quay.io") is None
    assert DockerConfig.load(tmp_path / "missing.json").credentials("docker.io") is None
