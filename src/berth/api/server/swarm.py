"""Routes of swarm mode (moby's swarm router: ``/swarm``, ``/services``, ``/nodes``,
``/tasks``, ``/secrets``, ``/configs``).

Berth has no swarm mode, so it answers as a dockerd that is not part of a swarm does:
503 with dockerd's own words, which clients show as they are (``docker node ls`` prints
"This node is not a swarm manager...", docker-py raises ``APIError`` 503). Init and join
would make it one; those are refused with 503 too, saying swarm mode is not supported.
"""

from __future__ import annotations

from aiohttp import web

from berth.api.server.app import Handler, Router
from berth.errors import Unavailable

NOT_A_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or '
                 '"docker swarm join" to connect this node to swarm and try again.')
NOT_IN_A_SWARM = "This node is not part of a swarm"  # dockerd's answer to a leave
UNSUPPORTED = "berth does not support swarm mode: this node cannot init or join a swarm"

_MANAGER_ROUTES = (
    ("GET", "/swarm"), ("POST", "/swarm/update"), ("POST", "/swarm/unlock"),
    ("GET", "/swarm/unlockkey"),
    ("GET", "/services"), ("POST", "/services/create"), ("GET", "/services/{id}"),
    ("DELETE", "/services/{id}"), ("POST", "/services/{id}/update"),
    ("GET", "/services/{id}/logs"),
    ("GET", "/nodes"), ("GET", "/nodes/{id}"), ("DELETE", "/nodes/{id}"),
    ("POST", "/nodes/{id}/update"),
    ("GET", "/tasks"), ("GET", "/tasks/{id}"), ("GET", "/tasks/{id}/logs"),
    ("GET", "/secrets"), ("POST", "/secrets/create"), ("GET", "/secrets/{id}"),
    ("DELETE", "/secrets/{id}"), ("POST", "/secrets/{id}/update"),
    ("GET", "/configs"), ("POST", "/configs/create"), ("GET", "/configs/{id}"),
    ("DELETE", "/configs/{id}"), ("POST", "/configs/{id}/update"),
)


def _refuse(message: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        raise Unavailable(message)
    return handler


class SwarmRoutes:
    def register(self, r: Router) -> None:
        r.add("POST", "/swarm/init", _refuse(UNSUPPORTED))
        r.add("POST", "/swarm/join", _refuse(UNSUPPORTED))
        r.add("POST", "/swarm/leave", _refuse(NOT_IN_A_SWARM))
        manager = _refuse(NOT_A_MANAGER)
        for method, path in _MANAGER_ROUTES:
            r.add(method, path, manager)
