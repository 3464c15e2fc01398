"""Registry credentials on the wire and push progress as docker's JSON messages.

``X-Registry-Auth`` (pull, push) is base64url JSON, padded or not (docker's
``registry.DecodeAuthConfig``)::

    {"username": "u", "password": "p", "serveraddress": "localhost:5000"}
    {"identitytoken": "<refresh token>", "serveraddress": "..."}

``POST /auth`` carries the same document as its body. Push progress, as dockerd writes it::

    {"status":"The push refers to repository [localhost:5000/x]"}
    {"status":"Preparing","progressDetail":{},"id":"3d2c5a9e1f04"}
    {"status":"Pushing","progressDetail":{"current":512,"total":1024},
     "progress":"[=========================>                         ]     512B/1.024kB",
     "id":"3d2c5a9e1f04"}
    {"status":"Pushed","progressDetail":{},"id":"3d2c5a9e1f04"}
    {"status":"1: digest: sha256:... size: 527"}
    {"progressDetail":{},"aux":{"Tag":"1","Digest":"sha256:...","Size":527}}
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from berth.api.server.progress import ProgressStream
from berth.api.types import auth as types
from berth.api.types.decode import decode
from berth.config import DOCKER_HUB
from berth.engine.images.push import PushProgress, PushStep
from berth.engine.images.registries import AuthConfig, RegistryOptions
from berth.errors import InvalidArgument

AUTH_HEADER = "X-Registry-Auth"


def auth_config(doc: types.AuthConfig) -> AuthConfig | None:
    """The credentials of docker's ``AuthConfig``; None when it names none. ``auth``
    (base64 ``user:password``, a config.json's form) stands for both when they are unset."""
    username, password = doc.username, doc.password
    if doc.auth and not username:
        try:
            username, _, password = base64.b64decode(doc.auth).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as err:
            raise InvalidArgument(f"invalid registry credentials: auth: {err}") from None
    if not username and not doc.identitytoken:
        return None
    return AuthConfig(username, password, doc.serveraddress, doc.identitytoken)


def registry_auth(request: web.Request) -> AuthConfig | None:
    """The credentials of ``X-Registry-Auth``, if the client sent any."""
    encoded = request.headers.get(AUTH_HEADER, "").strip()
    if not encoded:
        return None
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError) as err:
        raise InvalidArgument(f"invalid {AUTH_HEADER} header: {err}") from err
    return auth_config(decode(raw, types.AuthConfig))


@dataclass
class PushRenderer:
    """``PushProgress`` events as dockerd's push messages."""

    progress: ProgressStream

    async def send(self, event: PushProgress) -> None:
        if event.step is PushStep.STARTED:
            await self.progress.send(status=f"The push refers to repository [{event.detail}]")
            return
        if event.step is PushStep.TAGGED:
            await self.progress.send(
                status=f"{event.detail}: digest: {event.layer} size: {event.total}")
            await self.progress.send(progressDetail={}, aux={
                "Tag": event.detail, "Digest": event.layer, "Size": event.total})
            return
        short = event.layer.removeprefix("sha256:")[:12]
        if event.step is PushStep.PUSHING:
            await self.progress.send_bar(event.step.value, short, event.current, event.total)
        elif event.step is PushStep.MOUNTED:
            await self.progress.send(status=f"Mounted from {event.detail}", progressDetail={},
                                     id=short)
        else:
            await self.progress.send(status=event.step.value, progressDetail={}, id=short)


def registry_config(options: RegistryOptions) -> dict[str, Any]:
    """``/info``'s ``RegistryConfig`` as dockerd reports it: the CIDRs served over plain
    HTTP (loopback always), one ``IndexConfigs`` entry per configured registry, and
    docker.io's mirrors as ``Mirrors``."""
    cidrs = ["::1/128", "127.0.0.0/8", *(e for e in options.insecure if "/" in e)]
    names = {*options.index_configs(), *(e for e in options.insecure if "/" not in e)}
    indexes = {
        name: {"Name": name, "Mirrors": [f"{m}/" for m in options.mirrors.get(name, ())],
               "Secure": options.secure(name), "Official": name == DOCKER_HUB}
        for name in sorted(names)}
    return {
        "AllowNondistributableArtifactsCIDRs": None,
        "AllowNondistributableArtifactsHostnames": None,
        "InsecureRegistryCIDRs": cidrs, "IndexConfigs": indexes,
        "Mirrors": [f"{m}/" for m in options.mirrors.get(DOCKER_HUB, ())],
        "DefaultRegistry": options.default_registry,
    }
