"""Check credentials against a registry, as ``docker login`` has the daemon do (moby's
``registry.loginV2``)::

    GET /v2/ ──▶ 200                       no authentication: accepted as is
             ──▶ 401 Basic  ──▶ GET /v2/ with Basic credentials ──▶ 200 ok, 401 refused
             ──▶ 401 Bearer ──▶ token server with Basic credentials ──▶ token? GET /v2/
                                                                     with it ──▶ 200 ok

The session's ordinary 401 handling does the work; this module only asks for ``/v2/`` and
words the refusal as docker does.
"""

from __future__ import annotations

from berth.errors import Unauthorized
from berth.oci.reference import Reference
from berth.registry.client.session import RegistrySession, Request


async def login(session: RegistrySession, host: str) -> None:
    """Raise ``Unauthorized`` unless the session's credentials for ``host`` are accepted
    (or ``host`` asks for none)."""
    endpoint = session.endpoint(Reference(domain=host, path="login"))
    url = endpoint.base
    try:
        async with session.request(endpoint, Request("GET", url, ())):
            pass
    except Unauthorized as err:
        raise Unauthorized(f"login attempt to {url} failed with status: 401 Unauthorized"
                           f" ({err.message})") from err
