"""Which namespaces an exec joins, and in which order (runc's nsexec order)."""

from __future__ import annotations

from typing import Any

import pytest

from berth.runtime.linux.exec import namespaces_to_join


def _spec(*types: str) -> Any:
    return {"linux": {"namespaces": [{"type": t} for t in types]}}


def test_join_order_is_runcs_whatever_the_spec_order() -> None:
    spec = _spec("cgroup", "mount", "pid", "network", "uts", "ipc")
    assert namespaces_to_join(spec) == ["ipc", "uts", "network", "pid", "mount", "cgroup"]


def test_only_the_containers_namespaces() -> None:
    assert namespaces_to_join(_spec("mount", "pid")) == ["pid", "mount"]


def test_unknown_namespace_type_is_refused() -> None:
    with pytest.raises(ValueError, match="bogus"):
        namespaces_to_join(_spec("mount", "bogus"))


def test_time_namespace_is_joined_last() -> None:
    assert namespaces_to_join(_spec("time", "mount", "user")) == ["user", "mount", "time"]
