"""Build stages: split a parsed Dockerfile at each FROM and plan what a target needs.

Rules, as buildkit's ``dockerfile2llb``:

* ARGs before the first FROM are *global* (meta) args: they can be used in FROM lines
  only; a stage sees one only after redeclaring it (``ARG NAME`` without a value takes
  the global value). Any other instruction before the first FROM is an error.
* ``FROM <name>`` refers to an *earlier* stage named ``<name>`` (case-insensitively),
  otherwise to an image. ``COPY --from=`` and ``RUN --mount=from=`` refer to a stage by
  name or index, otherwise to an image.
* A build runs only the stages its target (``--target``, default the last stage) needs;
  stages whose dependencies are all done can run concurrently (:attr:`BuildPlan.levels`).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from berth.engine.builder.dockerfile import Dockerfile
from berth.engine.builder.errors import DockerfileError
from berth.engine.builder.instructions import Arg, ArgDecl, Copy, From, Instruction, Run
from berth.engine.builder.lex import expand
from berth.formats.goformat import go_quote
from berth.registry.client import platforms


@dataclass(frozen=True)
class Stage:
    index: int
    name: str | None
    base: str  # the FROM base with global args expanded
    from_: From
    instructions: tuple[Instruction, ...]
    base_stage: int | None  # FROM an earlier stage
    deps: frozenset[int]  # every stage this one needs: FROM, COPY --from, RUN --mount from=
    images: tuple[str, ...]  # images named by COPY --from / RUN --mount from=


@dataclass(frozen=True)
class BuildPlan:
    meta_args: tuple[ArgDecl, ...]
    global_args: Mapping[str, str]  # values of the meta args (build args applied)
    stages: tuple[Stage, ...]
    target: int
    order: tuple[int, ...]  # the stages the target needs, dependencies first
    levels: tuple[tuple[int, ...], ...]  # ``order`` grouped: each level only needs earlier ones

    def stage(self, name_or_index: str) -> Stage:
        return self.stages[_find_stage(self.stages, name_or_index, len(self.stages))]


def plan(dockerfile: Dockerfile, *, target: str | None = None,
         build_args: Mapping[str, str] | None = None) -> BuildPlan:
    """Split ``dockerfile`` into stages and plan the build of ``target``."""
    build_args = build_args or {}
    meta, drafts = split(dockerfile.instructions)
    env = global_args(meta, build_args, dockerfile.escape)
    names: list[str | None] = []
    for node, _ in drafts:
        if node.stage_name and node.stage_name in names:
            raise DockerfileError(f"duplicate stage name {go_quote(node.stage_name)}", node.line)
        names.append(node.stage_name)
    stages = [_stage(index, node, body, names, env, dockerfile.escape)
              for index, (node, body) in enumerate(drafts)]
    target_index = len(stages) - 1
    if target:
        target_index = next((s.index for s in stages if s.name == target.lower()), -1)
        if target_index < 0:
            raise DockerfileError(f"target stage {go_quote(target)} could not be found")
    levels = _levels(stages, target_index)
    order = tuple(i for level in levels for i in level)
    return BuildPlan(tuple(meta), env, tuple(stages), target_index, order, levels)


Draft = tuple[From, list[Instruction]]


def split(nodes: Sequence[Instruction]) -> tuple[list[ArgDecl], list[Draft]]:
    """The global ARG declarations and each FROM with the instructions after it."""
    meta: list[ArgDecl] = []
    stages: list[Draft] = []
    for node in nodes:
        if isinstance(node, From):
            stages.append((node, []))
        elif stages:
            stages[-1][1].append(node)
        elif isinstance(node, Arg):
            meta.extend(node.args)
        else:
            raise DockerfileError("no build stage in current context", node.line)
    if not stages:
        raise DockerfileError("dockerfile contains no stages to build")
    return meta, stages


def platform_args() -> dict[str, str]:
    """BuildKit's automatic platform args (build = target = this host: berth builds for
    the platform it runs on). They are in the global scope, so ``FROM --platform=
    $BUILDPLATFORM`` expands, and a stage sees one once it declares it (``ARG TARGETARCH``)."""
    p = platforms.host_platform()
    name = platforms.display(p)  # linux/amd64 (docker leaves the default variant out)
    variant = name.split("/")[2] if name.count("/") == 2 else ""
    found: dict[str, str] = {}
    for side in ("BUILD", "TARGET"):
        found |= {f"{side}PLATFORM": name, f"{side}OS": p.os, f"{side}ARCH": p.architecture,
                  f"{side}VARIANT": variant}
    return found


def global_args(meta: Sequence[ArgDecl], build_args: Mapping[str, str],
                escape: str = "\\") -> dict[str, str]:
    """Values of the global args: a build arg wins, else the default expanded so far; the
    platform args are there from the start."""
    env: dict[str, str] = platform_args()
    for decl in meta:
        if decl.name in build_args:
            env[decl.name] = build_args[decl.name]
        elif decl.default is not None:
            env[decl.name] = expand(decl.default, env, escape)
    return env


def arg_value(decl: ArgDecl, build_args: Mapping[str, str],
              global_env: Mapping[str, str]) -> str | None:
    """The raw value an ``ARG`` inside a stage takes (its default still unexpanded)."""
    if decl.name in build_args:
        return build_args[decl.name]
    if decl.default is not None:
        return decl.default
    return global_env.get(decl.name)


def _stage(index: int, node: From, body: list[Instruction], names: Sequence[str | None],
           env: Mapping[str, str], escape: str) -> Stage:
    base = expand(node.base, env, escape)
    if not base:
        raise DockerfileError(f"base name ({node.base}) should not be blank", node.line)
    earlier = names[:index]  # FROM sees only the stages above it
    base_stage = earlier.index(base.lower()) if base.lower() in earlier else None
    deps: set[int] = set() if base_stage is None else {base_stage}
    images: list[str] = []
    for ref, line in _references(body):
        ref = expand(ref, env, escape)
        try:
            deps.add(_find_name(names, ref, len(names)))
        except LookupError:
            images.append(ref)
        except ValueError as err:  # worded as moby's getImageMount
            raise DockerfileError(f"invalid from flag value {ref}: {err}", line) from None
    return Stage(index, node.stage_name, base, node, tuple(body), base_stage,
                 frozenset(deps), tuple(images))


def _references(body: Sequence[Instruction]) -> list[tuple[str, int]]:
    """``(name_or_index, line)`` of each COPY --from and RUN --mount from=."""
    refs: list[tuple[str, int]] = []
    for node in body:
        if isinstance(node, Copy) and node.from_:
            refs.append((node.from_, node.line))
        elif isinstance(node, Run):
            refs.extend((source, node.line) for mount in node.mounts
                        if (source := mount_from(mount)))
    return refs


def mount_from(mount: str) -> str | None:
    """The ``from=`` field of a ``--mount`` value (CSV of key=value)."""
    for row in csv.reader([mount]):
        for item in row:
            key, _, value = item.partition("=")
            if key.strip().lower() == "from":
                return value
    return None


def _find_name(names: Sequence[str | None], ref: str, count: int) -> int:
    """Index of the stage ``ref`` names; LookupError when it is an image."""
    lowered = ref.lower()
    for index, name in enumerate(names):
        if name == lowered:
            return index
    if ref.isdigit() or (ref.startswith("-") and ref[1:].isdigit()):
        index = int(ref)
        if not 0 <= index < count:
            raise ValueError("index out of bounds")
        return index
    raise LookupError(ref)


def _find_stage(stages: Sequence[Stage], ref: str, count: int) -> int:
    try:
        return _find_name([s.name for s in stages], ref, count)
    except (LookupError, ValueError):
        raise DockerfileError(f"target stage {go_quote(ref)} could not be found") from None


def _levels(stages: Sequence[Stage], target: int) -> tuple[tuple[int, ...], ...]:
    """The stages ``target`` needs, grouped so a group only needs earlier groups."""
    level: dict[int, int] = {}
    visiting: set[int] = set()

    def visit(index: int) -> int:
        if index in level:
            return level[index]
        if index in visiting:
            stage = stages[index]
            raise DockerfileError("circular dependency detected on stage: "
                                  f"{stage.name or stage.index}", stage.from_.line)
        visiting.add(index)
        depth = 1 + max((visit(dep) for dep in sorted(stages[index].deps)), default=-1)
        visiting.discard(index)
        level[index] = depth
        return depth

    visit(target)
    grouped: dict[int, list[int]] = {}
    for index, depth in level.items():
        grouped.setdefault(depth, []).append(index)
    return tuple(tuple(sorted(grouped[d])) for d in sorted(grouped))
