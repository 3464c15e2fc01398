"""The daemon's registry configuration and how one operation reaches a registry.

::

    DaemonConfig ──▶ RegistryOptions ──▶ session(ref, auth)      push, login: the registry
                                    └──▶ pull_session(ref, auth)  each mirror of ref's
                                          registry in order (the first that resolves ref
                                          serves the whole pull), then the registry itself

A client's credentials (``X-Registry-Auth``) are for the registry the reference names, and
are sent only there, never to a mirror (as dockerd does). ``default_registry`` serves the
names that carry no registry (``busybox`` is ``docker.io/library/busybox``): the image
keeps its docker.io name, its bytes come from the default registry.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from berth.config import DOCKER_HUB, DaemonConfig, registry_host
from berth.errors import BerthError, Unavailable
from berth.oci.reference import Reference
from berth.registry.client.auth import Credentials, CredentialStore
from berth.registry.client.login import login
from berth.registry.client.resolver import Resolver
from berth.registry.client.session import RegistrySession, SessionOptions, is_insecure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuthConfig:
    """Credentials a client sent for one operation (docker's ``AuthConfig``)."""

    username: str = ""
    password: str = field(default="", repr=False)
    server_address: str = ""
    identity_token: str = field(default="", repr=False)

    def credentials(self) -> Credentials | None:
        if self.identity_token:
            return Credentials("<token>", "", identity_token=self.identity_token)
        if self.username:
            return Credentials(self.username, self.password)
        return None


@dataclass(frozen=True)
class _OneRegistry:
    """A ``CredentialStore`` answering for the hosts of one registry only."""

    hosts: frozenset[str]
    creds: Credentials | None

    def credentials(self, host: str) -> Credentials | None:
        return self.creds if host in self.hosts else None


@dataclass(frozen=True)
class RegistryOptions:
    mirrors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    insecure: frozenset[str] = frozenset()
    default_registry: str = DOCKER_HUB

    @classmethod
    def from_config(cls, config: DaemonConfig) -> RegistryOptions:
        return cls(dict(config.registry_mirrors), frozenset(config.insecure_registries),
                   config.default_registry)

    def _upstream(self, host: str) -> dict[str, str]:
        """``served_by`` for ``host`` itself: the default registry stands in for docker.io."""
        if host == DOCKER_HUB and self.default_registry != DOCKER_HUB:
            return {host: self.default_registry}
        return {}

    def _options(self, served_by: dict[str, str], creds: CredentialStore | None
                 ) -> SessionOptions:
        return SessionOptions(insecure=self.insecure, served_by=served_by, credentials=creds,
                              user_agent="berth")

    def _store(self, ref: Reference, auth: AuthConfig | None) -> CredentialStore | None:
        creds = auth.credentials() if auth is not None else None
        if creds is None:
            return None
        hosts = {ref.domain, *self._upstream(ref.domain).values()}
        return _OneRegistry(frozenset(hosts), creds)

    def session(self, ref: Reference, auth: AuthConfig | None = None) -> RegistrySession:
        """A session to ``ref``'s registry itself (push, login)."""
        return RegistrySession(self._options(self._upstream(ref.domain),
                                             self._store(ref, auth)))

    @contextlib.asynccontextmanager
    async def pull_session(self, ref: Reference, auth: AuthConfig | None = None
                           ) -> AsyncIterator[RegistrySession]:
        """A session whose endpoint for ``ref``'s registry is the first mirror that has
        ``ref``, else the registry itself (whose errors are the ones a caller sees)."""
        for mirror in self.mirrors.get(ref.domain, ()):
            session = RegistrySession(self._options({ref.domain: mirror}, None))
            async with session:
                try:
                    await Resolver(session).resolve(ref)
                except BerthError as err:
                    log.info("mirror %s of %s: %s; trying the next", mirror, ref.domain,
                             err.message)
                    continue
                yield session
                return
        async with self.session(ref, auth) as session:
            yield session

    async def login(self, auth: AuthConfig) -> None:
        """Check ``auth`` against its registry (``POST /auth``); raises ``Unauthorized``."""
        host = registry_host(auth.server_address or DOCKER_HUB)
        ref = Reference(domain=host, path="login")
        try:
            async with self.session(ref, auth) as session:
                await login(session, host)
        except Unavailable as err:  # docker answers 500 with the connection error
            raise BerthError(err.message) from err

    def secure(self, host: str) -> bool:
        return not is_insecure(host, self.insecure)

    def index_configs(self) -> dict[str, tuple[str, ...]]:
        """Registry → mirrors, docker.io always included (``/info``'s ``IndexConfigs``)."""
        out = {DOCKER_HUB: self.mirrors.get(DOCKER_HUB, ())}
        out.update(self.mirrors)
        return out
