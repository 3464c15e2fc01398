"""The parsed Dockerfile instructions: one frozen dataclass per instruction.

Values are as written, *before* variable expansion: docker expands the arguments of
the instructions in :data:`berth.engine.builder.lex.EXPANDED` at build time with the
environment of the stage at that point, so ENV/LABEL/ARG values and COPY/ADD paths still
carry their quotes and ``$VAR`` references here. Run :func:`~berth.engine.builder.lex.expand`
on them while dispatching. RUN/CMD/ENTRYPOINT in shell form hold the command text as one
string (``prepend_shell``) for the stage's SHELL to run.

Every node knows its ``keyword`` (upper case), the first and last source line (1-based,
heredoc bodies included) and ``original``, the logical line with continuations joined.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict


class Common(TypedDict):
    """The fields every node shares, to build one with ``Node(**common, ...)``."""

    keyword: str
    line: int
    end_line: int
    original: str


@dataclass(frozen=True, kw_only=True)
class Heredoc:
    """A ``<<NAME`` document: ``content`` has its line endings (tabs stripped for ``<<-``)."""

    name: str
    content: str
    expand: bool  # False when the delimiter was quoted: <<"EOF" or <<'EOF'
    chomp: bool  # <<-EOF
    fd: int = 0  # RUN 3<<EOF


@dataclass(frozen=True, kw_only=True)
class Instruction:
    keyword: str
    line: int
    end_line: int
    original: str


@dataclass(frozen=True, kw_only=True)
class CommandLine:
    """RUN/CMD/ENTRYPOINT arguments: exec form (JSON) or one shell-form string."""

    args: tuple[str, ...]
    prepend_shell: bool  # shell form: run ``args[0]`` with the stage's SHELL
    files: tuple[Heredoc, ...] = ()


@dataclass(frozen=True, kw_only=True)
class KeyValue:
    key: str
    value: str


@dataclass(frozen=True, kw_only=True)
class ArgDecl:
    name: str
    default: str | None  # None: declared without a default (ARG NAME)


@dataclass(frozen=True, kw_only=True)
class From(Instruction):
    base: str  # image reference, earlier stage name, or "scratch"
    stage_name: str | None  # lower-cased, as docker compares stage names
    platform: str | None = None


@dataclass(frozen=True, kw_only=True)
class Run(Instruction):
    command: CommandLine
    mounts: tuple[str, ...] = ()  # raw --mount=... values, e.g. "type=cache,target=/x"
    network: str | None = None
    security: str | None = None
    devices: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Cmd(Instruction):
    command: CommandLine


@dataclass(frozen=True, kw_only=True)
class Entrypoint(Instruction):
    command: CommandLine


@dataclass(frozen=True, kw_only=True)
class Shell(Instruction):
    shell: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class FileTransfer(Instruction):
    """What COPY and ADD share."""

    sources: tuple[str, ...]
    dest: str
    contents: tuple[Heredoc, ...] = ()  # COPY <<EOF /dst: inline files
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    excludes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Copy(FileTransfer):
    from_: str | None = None  # --from: stage name, stage index or image
    parents: bool = False


@dataclass(frozen=True, kw_only=True)
class Add(FileTransfer):
    checksum: str | None = None
    keep_git_dir: bool = False


@dataclass(frozen=True, kw_only=True)
class Env(Instruction):
    pairs: tuple[KeyValue, ...]


@dataclass(frozen=True, kw_only=True)
class Label(Instruction):
    pairs: tuple[KeyValue, ...]


@dataclass(frozen=True, kw_only=True)
class Arg(Instruction):
    args: tuple[ArgDecl, ...]


@dataclass(frozen=True, kw_only=True)
class Maintainer(Instruction):
    name: str


@dataclass(frozen=True, kw_only=True)
class Workdir(Instruction):
    path: str


@dataclass(frozen=True, kw_only=True)
class User(Instruction):
    user: str


@dataclass(frozen=True, kw_only=True)
class Expose(Instruction):
    ports: tuple[str, ...]  # sorted, as docker sorts them


@dataclass(frozen=True, kw_only=True)
class Volume(Instruction):
    paths: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class StopSignal(Instruction):
    signal: str


@dataclass(frozen=True, kw_only=True)
class Healthcheck(Instruction):
    """``test`` as the image config holds it: ("NONE",), ("CMD", ...), ("CMD-SHELL", cmd).

    Durations are nanoseconds (the Engine API unit); 0 means "inherit the default".
    """

    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(frozen=True, kw_only=True)
class Onbuild(Instruction):
    """A trigger stored in the image; ``expression`` is what the child build parses.

    ``trigger`` is the parsed expression, or None when it does not parse: docker reports
    such errors only when a child image's build fires the trigger.
    """

    expression: str
    trigger: Instruction | None
