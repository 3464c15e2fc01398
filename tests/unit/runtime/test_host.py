"""The runtime seam's host facade: where a container's cgroup is, and the default
seccomp profile that is loaded or refused, never dropped."""

from __future__ import annotations

import sys

import pytest

from berth.errors import RuntimeFailure
from berth.runtime import host


def test_containers_live_under_the_cgroup_parent() -> None:
    assert host.CgroupParent().path("abc") == "/berth/abc"
    assert host.CgroupParent("berth-ci").path("abc") == "/berth-ci/abc"


def test_the_default_profile_is_a_fresh_copy() -> None:
    first = host.default_seccomp()
    first["defaultAction"] = "SCMP_ACT_ALLOW"
    assert host.default_seccomp()["defaultAction"] == "SCMP_ACT_ERRNO"


def test_an_unloadable_profile_is_a_runtime_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "berth.runtime.linux.seccomp", None)
    with pytest.raises(RuntimeFailure, match="cannot load the default seccomp profile"):
        host.default_seccomp()
