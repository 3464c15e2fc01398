"""X-Registry-Auth decoding, the progress bar and /info's RegistryConfig."""

from __future__ import annotations

import base64
import json

import pytest
from aiohttp.test_utils import make_mocked_request

from berth.api.server.distribution import registry_auth, registry_config
from berth.api.server.progress import progress_bar
from berth.engine.images.registries import RegistryOptions
from berth.errors import InvalidArgument


def _request(header: str | None):
    headers = {"X-Registry-Auth": header} if header is not None else {}
    return make_mocked_request("POST", "/images/x/push", headers=headers)


def test_registry_auth_padded_unpadded_empty_and_bad():
    doc = json.dumps({"username": "u", "password": "p?>", "serveraddress": "r:5000"}).encode()
    padded = base64.urlsafe_b64encode(doc).decode()
    for header in (padded, padded.rstrip("=")):
        auth = registry_auth(_request(header))
        assert auth is not None
        assert (auth.username, auth.password, auth.server_address) == ("u", "p?>", "r:5000")
    assert registry_auth(_request(None)) is None
    assert registry_auth(_request(base64.b64encode(b"{}").decode())) is None
    token = base64.urlsafe_b64encode(b'{"identitytoken": "rt"}').decode()
    creds = registry_auth(_request(token)).credentials()
    assert creds is not None and creds.identity_token == "rt"
    with pytest.raises(InvalidArgument, match="X-Registry-Auth"):
        registry_auth(_request("not base64 json!"))


def test_progress_bar_like_dockerd():
    assert progress_bar(512, 1024) == "[" + "=" * 25 + ">" + " " * 25 + "]     512B/1.024kB"
    assert progress_bar(1024, 1024).startswith("[" + "=" * 50 + ">]")
    assert progress_bar(2048, 0) == " 2.048kB"


def test_registry_config():
    options = RegistryOptions(mirrors={"docker.io": ("http://127.0.0.1:5001",),
                                       "quay.io": ("https://m.example",)},
                              insecure=frozenset({"10.0.0.0/8", "plain.example"}))
    config = registry_config(options)
    assert config["InsecureRegistryCIDRs"] == ["::1/128", "127.0.0.0/8", "10.0.0.0/8"]
    assert config["Mirrors"] == ["http://127.0.0.1:5001/"]
    assert config["IndexConfigs"]["quay.io"] == {
        "Name": "quay.io", "Mirrors": ["https://m.example/"], "Secure": True,
        "Official": False}
    assert config["IndexConfigs"]["plain.example"]["Secure"] is False
    assert config["IndexConfigs"]["docker.io"]["Official"] is True
