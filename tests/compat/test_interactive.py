"""Interactive sessions in a real pseudo-terminal: ``run -it``, ``exec -it`` and
``attach`` with detach keys, driven through tmux with both the berth and the docker CLI
against berthd.

Each test gets its own tmux server (``-L berth-test-<random>``), killed in ``finally``.
The pane runs a plain bash whose prompt is "$ "; each CLI command is followed by
``echo EXIT=$?`` so the CLI's exit status shows on the screen.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

from tests.compat.daemon import BERTH, Daemon

PROMPT = "/ # "  # busybox sh


class Pane:
    """One tmux server with one window of a known size."""

    def __init__(self, width: int = 100, height: int = 30) -> None:
        self.socket = f"berth-test-{secrets.token_hex(4)}"
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", str(width),
                  "-y", str(height), "env", "PS1=$ ", "bash", "--norc", "--noprofile", "-i")

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True,
                              capture_output=True, text=True, timeout=10).stdout

    def type(self, text: str) -> None:
        """Type a line (literally) and press Enter."""
        self.tmux("send-keys", "-t", "t", "-l", text)
        self.tmux("send-keys", "-t", "t", "Enter")

    def keys(self, *keys: str) -> None:
        for key in keys:  # one at a time, as a person types them
            self.tmux("send-keys", "-t", "t", key)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-S", "-1000", "-t", "t")

    def wait(self, check: Callable[[str], bool], what: str, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if check(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; screen:\n{text}")
            time.sleep(0.05)

    def wait_line(self, pattern: str, timeout: float = 15) -> str:
        regex = re.compile(pattern, re.M)
        return self.wait(lambda text: bool(regex.search(text)), repr(pattern), timeout)

    def prompts(self) -> int:
        return self.screen().count(PROMPT)

    def wait_prompts(self, count: int, timeout: float = 15) -> None:
        self.wait(lambda text: text.count(PROMPT) >= count, f"{count} prompts", timeout)

    def resize(self, width: int, height: int) -> None:
        self.tmux("resize-window", "-t", "t", "-x", str(width), "-y", str(height))

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], check=False,
                       capture_output=True, timeout=10)


@pytest.fixture
def pane() -> Iterator[Pane]:
    p = Pane()
    try:
        yield p
    finally:
        p.kill()


@pytest.fixture(params=["berth", "docker"])
def cli(request: pytest.FixtureRequest, daemon: Daemon) -> str:
    """The command line that reaches berthd with one of the two CLIs."""
    if request.param == "berth":
        return f"{BERTH} -H {daemon.host}"
    return f"DOCKER_CONFIG={daemon.root / 'dockercfg'} docker -H {daemon.host}"


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def container_state(daemon: Daemon, name: str) -> dict[str, object] | None:
    done = daemon.berth("inspect", "-f", "{{json .State}}", name, check=False)
    if done.returncode != 0:
        return None
    import json

    state: dict[str, object] = json.loads(done.stdout)
    return state


def shell_session(pane: Pane) -> None:
    """What a terminal must do inside the container's shell: run a command, let Ctrl-C
    interrupt a foreground job, report the pane's size and follow a resize."""
    pane.wait_prompts(1, timeout=30)
    pane.type("echo $((6*7))")
    pane.wait_line(r"^42\s*$")
    seen = pane.prompts()
    pane.type("sleep 100")
    time.sleep(0.5)  # let the shell start sleep before the interrupt
    pane.keys("C-c")
    pane.wait_prompts(seen + 1, timeout=10)  # back well before the 100 s are up
    pane.type("echo SIZE $(stty size)")
    pane.wait_line(r"^SIZE 30 100\s*$")
    pane.resize(90, 25)
    pane.type("echo RESIZED $(stty size)")
    pane.wait_line(r"^RESIZED 25 90\s*$")


def test_run_it_is_a_real_terminal(daemon: Daemon, pane: Pane, cli: str) -> None:
    name = unique("it")
    pane.type(f"{cli} run -it --rm --name {name} busybox sh; echo EXIT=$?")
    shell_session(pane)
    pane.type("exit")
    pane.wait_line(r"^EXIT=0\s*$")
    deadline = time.monotonic() + 10
    while container_state(daemon, name) is not None:
        assert time.monotonic() < deadline, "--rm left the container behind"
        time.sleep(0.1)


def test_exec_it_is_a_real_terminal(daemon: Daemon, pane: Pane, cli: str) -> None:
    name = unique("ex")
    daemon.berth("run", "-d", "--name", name, "busybox", "sleep", "600")
    try:
        pane.type(f"{cli} exec -it {name} sh; echo EXIT=$?")
        shell_session(pane)
        pane.type("exit 3")
        pane.wait_line(r"^EXIT=3\s*$")
        state = container_state(daemon, name)
        assert state is not None and state["Running"] is True
    finally:
        daemon.berth("rm", "-f", name, check=False)


def test_attach_detaches_on_ctrl_p_ctrl_q(daemon: Daemon, pane: Pane, cli: str) -> None:
    name = unique("at")
    daemon.berth("run", "-dit", "--name", name, "busybox", "sh")
    try:
        pane.type(f"{cli} attach {name}; echo EXIT=$?")
        time.sleep(1)  # attached before typing (attach shows nothing until output)
        pane.type("echo hi-$((2+3))")
        pane.wait_line(r"^hi-5\s*$")
        pane.keys("C-p", "C-q")
        # docker's attach reports the detach as an error: the message, exit 1
        pane.wait_line(r"read escape sequence\s*$")
        pane.wait_line(r"^EXIT=1\s*$")
        state = container_state(daemon, name)
        assert state is not None and state["Running"] is True

        pane.tmux("clear-history", "-t", "t")
        pane.type("clear")
        pane.type(f"{cli} attach --detach-keys ctrl-x,x {name}; echo EXIT=$?")
        time.sleep(1)
        pane.type("echo again-$((3+4))")
        pane.wait_line(r"^again-7\s*$")
        pane.keys("C-x", "x")
        pane.wait_line(r"^EXIT=1\s*$")
        state = container_state(daemon, name)
        assert state is not None and state["Running"] is True
    finally:
        daemon.berth("rm", "-f", name, check=False)


def test_run_it_detaches_silently(daemon: Daemon, pane: Pane, cli: str) -> None:
    name = unique("rd")
    try:
        pane.type(f"{cli} run -it --name {name} busybox sh; echo EXIT=$?")
        pane.wait_prompts(1, timeout=30)
        pane.keys("C-p", "C-q")
        screen = pane.wait_line(r"EXIT=0\s*$")
        assert "read escape sequence" not in screen  # run and start detach quietly
        state = container_state(daemon, name)
        assert state is not None and state["Running"] is True
    finally:
        daemon.berth("rm", "-f", name, check=False)


@pytest.mark.parametrize("which", ["berth", "docker"])
def test_piped_stdin_streams_and_half_closes(daemon: Daemon, which: str) -> None:
    """``-i`` without a terminal: stdin is streamed to its EOF, which reaches the
    container (cat ends), and stdout/stderr stay apart."""
    run = daemon.berth if which == "berth" else daemon.docker
    data = "".join(f"line {i}\n" for i in range(2000))
    done = run("run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo done >&2",
               input=data)
    assert (done.returncode, done.stdout, done.stderr) == (0, data, "done\n")
    name = unique("pi")
    daemon.berth("run", "-d", "--name", name, "busybox", "sleep", "600")
    try:
        done = run("exec", "-i", name, "sh", "-c", "cat; echo done >&2; exit 5",
                   input="piped\n", check=False)
        assert (done.returncode, done.stdout, done.stderr) == (5, "piped\n", "done\n")
    finally:
        daemon.berth("rm", "-f", name, check=False)
