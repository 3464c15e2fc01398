"""What a RUN instruction executes, and the text docker records for it.

Heredocs follow buildkit: a RUN that is only ``<<EOF`` runs the body with the SHELL (or,
if the body starts with ``#!``, as an executable script); any other heredoc use is
handed to the SHELL whole, bodies included, for it to interpret.
"""

from __future__ import annotations

from collections.abc import Sequence

from berth.engine.builder import history
from berth.engine.builder import instructions as ins
from berth.engine.builder.executor import SCRIPT_DIR, RunStep
from berth.engine.builder.heredoc import parse_marker
from berth.engine.builder.metadata import command_argv
from berth.engine.builder.mounts import RunMount, describe
from berth.engine.builder.state import StageState


def run_step(state: StageState, node: ins.Run, mounts: Sequence[RunMount] = ()
             ) -> tuple[RunStep, str]:
    """The step to execute and its ``created_by`` (which is also its cache key: it holds
    the ``mounts``' flags, not what the mounts contain)."""
    command = node.command
    argv = command_argv(state, command)
    recorded = argv
    script: tuple[str, bytes] | None = None
    if command.prepend_shell and command.files:
        text = command.args[0] if command.args else ""
        full = text + "".join("\n" + doc.content + doc.name for doc in command.files)
        recorded = [*state.shell, full]
        marker = parse_marker(text.strip())
        if marker is not None and len(command.files) == 1:
            body = command.files[0].content
            if body.startswith("#!"):
                script = (marker.name, body.encode())
                argv = [f"/{SCRIPT_DIR}/{marker.name}"]
            else:
                argv = [*state.shell, body]
        else:
            argv = recorded
    allowed = state.args.allowed(state.env)
    created_by = history.run(recorded, state.args.in_history(allowed) if allowed else None,
                             [describe(m) for m in mounts])
    step = RunStep(argv=tuple(argv), env=tuple(allowed), shown=" ".join(argv), script=script)
    return step, created_by
