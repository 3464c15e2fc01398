"""One stage of a build, step by step: FROM (with the base image's ONBUILD triggers),
then each instruction, each committed as an image whose parent is the previous one.

Every step first computes its ``created_by`` text and probes the cache with it
(:mod:`.cache`); only on a miss does it run (RUN), copy (COPY/ADD), create a directory
(WORKDIR) or just commit the new config (everything else). The classic builder's output
goes to ``BuildOutput`` as it happens::

    Step 2/6 : RUN make            ← the builder, for each instruction
     ---> Using cache              ← a cache hit, or:
     ---> Running in 1a2b3c4d5e6f  ← RUN: its container, then its output
    Removing intermediate container 1a2b3c4d5e6f
     ---> 3f57d9401f8d             ← the step's image
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from berth.engine.builder import cache, history, metadata
from berth.engine.builder import instructions as ins
from berth.engine.builder.backend import ImageProvider
from berth.engine.builder.commit import Committer, Layer
from berth.engine.builder.copy import CopyPlan, CopySpec, copy_checksum, perform_copy, plan_copy
from berth.engine.builder.copyplan import ItemKind
from berth.engine.builder.dockerfile import parse
from berth.engine.builder.errors import DockerfileError
from berth.engine.builder.executor import RunExecutor
from berth.engine.builder.lex import expand
from berth.engine.builder.options import RUN_NETWORK_MODES, BuildOptions, BuildOutput
from berth.engine.builder.runcommand import run_step
from berth.engine.builder.runmounts import (
    MountSources,
    SourceResolver,
    parse_run_mounts,
    step_mounts,
)
from berth.engine.builder.state import BaseImage, StageState
from berth.store.rootview import LayerTree

# SourceResolver: resolves ``COPY --from`` and ``--mount from=`` to the image (a stage's
# result, or a pulled image) to read.
_TRIGGER_FORBIDDEN = frozenset({"ONBUILD", "FROM", "MAINTAINER"})


def short_id(image_id: str) -> str:
    return image_id.partition(":")[2][:12] if ":" in image_id else image_id[:12]


@dataclass(frozen=True)
class StageContext:
    """What every stage of one build shares."""

    images: ImageProvider
    committer: Committer
    executor: RunExecutor
    options: BuildOptions
    output: BuildOutput
    context_root: Path
    resolve_source: SourceResolver
    mounts: MountSources
    context_digests: Mapping[tuple[int, int], str] = field(default_factory=dict)
    # --cache-from: the only images a step may be taken from (None: any local image)
    cache_sources: frozenset[str] | None = None


class StageRunner:
    def __init__(self, ctx: StageContext, state: StageState) -> None:
        self.ctx = ctx
        self.state = state

    # ── steps ──────────────────────────────────────────────────────────────────────

    async def run_triggers(self) -> None:
        """The base image's ONBUILD triggers, run as if written after FROM."""
        triggers = self.state.config.pop("OnBuild", None) or []
        if not triggers:
            return
        plural = "s" if len(triggers) > 1 else ""
        await self.ctx.output.stream(f"# Executing {len(triggers)} build trigger{plural}\n")
        for expression in triggers:
            for node in parse(expression).instructions:
                if node.keyword in _TRIGGER_FORBIDDEN:
                    raise DockerfileError(f"{node.keyword} isn't allowed as an ONBUILD trigger")
                await self.dispatch(node)

    async def dispatch(self, node: ins.Instruction) -> None:
        if isinstance(node, ins.From):
            raise DockerfileError("FROM starts a new stage here", node.line)
        if isinstance(node, ins.Run):
            await self._run(node)
        elif isinstance(node, ins.Copy | ins.Add):
            await self._copy(node)
        elif isinstance(node, ins.Workdir):
            change = metadata.apply(self.state, node)
            await self._commit(change.created_by, make_layer=self._workdir_layer)
        else:
            change = metadata.apply(self.state, node)
            await self._commit(change.created_by, author=change.author)

    async def _run(self, node: ins.Run) -> None:
        if (node.network or "") not in RUN_NETWORK_MODES:
            raise DockerfileError(f"unsupported network mode {node.network!r}", node.line)
        env, esc = self.state.expansion_env(), self.state.escape
        mounts = parse_run_mounts(node.mounts, lambda v: expand(v, env, esc),
                                  self.state.config.get("WorkingDir") or "/", node.line)
        step, created_by = run_step(self.state, node, mounts)
        base = self.state.image
        if await self._cached(created_by):
            return
        if not base.id:
            raise DockerfileError("RUN needs a base image with a shell; "
                                  "this stage has no files yet (FROM scratch)", node.line)
        keep = not self.ctx.options.remove and not self.ctx.options.force_remove
        async with step_mounts(mounts, self.ctx.mounts, node.line) as prepared:
            layer = await self.ctx.executor.run(
                step, base, self.ctx.output, keep=keep, mounts=prepared,
                network=self.ctx.options.step_network(node.network))
        await self._commit(created_by, layer=layer, probe=False)

    async def _copy(self, node: ins.Copy | ins.Add) -> None:
        state = self.state
        env = state.expansion_env()
        esc = state.escape
        spec = CopySpec(
            sources=tuple(expand(s, env, esc) for s in node.sources),
            dest=expand(node.dest, env, esc), workdir=state.config.get("WorkingDir") or "/",
            chown=expand(node.chown, env, esc) if node.chown else None,
            chmod=expand(node.chmod, env, esc) if node.chmod else None,
            add=isinstance(node, ins.Add),
            checksum=node.checksum if isinstance(node, ins.Add) else None,
            heredocs=tuple((doc.name, (expand(doc.content, env, esc) if doc.expand
                                       else doc.content).encode()) for doc in node.contents))
        source: Path | LayerTree = self.ctx.context_root
        from_ = node.from_ if isinstance(node, ins.Copy) else None
        if from_:
            image = await self.ctx.resolve_source(expand(from_, env, esc), node.line)
            source = LayerTree(self.ctx.committer.layer_dirs(image))
        plan = await asyncio.to_thread(_plan, spec, source, node.line)
        try:
            known = self.ctx.context_digests if source is self.ctx.context_root else None
            checksum = await asyncio.to_thread(copy_checksum, plan, known)
            created_by = history.copy(state.shell, node.keyword, _kind(plan), checksum,
                                      plan.dest)
            await self._commit(created_by, make_layer=lambda base: self._copy_layer(plan, base))
        finally:
            plan.close()

    # ── layers ─────────────────────────────────────────────────────────────────────

    async def _scratch_layer(self, base: BaseImage,
                             write: Callable[[Path, LayerTree], None]) -> Layer | None:
        """A layer made by ``write(upper, lower)`` on a scratch snapshot over ``base``."""
        committer = self.ctx.committer
        key, upper = await self.ctx.images.locked(lambda: committer.prepare(base))
        try:
            lower = LayerTree(committer.layer_dirs(base))
            await asyncio.to_thread(write, upper, lower)
            return await self.ctx.images.locked(lambda: committer.layer_from_upper(upper, base))
        finally:
            await asyncio.shield(self.ctx.images.locked(lambda: committer.discard(key)))

    async def _copy_layer(self, plan: CopyPlan, base: BaseImage) -> Layer | None:
        return await self._scratch_layer(base, lambda upper, lower: perform_copy(plan, upper,
                                                                                 lower))

    async def _workdir_layer(self, base: BaseImage) -> Layer | None:
        workdir = self.state.config.get("WorkingDir") or "/"
        return await self._scratch_layer(base, lambda upper, lower: make_dirs(upper, lower,
                                                                              workdir))

    # ── commit and cache ───────────────────────────────────────────────────────────

    async def _cached(self, created_by: str) -> bool:
        if self.ctx.options.no_cache:
            return False
        key = cache.CacheKey(self.state.image.id, created_by, self.state.depth)
        hit = await asyncio.to_thread(cache.probe, self.ctx.images, key,
                                      self.ctx.cache_sources)
        if hit is None:
            return False
        self.state.adopt(await asyncio.to_thread(self.ctx.committer.load, hit))
        await self.ctx.output.stream(f" ---> Using cache\n ---> {short_id(hit)}\n")
        return True

    async def _commit(self, created_by: str, *, layer: Layer | None = None,
                      make_layer: Callable[[BaseImage], Awaitable[Layer | None]] | None = None,
                      author: str | None = None, probe: bool = True) -> None:
        if probe and await self._cached(created_by):
            return
        base = self.state.image
        if make_layer is not None:
            layer = await make_layer(base)
        config = copy.deepcopy(self.state.config)
        committer = self.ctx.committer
        image = await self.ctx.images.locked(
            lambda: committer.commit(base, config, created_by, layer, author))
        self.state.adopt(image)
        await self.ctx.output.stream(f" ---> {short_id(image.id)}\n")


def _plan(spec: CopySpec, source: Path | LayerTree, line: int) -> CopyPlan:
    try:
        return plan_copy(spec, source)
    except DockerfileError:
        raise
    except (OSError, ValueError) as err:
        raise DockerfileError(str(err), line) from err


def _kind(plan: CopyPlan) -> str:
    if len(plan.items) > 1:
        return "multi"
    return "dir" if plan.items and plan.items[0].kind is ItemKind.TREE else "file"


def make_dirs(upper: Path, lower: LayerTree, path: str) -> None:
    """Create ``path`` (symlinks followed in ``lower``) in ``upper`` unless ``lower`` has
    it: missing directories root-owned 0755, existing parents copied up as they are."""
    LayerTree([upper, *lower.dirs], whiteouts=lower.whiteouts, writable=True).make_dirs(path)
