"""``docker build`` with the classic builder's API and output: receive the context, parse
the Dockerfile, plan the stages the target needs, run them, tag the result.

Stages of one level of the plan (:attr:`.stages.BuildPlan.levels`) need nothing from each
other and run concurrently; a stage the target does not need is never run. Steps are
numbered over the stages that run, as ``Step n/N``, in stage order.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

from berth import errors
from berth.engine.builder import cache, stages
from berth.engine.builder import instructions as ins
from berth.engine.builder.args import ArgUsage, StageArgs
from berth.engine.builder.backend import ImageProvider
from berth.engine.builder.commit import Committer
from berth.engine.builder.context import BuildContext, receive_context
from berth.engine.builder.contextcache import (
    BaseGone,
    ContextCache,
    FileSig,
    Manifest,
    present,
)
from berth.engine.builder.dispatcher import StageContext, StageRunner, short_id
from berth.engine.builder.dockerfile import Dockerfile, parse
from berth.engine.builder.errors import DockerfileError
from berth.engine.builder.executor import RunExecutor
from berth.engine.builder.options import BuildOptions, BuildOutput, BuildResult
from berth.engine.builder.prune import CachePruneOptions, CachePruner, CachePruneReport
from berth.engine.builder.runmounts import CacheLocks, MountSources
from berth.engine.builder.secretstore import SecretStore, take_preamble
from berth.engine.builder.state import BaseImage, StageState, scratch
from berth.engine.containers.service import ContainerService
from berth.engine.images.pull import PullProgress
from berth.engine.images.service import PullResult
from berth.errors import BerthError, InvalidArgument, NotFound
from berth.formats.goformat import go_quote
from berth.oci.reference import parse_named

log = logging.getLogger(__name__)


class Builder:
    def __init__(self, images: ImageProvider, containers: ContainerService,
                 work_root: Path) -> None:
        self.images = images
        self.work_root = work_root  # build contexts are unpacked under here
        self.cache_root = work_root / "cache"  # RUN --mount=type=cache, kept across builds
        self.caches = CacheLocks()
        self.contexts = ContextCache()  # the berth CLI's contexts, kept between builds
        self.pruner = CachePruner(work_root, self.cache_root, self.contexts, self.caches)
        self.committer = Committer(images)
        self.executor = RunExecutor(containers, images, self.committer)
        self._removals: set[asyncio.Task[None]] = set()
        _remove_stale(work_root)

    async def build(self, body: AsyncIterator[bytes], options: BuildOptions,
                    output: BuildOutput) -> BuildResult:
        """Build from the context tar ``body``; raises BerthError (DockerfileError,
        CommandFailed, ...) for a build that fails."""
        if not self.images.changes_only:
            raise errors.NotImplemented("berth build needs the overlay snapshotter "
                                 "(berthd --snapshotter overlay): a native snapshot holds "
                                 "the whole tree, not a step's changes")
        refs = [parse_named(tag).with_default_tag() for tag in options.tags]
        token = secrets.token_hex(8)
        workdir = self.work_root / f"context-{token}"
        scratch = self.work_root / f"mounts-{token}"
        vault = SecretStore(self.work_root / f"secrets-{token}")
        try:
            context, manifest = await self._receive(body, workdir, vault, options)
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, workdir, True)
            await asyncio.to_thread(vault.cleanup)
            raise
        try:
            source = context.take_dockerfile(options.dockerfile)
            dockerfile = parse(source)
            run = _Build(self, dockerfile, options, output, context, (scratch, vault))
            run.source = source.decode("utf-8", "replace").splitlines()
            image = await run.run()
        finally:
            await asyncio.to_thread(vault.cleanup)
            if manifest is None:
                self._remove_later(context.root, scratch)
            else:  # the berth CLI's next build of this directory sends only changes
                await self._keep(manifest, context, scratch)
        await output.aux(image.id)
        await output.stream(f"Successfully built {short_id(image.id)}\n")
        if refs:
            images = self.images

            def tag() -> None:
                for ref in refs:
                    images.set_tag(ref, image.id)

            await self.images.locked(tag)
            for ref in refs:
                await output.stream(f"Successfully tagged {ref.familiar()}\n")
        return BuildResult(image.id, tuple(r.familiar() for r in refs))

    async def prune(self, options: CachePruneOptions) -> CachePruneReport:
        """``docker builder prune``: remove the kept contexts and cache mounts no build
        is using (:mod:`.prune`)."""
        return await self.pruner.prune(options)

    async def _receive(self, body: AsyncIterator[bytes], workdir: Path, vault: SecretStore,
                       options: BuildOptions) -> tuple[BuildContext, Manifest | None]:
        """The context, unpacked, and the berth CLI's manifest of it if it sent one."""
        rest, raw = await take_preamble(body, vault)
        manifest = None if raw is None else Manifest.parse(raw)
        try:
            base = None if manifest is None else self.contexts.pin(manifest)
        except BaseGone:
            async for _ in rest:  # read it all: the client is told to send it again
                pass
            raise
        try:
            context = await receive_context(rest, workdir, options.dockerfile,
                                            None if base is None or manifest is None
                                            else (manifest, base))
        finally:
            self._remove_later(*self.contexts.unpin(base))
        return context, manifest

    async def _keep(self, manifest: Manifest, context: BuildContext, scratch: Path) -> None:
        """Keep the context for the next build of its key, renamed ``kept-<token>``."""
        kept = context.root.with_name("kept-" + context.root.name.removeprefix("context-"))

        def index() -> dict[str, FileSig]:
            context.root.rename(kept)
            os.utime(kept)  # its time for ``builder prune --filter until=``
            return present(manifest, kept)

        try:
            files = await asyncio.to_thread(index)
        except BaseException:
            self._remove_later(context.root, kept, scratch)
            raise
        self._remove_later(scratch, *self.contexts.keep(manifest, kept, files,
                                                        context.digests))

    def _remove_later(self, *trees: Path) -> None:
        """Remove a finished build's context and scratch trees after its answer is sent:
        the client does not wait for megabytes of unlinking (a daemon that stops first
        leaves them to ``_remove_stale`` at its next start)."""
        if not trees:
            return

        def remove() -> None:
            for tree in trees:
                shutil.rmtree(tree, ignore_errors=True)

        task = asyncio.get_running_loop().create_task(asyncio.to_thread(remove))
        self._removals.add(task)
        task.add_done_callback(self._removals.discard)


def _remove_stale(work_root: Path) -> None:
    """What builds interrupted by a daemon stop left: contexts, their spools, per-build
    mount scratch and secrets, the contexts kept for the next build (they are
    remembered in memory only) and what a prune was removing; never the persistent
    ``cache/``."""
    for prefix in ("context-", "mounts-", "secrets-", "kept-", "pruned-"):
        for path in work_root.glob(f"{prefix}*"):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


class _Build:
    """One build: the plan, the step numbers, and each stage's resulting image."""

    def __init__(self, builder: Builder, dockerfile: Dockerfile, options: BuildOptions,
                 output: BuildOutput, context: BuildContext,
                 mount_dirs: tuple[Path, SecretStore]) -> None:
        """``mount_dirs``: where this build's RUN --mounts keep per-step directories, and
        its secrets."""
        self.builder = builder
        context_root, context_digests = context.root, context.digests
        self.dockerfile = dockerfile
        self.source: list[str] = []  # the Dockerfile's lines, for the excerpt of a failure
        self.options = options
        self.output = output
        args = dict(options.build_args)
        self.plan = stages.plan(dockerfile, target=options.target or None, build_args=args)
        self.usage = ArgUsage(given=args, global_env=self.plan.global_args,
                              referenced={d.name for d in self.plan.meta_args})
        self.labels = _labels_instruction(options.labels)
        self.first_step: dict[int, int] = {}
        number = 1
        for index in self.plan.order:
            self.first_step[index] = number
            number += 1 + len(self.plan.stages[index].instructions)
        self.total = number - 1 + (1 if self.labels else 0)
        self.results: dict[int, BaseImage] = {}
        scratch, secret_store = mount_dirs
        mounts = MountSources(context_root, builder.cache_root, scratch, secret_store,
                              builder.caches, builder.committer, self._source)
        self.ctx = StageContext(builder.images, builder.committer, builder.executor, options,
                                output, context_root, self._source, mounts,
                                context_digests=context_digests)

    async def run(self) -> BaseImage:
        if self.options.cache_from and not self.options.no_cache:
            self.ctx = replace(self.ctx, cache_sources=await self._cache_sources())
        for level in self.plan.levels:
            await _gather([self._stage(index) for index in level])
        image = self.results[self.plan.target]
        if not image.id:
            raise BerthError("No image was generated. Is your Dockerfile empty?")
        if unused := self.usage.unused():
            await self.output.stream(
                f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed\n")
        return image

    async def _stage(self, index: int) -> None:
        stage = self.plan.stages[index]
        number = self.first_step[index]
        await self._header(number, stage.from_)
        base = await self._base(stage)
        if base.id:
            await self.output.stream(f" ---> {short_id(base.id)}\n")
        state = StageState(base, StageArgs(self.usage), self.dockerfile.escape)
        runner = StageRunner(self.ctx, state)
        await runner.run_triggers()
        nodes: list[ins.Instruction] = list(stage.instructions)
        if index == self.plan.target and self.labels is not None:
            nodes.append(self.labels)
        for offset, node in enumerate(nodes, start=1):
            await self._header(number + offset, node)
            try:
                await runner.dispatch(node)
            except BerthError:
                if excerpt := self._excerpt(node):
                    await self.output.stream(excerpt)
                raise
        self.results[index] = state.image

    async def _cache_sources(self) -> frozenset[str]:
        """The ``--cache-from`` images and their parents; a name that is not a local
        image is skipped, as moby does (it logs a warning)."""
        images = self.builder.images
        ids = []
        for ref in self.options.cache_from:
            try:
                ids.append((await images.get(ref)).id)
            except (NotFound, InvalidArgument) as err:
                log.warning("could not look up %s for cache resolution, skipping: %s",
                            ref, err.message)
        return await asyncio.to_thread(cache.cache_sources, images, ids)

    def _excerpt(self, node: ins.Instruction) -> str:
        """Where a failed step is in the Dockerfile, as BuildKit shows it (the classic
        builder's own error message, which follows, names neither file nor line)."""
        if not self.source or node.line < 1:
            return ""  # a generated step (--label), or ONBUILD from the base image
        first, last = max(1, node.line - 2), min(len(self.source), node.end_line + 2)
        rows = [f"{n:4d} | {'>>> ' if node.line <= n <= node.end_line else '    '}"
                f"{self.source[n - 1]}".rstrip() for n in range(first, last + 1)]
        rule = "-" * 20
        return "\n".join([f"{self.options.dockerfile or 'Dockerfile'}:{node.line}", rule,
                          *rows, rule, ""])

    async def _header(self, number: int, node: ins.Instruction) -> None:
        await self.output.stream(f"Step {number}/{self.total} : {node.original}\n")

    async def _base(self, stage: stages.Stage) -> BaseImage:
        if stage.base_stage is not None:
            return self.results[stage.base_stage]
        if stage.base.lower() == "scratch":
            return scratch()
        return await self._image(stage.base, stage.from_.line)

    async def _image(self, name: str, line: int) -> BaseImage:
        images = self.builder.images
        try:
            if self.options.pull:
                await self._pull(name)
            try:
                image = await images.get(name)
            except NotFound:
                image = (await self._pull(name)).image
            except InvalidArgument:
                parse_named(name)  # raises with the reason ("must be lowercase"), as pull does
                raise
        except DockerfileError:
            raise
        except NotFound as err:
            raise NotFound(f"{err.message} (line {line})") from err
        return await asyncio.to_thread(self.builder.committer.load, image.id)

    async def _pull(self, name: str) -> PullResult:
        """Pull ``name`` with its progress in the build's output, as the classic builder
        streams it: ``1: Pulling from x``, one line per layer step, ``Digest``, ``Status``."""
        async def report(event: PullProgress) -> None:
            await self.output.pull(name, event)

        result = await self.builder.images.pull(name, report)
        await self.output.status(f"Digest: {result.digest}")
        verdict = "Downloaded newer image for" if result.updated else "Image is up to date for"
        await self.output.status(f"Status: {verdict} {result.reference.familiar()}")
        return result

    async def _source(self, ref: str, line: int) -> BaseImage:
        """``COPY --from=ref``: an earlier stage's image (by name or index), or an image."""
        names = [s.name for s in self.plan.stages]
        if ref.lower() in names:
            return self.results[names.index(ref.lower())]
        if ref.isdigit():
            index = int(ref)
            if index >= len(self.plan.stages):
                raise DockerfileError(f"invalid from flag value {ref}: index out of bounds",
                                      line)
            return self.results[index]
        try:
            return await self._image(ref, line)
        except BerthError as err:  # worded as moby's getImageMount
            raise errors.from_status(err.status, f"invalid from flag value {ref}: "
                                                 f"{err.message}") from err


def _labels_instruction(labels: tuple[tuple[str, str], ...]) -> ins.Label | None:
    """``--label``s become one LABEL step at the end of the target stage, as docker adds
    them (values single-quoted, so they are not expanded)."""
    if not labels:
        return None
    pairs = tuple(ins.KeyValue(key=go_quote(k), value="'" + v.replace("'", "'\\''") + "'")
                  for k, v in sorted(labels))
    text = "LABEL " + " ".join(f"{p.key}={p.value}" for p in pairs)
    return ins.Label(keyword="LABEL", line=0, end_line=0, original=text, pairs=pairs)


async def _gather(coros: list[Coroutine[Any, Any, None]]) -> None:
    """Run ``coros`` together; the first failure cancels the rest and is raised as is."""
    if len(coros) == 1:
        await coros[0]
        return
    try:
        async with asyncio.TaskGroup() as group:
            for coro in coros:
                group.create_task(coro)
    except BaseExceptionGroup as errors:
        raise _first(errors) from None


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first

