"""Listings: the catalog, a repository's tags and the referrers of a manifest.

Catalog and tags paginate as the spec says: ``n`` caps the page, ``last`` resumes after a
name, and a page that stopped early carries ``Link: <next url>; rel="next"``.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from aiohttp import web

from berth.oci.image import MEDIA_TYPE_OCI_INDEX
from berth.registry.server import names
from berth.registry.server.errcode import ErrorCode, RegistryError
from berth.registry.server.routes import registry_of, repository_name


def _page_size(request: web.Request) -> int | None:
    raw = request.query.get("n")
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise RegistryError(ErrorCode.PAGINATION_NUMBER_INVALID, detail={"n": raw})
    return int(raw)


def paginate(request: web.Request, items: list[str], path: str) -> tuple[list[str], dict[str, str]]:
    """The page of sorted ``items`` the query asks for, and its ``Link`` header if any."""
    n = _page_size(request)
    last = request.query.get("last")
    if last:
        items = [i for i in items if i > last]
    if n is None or len(items) <= n:
        return items, {}
    page = items[:n]
    if not page:
        return page, {}
    query = urlencode({"n": n, "last": page[-1]})
    return page, {"Link": f'<{path}?{query}>; rel="next"'}


async def catalog(request: web.Request) -> web.Response:
    repositories = await asyncio.to_thread(registry_of(request).repositories)
    page, headers = paginate(request, repositories, "/v2/_catalog")
    return web.json_response({"repositories": page}, headers=headers)


async def tags(request: web.Request) -> web.Response:
    name = repository_name(request)
    found = await asyncio.to_thread(registry_of(request).manifests.tags, name)
    page, headers = paginate(request, sorted(found), f"/v2/{name}/tags/list")
    return web.json_response({"name": name, "tags": page}, headers=headers)


async def referrers(request: web.Request) -> web.Response:
    """An OCI index of the manifests whose ``subject`` is the digest; never a 404 (an
    unknown digest simply has no referrers)."""
    name = repository_name(request)
    digest = names.validate_digest(request.match_info["digest"])
    artifact_type = request.query.get("artifactType")
    found = await asyncio.to_thread(registry_of(request).manifests.referrers, name, digest,
                                    artifact_type)
    headers = {"OCI-Filters-Applied": "artifactType"} if artifact_type else {}
    index = {"schemaVersion": 2, "mediaType": MEDIA_TYPE_OCI_INDEX, "manifests": found}
    return web.json_response(index, headers=headers, content_type=MEDIA_TYPE_OCI_INDEX)
