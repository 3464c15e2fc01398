"""The shim makes a runtime from its handler (daemon.py's table names them): the native
runtime in-process, or any runc-compatible binary by $PATH name or absolute path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from berth.errors import RuntimeFailure
from berth.runtime import NATIVE
from berth.runtime.oci_cli import OciCliRuntime
from berth.runtime.shim.runtimes import open_runtime


def test_native_is_the_in_process_runtime(tmp_path: Path) -> None:
    from berth.runtime.linux.runtime import NativeRuntime

    runtime = open_runtime(NATIVE, tmp_path)
    assert isinstance(runtime, NativeRuntime) and runtime.state_root == tmp_path / "native"


def test_a_path_name_is_looked_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    binary = bin_dir / "myrunc"
    binary.write_text("#!/bin/sh\n")
    os.chmod(binary, 0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    runtime = open_runtime("myrunc", tmp_path / "exec")
    assert isinstance(runtime, OciCliRuntime)
    assert (runtime.binary, runtime.root) == (str(binary), tmp_path / "exec/runtime/myrunc")


def test_an_absolute_path_is_taken_as_is(tmp_path: Path) -> None:
    runtime = open_runtime("/opt/berth/berth-runtime", tmp_path)
    assert isinstance(runtime, OciCliRuntime)
    assert runtime.binary == "/opt/berth/berth-runtime"


def test_a_missing_binary_is_a_runtime_failure(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeFailure, match="'crun' not found in \\$PATH"):
        open_runtime("crun", tmp_path)
