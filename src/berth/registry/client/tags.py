"""The tags of a repository (``GET /v2/<name>/tags/list``), every page of them: a registry
that paginates answers ``Link: </v2/<name>/tags/list?n=..&last=..>; rel="next"`` until the
last page, whose ``Link`` is absent (distribution's ``tags.go``, moby's ``pull -a``)."""

from __future__ import annotations

import json
import re

from yarl import URL

from berth.errors import BerthError, NotFound
from berth.oci.reference import Reference
from berth.registry.client.session import RegistrySession, Request, read_body

MAX_PAGE_BYTES = 4 << 20
MAX_PAGES = 1000  # a registry whose Link never ends is refused, not followed forever
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


async def list_tags(session: RegistrySession, ref: Reference) -> list[str]:
    """The tags of ``ref``'s repository, in the registry's order; NotFound if it has none."""
    endpoint = session.endpoint(ref)
    url: URL | None = endpoint.base.with_path(f"{endpoint.base.path}{endpoint.name}/tags/list")
    tags: list[str] = []
    for _ in range(MAX_PAGES):
        if url is None:
            break
        req = Request("GET", url, (endpoint.scope(),), headers={"Accept": "application/json"})
        async with session.request(endpoint, req) as resp:
            data = await read_body(resp, MAX_PAGE_BYTES)
            link = _NEXT.search(resp.headers.get("Link", ""))
        try:
            page = json.loads(data).get("tags") or []
        except (ValueError, AttributeError) as err:
            raise BerthError(f"tags of {ref.name}: invalid response: {err}") from err
        if not isinstance(page, list) or not all(isinstance(t, str) for t in page):
            raise BerthError(f"tags of {ref.name}: invalid response: tags is not a list")
        tags += page
        url = endpoint.base.join(URL(link.group(1))) if link else None
    else:
        raise BerthError(f"tags of {ref.name}: more than {MAX_PAGES} pages")
    if not tags:
        raise NotFound(f"no tags found for {ref.name}")
    return tags
