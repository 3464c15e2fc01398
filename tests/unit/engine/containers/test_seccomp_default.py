"""The default seccomp profile is never dropped silently: a container whose profile cannot
be loaded does not start."""

from __future__ import annotations

import sys

import pytest

from berth.engine.containers import service
from berth.errors import RuntimeFailure


def test_an_unloadable_default_profile_fails_the_start(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    monkeypatch.setitem(sys.modules, "berth.runtime.linux.seccomp", None)  # import fails
    with pytest.raises(RuntimeFailure, match="refusing to start a container without it"):
        service._default_seccomp()


def test_the_default_profile_loads() -> None:
    profile = service._default_seccomp()
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO" and profile["syscalls"]
