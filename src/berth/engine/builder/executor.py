"""RUN: one real container per step, through the same ContainerService as ``run``.

    create (rootfs = snapshot on the step's parent image; entrypoint = the command,
            env += the build args RUN may see, log driver none,
            extra mounts = the step's --mounts, prepared by runmounts.py)
      ─▶ park an attach, start ─▶ stream stdout/stderr to the client as it comes
         (stderr through ``BuildOutput.stderr``, which docker shows in red)
      ─▶ exit code ─▶ diff the writable snapshot into a layer (commit.py)
      ─▶ remove the container (always on failure or cancellation, so no container or
         snapshot outlives a failed step; on success unless ``rm=false``)
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import shutil
from dataclasses import dataclass

from berth.engine.builder.backend import ImageProvider
from berth.engine.builder.commit import Committer, Layer
from berth.engine.builder.errors import CommandFailed
from berth.engine.builder.options import BuildOutput, StepNetwork
from berth.engine.builder.runmounts import StepMounts
from berth.engine.builder.state import BaseImage
from berth.engine.containers.model import ContainerSpec, LogConfig
from berth.engine.containers.service import ContainerService
from berth.engine.containers.waiters import AttachRequest
from berth.errors import BerthError, NotFound
from berth.formats.stdcopy import STDERR, STDOUT, FrameDecoder

log = logging.getLogger(__name__)

SCRIPT_DIR = ".berth-heredoc"  # where a shebang heredoc waits to run; gone before the diff


@dataclass(frozen=True)
class RunStep:
    argv: tuple[str, ...]
    env: tuple[str, ...]  # K=V build args
    shown: str  # the command as docker's error message quotes it
    script: tuple[str, bytes] | None = None  # (name, body): a ``#!`` heredoc to execute


class RunExecutor:
    def __init__(self, containers: ContainerService, images: ImageProvider,
                 committer: Committer) -> None:
        self.containers = containers
        self.images = images
        self.committer = committer

    async def run(self, step: RunStep, base: BaseImage, output: BuildOutput,
                  keep: bool = False, mounts: StepMounts | None = None,
                  network: StepNetwork | None = None) -> Layer | None:
        """Run ``step`` on ``base`` with ``mounts`` (its ``--mount``s, prepared) on
        ``network`` (the default bridge if None) through the same network preparer as
        ``run``; the layer it made (None: it changed nothing)."""
        mounts = mounts or StepMounts((), ())
        network = network or StepNetwork()
        spec = ContainerSpec(image=base.id, entrypoint=step.argv, cmd=(), env=step.env,
                             log_config=LogConfig(type="none"), network_mode=network.mode,
                             extra_hosts=network.extra_hosts, extra_mounts=mounts.mounts,
                             image_volumes=False)
        c = await self.containers.create(None, spec)
        short = c.id[:12]
        try:
            await output.stream(f" ---> Running in {short}\n")
            if step.script is not None:
                await self.images.locked(lambda: self._place_script(c.id, step.script))
            code = await self._start(c.id, output)
            if code != 0:
                raise CommandFailed(step.shown, code)
            if step.script is not None:
                await self.images.locked(lambda: self._remove_script(c.id))
            layer = await self.images.locked(
                lambda: self.committer.container_layer(c.id, base, mounts.targets))
        except BaseException:
            await asyncio.shield(self._remove(c.id))
            raise
        if not keep:
            await output.stream(f"Removing intermediate container {short}\n")
            await asyncio.shield(self._remove(c.id))
        return layer

    async def _start(self, cid: str, output: BuildOutput) -> int:
        exited = self.containers.waiter(cid, "next-exit")
        attach = asyncio.ensure_future(
            self.containers.attach(cid, AttachRequest(stdin=False, stdout=True, stderr=True)))
        await asyncio.sleep(0)  # let the attach park before the start connects it
        try:
            await self.containers.start(cid)
        except BaseException:
            attach.cancel()
            with contextlib.suppress(BaseException):
                await attach
            raise
        reader, writer = await attach
        try:
            await _relay(reader, output)
        finally:
            writer.close()
        return await exited

    def _place_script(self, cid: str, script: tuple[str, bytes] | None) -> None:
        assert script is not None
        directory = self.committer.upper(cid) / SCRIPT_DIR
        directory.mkdir(mode=0o755, exist_ok=True)
        path = directory / script[0]
        path.write_bytes(script[1])
        path.chmod(0o755)

    def _remove_script(self, cid: str) -> None:
        shutil.rmtree(self.committer.upper(cid) / SCRIPT_DIR, ignore_errors=True)

    async def _remove(self, cid: str) -> None:
        try:
            await self.containers.remove(cid, force=True)
        except NotFound:
            pass
        except BerthError as err:
            log.warning("could not remove build container %s: %s", cid[:12], err.message)


async def _relay(reader: asyncio.StreamReader, output: BuildOutput) -> None:
    """The attached stdout and stderr, each as it comes and decoded on its own (a
    character split across frames of one stream is joined, never mixed with the other)."""
    decoder = FrameDecoder()
    text = {STDOUT: _utf8(), STDERR: _utf8()}
    send = {STDOUT: output.stream, STDERR: output.stderr}
    while data := await reader.read(65536):
        for stream, payload in decoder.feed(data):
            if stream in text and (chunk := text[stream].decode(payload)):
                await send[stream](chunk)
    for stream, decoder_ in text.items():
        if tail := decoder_.decode(b"", final=True):
            await send[stream](tail)


def _utf8() -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder("utf-8")("replace")
