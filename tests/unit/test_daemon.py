"""daemon.py's table of runtimes is the one list: berthd's --runtime, a create's runtime
and /info all go by it (any absolute path is a runtime too)."""

from __future__ import annotations

import pytest

from berth.daemon import RUNTIMES, check_runtime
from berth.engine.containers import record
from berth.engine.containers.model import ContainerSpec
from berth.errors import InvalidArgument
from berth.runtime import NATIVE


def test_the_table_names_native_runc_and_crun() -> None:
    assert RUNTIMES == {"native": NATIVE, "runc": "runc", "crun": "crun"}


@pytest.mark.parametrize("name", ["native", "runc", "crun", "/usr/local/bin/berth-runtime"])
def test_berthd_accepts_a_known_runtime_or_a_path(name: str) -> None:
    assert check_runtime(name) == name


def test_berthd_refuses_an_unknown_runtime_at_start() -> None:
    with pytest.raises(InvalidArgument, match="unknown runtime 'kata': one of native, runc"):
        check_runtime("kata")


def test_a_create_goes_by_the_same_table() -> None:
    spec = ContainerSpec(image="busybox")
    for name in [*RUNTIMES, "/opt/bin/crun"]:
        record.validate(spec, name, RUNTIMES)
    with pytest.raises(InvalidArgument, match="unknown or invalid runtime name: kata"):
        record.validate(spec, "kata", RUNTIMES)
