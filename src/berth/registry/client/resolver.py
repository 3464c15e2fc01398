"""Resolve a reference to the descriptor of its manifest or index (containerd's resolver).

``HEAD /v2/<name>/manifests/<tag|digest>`` with every manifest type in ``Accept`` answers
the media type, the digest (``Docker-Content-Digest``) and the size without a body. A
registry that refuses HEAD, or leaves out the digest, is asked again with GET, and the digest
is computed from the body. A reference by digest is checked against what the registry says.
"""

from __future__ import annotations

import logging

from berth.errors import BerthError, InvalidArgument, NotFound
from berth.oci import digest as digests
from berth.oci.reference import DEFAULT_TAG, Reference
from berth.registry.client import platforms
from berth.registry.client.descriptor import (
    ACCEPT,
    MAX_MANIFEST_SIZE,
    Descriptor,
    Platform,
    media_type_of,
    parse_index,
)
from berth.registry.client.session import Endpoint, RegistrySession, Request, read_body

log = logging.getLogger(__name__)


def _content_type(value: str | None) -> str | None:
    return value.split(";", 1)[0].strip() if value else None


class Resolver:
    def __init__(self, session: RegistrySession) -> None:
        self._session = session

    async def resolve(self, ref: Reference) -> Descriptor:
        """The descriptor ``ref`` names: an image manifest, or an index/manifest list."""
        endpoint = self._session.endpoint(ref)
        target = ref.digest or ref.tag or DEFAULT_TAG
        try:
            desc = await self._head(endpoint, target)
            if desc is None:
                desc = await self._get(endpoint, target)
        except NotFound as err:
            raise NotFound(f"manifest for {ref} not found: manifest unknown: {err}") from err
        if ref.digest is not None and desc.digest != ref.digest:
            raise BerthError(f"registry answered {desc.digest} for {ref}")
        return desc

    async def resolve_platform(self, ref: Reference, want: Platform | None = None
                               ) -> tuple[Descriptor, Descriptor | None]:
        """(this platform's image manifest, the index it was chosen from or None)."""
        desc = await self.resolve(ref)
        if not desc.is_index:
            return desc, None
        data = await self.fetch_manifest(ref, desc)
        return platforms.select(parse_index(data), want), desc

    async def fetch_manifest(self, ref: Reference, desc: Descriptor) -> bytes:
        """The exact bytes of a manifest or index, verified against ``desc``."""
        if desc.size > MAX_MANIFEST_SIZE:
            raise InvalidArgument(f"manifest {desc.digest}: {desc.size} bytes is too large")
        endpoint = self._session.endpoint(ref)
        req = Request("GET", endpoint.manifest(desc.digest), (endpoint.scope(),),
                      headers={"Accept": ACCEPT})
        async with self._session.request(endpoint, req) as resp:
            data = await read_body(resp, MAX_MANIFEST_SIZE)
        actual = digests.sha256_digest(data)
        if actual != desc.digest or len(data) != desc.size:
            raise BerthError(f"manifest digest mismatch: expected {desc.digest} "
                             f"({desc.size} bytes), got {actual} ({len(data)} bytes)")
        return data

    async def _head(self, endpoint: Endpoint, target: str) -> Descriptor | None:
        req = Request("HEAD", endpoint.manifest(target), (endpoint.scope(),),
                      ok=(200, 405), headers={"Accept": ACCEPT})
        async with self._session.request(endpoint, req) as resp:
            digest = resp.headers.get("Docker-Content-Digest")
            media_type = _content_type(resp.headers.get("Content-Type"))
            length = resp.headers.get("Content-Length")
            if resp.status == 405 or not media_type or not length or not length.isdigit() \
                    or media_type in ("application/json", "application/octet-stream"):
                return None
            if digest is None:
                if target.startswith("sha256:"):
                    digest = target
                else:
                    return None
        return Descriptor(media_type, digests.validate(digest), int(length))

    async def _get(self, endpoint: Endpoint, target: str) -> Descriptor:
        req = Request("GET", endpoint.manifest(target), (endpoint.scope(),),
                      headers={"Accept": ACCEPT})
        async with self._session.request(endpoint, req) as resp:
            data = await read_body(resp, MAX_MANIFEST_SIZE)
            content_type = _content_type(resp.headers.get("Content-Type"))
        return Descriptor(media_type_of(data, content_type), digests.sha256_digest(data),
                          len(data))
