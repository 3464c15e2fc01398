"""created_by texts and build-arg visibility, as docker's classic builder writes them."""

from __future__ import annotations

from berth.engine.builder import history
from berth.engine.builder.args import ArgUsage, StageArgs
from berth.engine.builder.dockerfile import parse
from berth.engine.builder.instructions import Arg, Run
from berth.engine.builder.runcommand import run_step
from berth.engine.builder.state import StageState, scratch

SH = ["/bin/sh", "-c"]


def test_metadata_and_copy_texts() -> None:
    assert history.nop(SH, "ENV A=b") == "/bin/sh -c #(nop)  ENV A=b"
    assert history.nop_string(SH, "WORKDIR /app") == "/bin/sh -c #(nop) WORKDIR /app"
    assert history.copy(SH, "COPY", "file", "sha256:abc", "/x") == \
        "/bin/sh -c #(nop) COPY file:abc in /x "
    assert history.go_quoted_list(["/bin/sh", "-c", 'echo "hi"']) == \
        '["/bin/sh" "-c" "echo \\"hi\\""]'
    assert history.go_list(["/data", "/logs"]) == "[/data /logs]"


def test_run_text_carries_build_args() -> None:
    assert history.run(["/bin/sh", "-c", "make"], None) == "/bin/sh -c make"
    assert history.run(["/bin/sh", "-c", "make"], ["A=1", "B=2"]) == "|2 A=1 B=2 /bin/sh -c make"
    assert history.run(["true"], []) == "|0 true"


def test_go_durations() -> None:
    assert [history.go_duration(s * 1_000_000_000) for s in (0, 5, 90, 3600)] == \
        ["0s", "5s", "1m30s", "1h0m0s"]
    assert history.go_duration(1_500_000_000) == "1.5s"
    assert history.go_duration(500_000_000) == "500ms"
    assert history.healthcheck(["CMD-SHELL", "true"], [5_000_000_000, 0, 0, 0], 3) == \
        'HEALTHCHECK &{["CMD-SHELL" "true"] "5s" "0s" "0s" "0s" \'\\x03\'}'


def _state(given: dict[str, str]) -> StageState:
    return StageState(scratch(), StageArgs(ArgUsage(given=given, global_env={"G": "glob"})),
                      "\\")


def test_build_args_reach_run_only_when_declared() -> None:
    state = _state({"V": "cli", "HTTP_PROXY": "http://p", "UNUSED": "x"})
    nodes = parse("FROM scratch\nARG V\nARG D=def\nARG G\nRUN make\n").instructions
    for node in nodes[1:4]:
        assert isinstance(node, Arg)
        for decl in node.args:
            state.args.declare(decl, state.expansion_env(), "\\")
    run = nodes[4]
    assert isinstance(run, Run)
    step, created_by = run_step(state, run)
    assert sorted(step.env) == ["D=def", "G=glob", "HTTP_PROXY=http://p", "V=cli"]
    # proxies reach RUN but stay out of the history (and so out of the cache key)
    assert created_by == "|3 D=def G=glob V=cli /bin/sh -c make"
    assert state.args.usage.unused() == ["UNUSED"]


def test_env_wins_over_arg() -> None:
    state = _state({"V": "cli"})
    node = parse("FROM scratch\nARG V\n").instructions[1]
    assert isinstance(node, Arg)
    state.args.declare(node.args[0], {}, "\\")
    state.config["Env"] = ["V=env", "PATH=/bin"]
    assert state.expansion_env()["V"] == "env"
    assert state.args.allowed(state.env) == []


def test_heredoc_runs_with_the_shell_or_as_a_script() -> None:
    state = _state({})
    simple, script, piped = parse(
        "FROM scratch\nRUN <<EOF\necho a\nEOF\nRUN <<EOF\n#!/bin/busybox sh\necho b\nEOF\n"
        "RUN cat <<EOF > /f\nc\nEOF\n").instructions[1:]
    assert isinstance(simple, Run) and isinstance(script, Run) and isinstance(piped, Run)
    step, created_by = run_step(state, simple)
    assert step.argv == ("/bin/sh", "-c", "echo a\n") and step.script is None
    assert created_by == "/bin/sh -c <<EOF\necho a\nEOF"
    step, _ = run_step(state, script)
    assert step.argv == ("/.berth-heredoc/EOF",)
    assert step.script == ("EOF", b"#!/bin/busybox sh\necho b\n")
    step, _ = run_step(state, piped)
    assert step.argv == ("/bin/sh", "-c", "cat <<EOF > /f\nc\nEOF")
