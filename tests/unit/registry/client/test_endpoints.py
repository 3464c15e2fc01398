"""Which URL a session uses for a registry: scheme by the insecure rules, ``served_by``."""

from __future__ import annotations

import pytest

from berth.oci import reference
from berth.registry.client.session import RegistrySession, SessionOptions, is_insecure


@pytest.mark.parametrize(("host", "insecure", "plain"), [
    ("localhost:5000", (), True),
    ("127.0.0.5:80", (), True),
    ("[::1]:5000", (), True),
    ("quay.io", (), False),
    ("10.2.3.4:5000", ("10.0.0.0/8",), True),
    ("10.2.3.4:5000", ("192.168.0.0/16",), False),
    ("plain.example:5000", ("plain.example:5000",), True),
    ("plain.example", ("plain.example:5000",), False),
    ("name.in.cidr", ("0.0.0.0/0",), False),  # names are never resolved to decide
])
def test_insecure_rules(host, insecure, plain):
    assert is_insecure(host, frozenset(insecure)) is plain


def test_endpoints_and_served_by():
    session = RegistrySession(SessionOptions(
        insecure=frozenset({"10.0.0.0/8"}),
        served_by={"quay.io": "http://127.0.0.1:5001", "docker.io": "10.0.0.7:5000"}))
    hub = session.endpoint(reference.parse("busybox"))
    assert (str(hub.base), hub.host, hub.name) == ("http://10.0.0.7:5000/v2/", "10.0.0.7:5000",
                                                   "library/busybox")
    quay = session.endpoint(reference.parse("quay.io/team/app:1"))
    assert (str(quay.base), quay.host) == ("http://127.0.0.1:5001/v2/", "127.0.0.1:5001")
    ghcr = session.endpoint(reference.parse("ghcr.io/a/b"))
    assert str(ghcr.base) == "https://ghcr.io/v2/"
    plain = RegistrySession().endpoint(reference.parse("busybox"))
    assert str(plain.base) == "https://registry-1.docker.io/v2/"
