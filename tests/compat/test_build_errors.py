"""Bad Dockerfiles through the real docker CLI's classic builder (``DOCKER_BUILDKIT=0``):
each stops with the message docker's classic builder gives (checked against dockerd 20.10
and moby's source; the parse errors use today's buildkit parser wording, as moby's classic
builder now does), leaves no container, active snapshot or mount behind, and keeps the
cache of the steps that succeeded: the fixed Dockerfile rebuilds them as "Using cache".

Every Dockerfile's first RUN writes a token unique to the test run, so cache hits can only
come from the failed build just before.
"""

from __future__ import annotations

import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.compat.daemon import Daemon, registry_server
from tests.compat.test_build import active_snapshots
from tests.trees import write_tree


@dataclass(frozen=True)
class Case:
    id: str
    bad: str  # the Dockerfile; {u}: the run's token, {reg}: the loopback registry
    message: str  # in the CLI's stderr
    fixed: str
    cached: int  # steps the fixed Dockerfile finds in the cache
    step: str | None = None  # the last step header shown (None: refused before any step)
    code: int = 1  # the CLI's exit status


OK = "RUN echo {u} > /ok\n"


def third_step(id: str, line: str, message: str, fixed: str, cached: int = 1,
               code: int = 1, parse_error: bool = False) -> Case:
    """A case whose Dockerfile is busybox, the ``OK`` step, then ``line`` (step 3, shown
    unless the parser refuses the file first); ``fixed`` replaces ``line``."""
    head = "FROM busybox\n" + OK
    return Case(id, head + line + "\n", message, head + fixed + "\n", cached,
                None if parse_error else f"Step 3/3 : {line}", code)


CASES = [
    third_step("unknown-instruction", "FOO bar",
               "dockerfile parse error on line 3: unknown instruction: FOO (did you mean FROM?)",
               "ENV FOO=bar", cached=0, parse_error=True),
    third_step("malformed-json", 'CMD ["cat", 1]',
               "dockerfile parse error on line 3: when using JSON array syntax, arrays must be "
               "comprised of strings only",
               'CMD ["cat", "/ok"]', cached=0, parse_error=True),
    # not JSON after all: docker runs it as a shell command, which fails
    third_step("unterminated-json-runs-as-shell", 'RUN ["echo", "a"',
               "The command '/bin/sh -c [\"echo\", \"a\"' returned a non-zero code: 127",
               'RUN ["echo", "a"]', code=127),
    third_step("copy-outside-context", "COPY ../x /x",
               "COPY failed: forbidden path outside the build context: ../x ()", "COPY x /x"),
    third_step("copy-missing-file", "COPY missing.txt /x",
               "COPY failed: file not found in build context or excluded by .dockerignore: "
               "stat missing.txt: file does not exist", "COPY x /x"),
    third_step("run-fails", "RUN echo failing; exit 5",
               "The command '/bin/sh -c echo failing; exit 5' returned a non-zero code: 5",
               "RUN true", code=5),
    Case("missing-stage-index", "FROM busybox AS a\nFROM busybox\n" + OK +
         "COPY --from=5 /ok /x\n", "invalid from flag value 5: index out of bounds",
         "FROM busybox AS a\nFROM busybox\n" + OK + "COPY --from=a /bin/true /x\n",
         cached=0),
    Case("missing-stage-image", "FROM busybox\n" + OK + "COPY --from={reg}/nostage /ok /x\n",
         "invalid from flag value {reg}/nostage: manifest for {reg}/nostage:latest not "
         "found: manifest unknown",
         "FROM busybox AS src\nFROM busybox\n" + OK + "COPY --from=src /bin/true /x\n",
         cached=1, step="Step 3/3 : COPY --from={reg}/nostage /ok /x"),
    third_step("stage-name-not-a-reference", "COPY --from=No_Such /ok /x",
               "invalid from flag value No_Such: invalid reference format: repository name "
               "must be lowercase", "COPY x /x"),
    Case("from-refers-to-own-stage", "FROM busybox AS a\n" + OK + "COPY --from=a /ok /x\n",
         "circular dependency detected on stage: a",
         "FROM busybox AS a\n" + OK + "RUN cp /ok /x\n", cached=0),
    Case("from-cycle-through-later-stage",
         "FROM busybox AS a\n" + OK + "COPY --from=b /ok /x\nFROM a AS b\n",
         "circular dependency detected on stage: ",
         "FROM busybox AS a\n" + OK + "FROM a AS b\nRUN cp /ok /x\n", cached=0),
    Case("arg-in-from-never-declared", "FROM ${{BASE}}\n" + OK,
         "base name (${{BASE}}) should not be blank",
         "ARG BASE=busybox\nFROM ${{BASE}}\n" + OK, cached=0),
    Case("missing-base-image", "FROM {reg}/nosuch:1\n" + OK,
         "manifest for {reg}/nosuch:1 not found: manifest unknown",
         "FROM busybox\n" + OK, cached=0, step="Step 1/2 : FROM {reg}/nosuch:1"),
]


@pytest.fixture(scope="module")
def registry() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="berth-reg-") as root, \
            registry_server(Path(root)) as address:
        yield address


@pytest.fixture(autouse=True)
def classic_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")


def docker_build(d: Daemon, ctx: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return d.docker("build", *flags, str(ctx), check=False, timeout=120)


def assert_nothing_left(d: Daemon) -> None:
    assert d.docker("ps", "-aq").stdout == ""
    assert active_snapshots(d) == []
    assert d.mounts() == []


def last_step(stdout: str) -> str | None:
    return next((line for line in reversed(stdout.splitlines())
                 if line.startswith("Step ")), None)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_dockerfile(daemon: Daemon, registry: str, tags: list[str], tmp_path: Path,
                        case: Case) -> None:
    fill = {"u": secrets.token_hex(6), "reg": registry}
    write_tree(tmp_path, {"Dockerfile": case.bad.format(**fill), "x": "x\n"})
    failed = docker_build(daemon, tmp_path)
    assert failed.returncode == case.code, failed.stdout + failed.stderr
    assert case.message.format(**fill) in failed.stderr
    assert last_step(failed.stdout) == (case.step.format(**fill) if case.step else None)
    assert "Successfully built" not in failed.stdout
    assert_nothing_left(daemon)

    write_tree(tmp_path, {"Dockerfile": case.fixed.format(**fill)})
    tags.append(f"berth-errors:{case.id}")
    fixed = docker_build(daemon, tmp_path, "-t", tags[-1])
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert fixed.stdout.count(" ---> Using cache\n") == case.cached, fixed.stdout
    assert daemon.docker("run", "--rm", tags[-1], "cat", "/ok").stdout == fill["u"] + "\n"
    assert_nothing_left(daemon)


def test_arg_used_before_its_declaration_expands_empty(daemon: Daemon, tags: list[str],
                                                        tmp_path: Path) -> None:
    """As in docker: a RUN before ``ARG V`` sees no V, even with ``--build-arg V=...``;
    the RUN after it does."""
    write_tree(tmp_path, {"Dockerfile": 'FROM busybox\nRUN echo "before=$V" > /v\nARG V=dflt\n'
                                        'RUN echo "after=$V" >> /v\n'})
    tags.append("berth-errors:arg-order")
    done = docker_build(daemon, tmp_path, "-t", tags[-1])
    assert done.returncode == 0, done.stderr
    assert daemon.docker("run", "--rm", tags[-1], "cat", "/v").stdout == \
        "before=\nafter=dflt\n"
    done = docker_build(daemon, tmp_path, "-t", tags[-1], "--build-arg", "V=given")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(" ---> Using cache\n") == 2  # RUN before ARG, and ARG itself
    assert daemon.docker("run", "--rm", tags[-1], "cat", "/v").stdout == \
        "before=\nafter=given\n"


def test_failing_stage_cancels_a_concurrent_one(daemon: Daemon, tmp_path: Path) -> None:
    """Independent stages run together; the first failure stops the other stage's RUN and
    removes its container."""
    write_tree(tmp_path, {"Dockerfile": "FROM busybox AS slow\nRUN sleep 30\n"
                                        "FROM busybox AS failing\nRUN sleep 1; exit 4\n"
                                        "FROM busybox\nCOPY --from=slow /bin/true /a\n"
                                        "COPY --from=failing /bin/true /b\n"})
    failed = docker_build(daemon, tmp_path)
    assert failed.returncode == 4
    assert "The command '/bin/sh -c sleep 1; exit 4' returned a non-zero code: 4" in \
        failed.stderr
    assert failed.stdout.count(" ---> Running in ") == 2
    assert_nothing_left(daemon)
