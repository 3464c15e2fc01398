"""docker's ``AuthConfig``: the body of ``POST /auth`` and, base64-encoded, the
``X-Registry-Auth`` header of pull and push."""

from __future__ import annotations

import msgspec


class AuthConfig(msgspec.Struct):
    username: str = ""
    password: str = ""
    auth: str = ""  # base64 "user:password", as a config.json holds it
    email: str = ""
    serveraddress: str = ""
    identitytoken: str = ""
    registrytoken: str = ""
