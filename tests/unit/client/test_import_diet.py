"""Start-up diet: which modules ``berth`` loads (never how long that takes).

Every CLI start pays for every module imported, so the CLI and the client keep the heavy
standard-library modules out of their import graph (``http.client`` alone was ~45 ms; see
``berth.client.http1`` and ``berth.client.jsoncodec``). These tests run a fresh interpreter
with ``-X importtime`` and compare the modules it loads with those of a bare interpreter
in the same environment.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# Never on the import path of the CLI or the client.
FORBIDDEN = {"http", "email", "ssl", "dataclasses", "inspect", "typing", "asyncio",
             "argparse", "re", "ast", "contextlib", "urllib"}
# Nor while ``run``, ``ps`` and ``version`` do their work: each is milliseconds (``json``
# pulls in ``re`` and ``enum``; ``socket`` and ``signal`` wrap their C modules in enums).
FORBIDDEN_WHILE_RUNNING = FORBIDDEN | {
    "json", "enum", "socket", "signal", "threading", "datetime", "platform", "fractions",
    "functools", "collections", "importlib", "warnings", "selectors",
}


def loaded_modules(code: str) -> set[str]:
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in result.stderr.splitlines()
            if line.startswith("import time:") and "|" in line} - {"imported package"}


@pytest.fixture(scope="module")
def interpreter_modules() -> set[str]:
    return loaded_modules("pass")


def heavy(modules: set[str], forbidden: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in forbidden)


def test_the_diet_test_sees_imports(interpreter_modules):
    extra = loaded_modules("import json") - interpreter_modules
    assert "re" in extra and heavy(extra, FORBIDDEN_WHILE_RUNNING)


@pytest.mark.parametrize("modules", [
    "berth.cli.main, berth.client",
    "berth.cli.main, berth.client.containers, berth.client.images, berth.client.hijack, "
    "berth.cli.commands.run, berth.cli.commands.ps, berth.cli.commands.version",
    "berth.cli.main, berth.client.execs, berth.cli.terminal, berth.cli.commands.exec, "
    "berth.cli.commands.attach, berth.cli.commands.events, berth.cli.commands.top",
    # a build without .dockerignore: no tarfile (the CLI writes its own headers), no re
    "berth.cli.main, berth.client.build, berth.cli.commands.build, berth.cli.buildcontext",
])
def test_importing_cli_and_client_stays_light(interpreter_modules, modules):
    loaded = loaded_modules(f"import {modules}") - interpreter_modules
    assert "berth.cli.main" in loaded
    assert heavy(loaded, FORBIDDEN) == []


@pytest.mark.parametrize(("argv", "module"), [
    (["version"], "berth.cli.commands.version"),
    (["ps", "-a"], "berth.cli.template"),
    (["run", "--rm", "busybox", "true"], "berth.client.hijack"),
    (["exec", "web", "true"], "berth.client.execs"),
])
def test_running_hot_verbs_stays_light(interpreter_modules, daemon, host, argv, module):
    """The whole invocation, request and output included, against the fake daemon."""
    daemon.state.containers = [{"Id": "a" * 64, "Names": ["/web"], "Image": "busybox",
                                "Command": "true", "Created": 1, "State": "running",
                                "Status": "Up 1 second"}]
    code = ("import sys; from berth.cli.main import main; "
            f"sys.exit(main({argv!r}, {{'BERTH_HOST': {host!r}}}))")
    loaded = loaded_modules(code) - interpreter_modules
    assert {"berth.client.http1", module} <= loaded
    assert heavy(loaded, FORBIDDEN_WHILE_RUNNING) == []
