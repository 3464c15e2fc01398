"""The default seccomp profile is never dropped silently: a container whose profile cannot
be loaded does not start. The profile comes through the runtime seam (``runtime.host``);
the container's spec option fails, and with it the composition of its spec."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from berth.engine.containers import security
from berth.errors import RuntimeFailure
from berth.runtime import spec as runtime_spec


def test_an_unloadable_default_profile_fails_the_start(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    monkeypatch.setitem(sys.modules, "berth.runtime.linux.seccomp", None)  # import fails
    with pytest.raises(RuntimeFailure, match="refusing to start a container without it"):
        runtime_spec.generate(Path("/rootfs"), [security.with_default_seccomp])


def test_the_default_profile_loads() -> None:
    spec = runtime_spec.generate(Path("/rootfs"), [security.with_default_seccomp])
    profile = spec["linux"]["seccomp"]
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO" and profile.get("syscalls")
