"""berthd: the composition root. config → stores → drivers → services → API server.

Implementations are picked by name from the explicit tables below; nothing below this
module reads flags or the environment.
"""

from __future__ import annotations

import asyncio
import fcntl
import grp
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from berth.api.server.app import make_app
from berth.api.server.build import BuildRoutes
from berth.api.server.container_fs import ContainerFsRoutes
from berth.api.server.container_stats import ContainerStatsRoutes
from berth.api.server.containers import ContainerRoutes
from berth.api.server.execs import ExecRoutes
from berth.api.server.images import ImageRoutes
from berth.api.server.networks import NetworkRoutes
from berth.api.server.swarm import SwarmRoutes
from berth.api.server.system import SystemRoutes
from berth.api.server.volumes import VolumeRoutes
from berth.api.tls import serve_tls, server_context
from berth.config import DaemonConfig, load
from berth.engine.builder.builder import Builder
from berth.engine.containers.admin import ContainerAdmin
from berth.engine.containers.archive import ContainerArchive, mount_points_source
from berth.engine.containers.changes import ContainerChanges
from berth.engine.containers.commit import ContainerCommitter
from berth.engine.containers.execs import ExecService
from berth.engine.containers.logs import LOG_DRIVERS
from berth.engine.containers.namespaces import NamespacePreparer
from berth.engine.containers.preparer import ContainerPreparer
from berth.engine.containers.procview import ProcView, ProcViewPreparer
from berth.engine.containers.service import ContainerService, ServiceOptions
from berth.engine.containers.stats import StatsCollector
from berth.engine.containers.store import ContainerStore
from berth.engine.events import EventBus
from berth.engine.images.registries import RegistryOptions
from berth.engine.images.service import ImageService
from berth.engine.networks import startup as network_startup
from berth.engine.networks.preparer import NetworkPreparer
from berth.engine.networks.service import NetworkOptions, NetworkService
from berth.engine.system import EngineFacts, SystemService
from berth.engine.userns import Remap, UsernsFilesPreparer, UsernsPreparer
from berth.engine.userns import load as load_remap
from berth.engine.volumes.preparer import VolumePreparer
from berth.engine.volumes.service import VolumeService
from berth.errors import BerthError, InvalidArgument
from berth.runtime import NATIVE, idmap
from berth.runtime.shim.client import ShimManager
from berth.runtime.sockets import check_length
from berth.store.metadata.containers import ContainerRecords
from berth.store.metadata.db import Database
from berth.store.metadata.networks import NetworkRecords
from berth.store.metadata.volumes import VolumeRecords
from berth.store.snapshots import Snapshotter
from berth.store.snapshots.native import NativeSnapshotter
from berth.store.snapshots.overlay import OverlaySnapshotter

log = logging.getLogger("berthd")

SNAPSHOTTERS: dict[str, Callable[[Path], Snapshotter]] = {
    "overlay": OverlaySnapshotter,
    "native": NativeSnapshotter,
}

# Runtime name → its handler: how the shim makes it (runtime/shim/runtimes.py): the native
# runtime in-process, or a runc-compatible binary ($PATH name or absolute path). The one
# list of runtime names: create (--runtime), berthd --runtime and /info check or show it;
# any absolute path is accepted besides (an unnamed runc-compatible binary).
RUNTIMES: dict[str, str] = {
    "native": NATIVE,
    "runc": "runc",
    "crun": "crun",
}

# Prepare hooks of every container start (engine/containers/preparer.py), in order, after
# the network preparer and the volume preparer (made in ``serve``: they need the daemon's
# services); the network preparer stays first.
PREPARERS: tuple[ContainerPreparer, ...] = ()


def _socket_group(sock: Path, group: str = "berth") -> None:
    """root:berth when a ``berth`` group exists (docker's ``docker`` group), else
    root:root: access to the socket is root-equivalent (docs/design/security.md)."""
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        return
    os.chown(sock, -1, gid)
    log.warning("members of group %s can use unix://%s: access to the API is equivalent to "
                "root access on this host", group, sock)


def _network_options(config: DaemonConfig) -> NetworkOptions:
    return NetworkOptions(
        exec_root=config.exec_root, data_root=config.data_root, bridge=config.bridge,
        bridge_subnet=config.bridge_subnet,
        default_address_pools=config.default_address_pools,
        default_bind_address=config.default_bind_address,
        userland_proxy=config.userland_proxy, iptables=config.iptables,
        iptables_chain_prefix=config.iptables_chain_prefix, dns=config.dns)


def check_runtime(name: str) -> str:
    """berthd's --runtime: a name in RUNTIMES or an absolute path."""
    if name not in RUNTIMES and not os.path.isabs(name):
        raise InvalidArgument(f"unknown runtime {name!r}: one of {', '.join(RUNTIMES)}, or "
                              "the absolute path of a runc-compatible binary")
    return name


def _remap(config: DaemonConfig, snapshot_root: Path) -> Remap | None:
    """--userns-remap's ranges; refused where the layers cannot be idmapped (berth keeps
    no chowned copies of layers: docs/design/userns.md)."""
    remap = load_remap(config.userns_remap)
    if remap is not None:
        snapshot_root.mkdir(parents=True, exist_ok=True)
        why = idmap.supported(snapshot_root)
        if why:
            raise BerthError(f"--userns-remap: {why}")
    return remap


def _cgroup_version() -> str:
    return "2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "1"


def _lock(exec_root: Path) -> int:
    """One daemon per exec root: hold an exclusive lock on its pid file."""
    exec_root.mkdir(parents=True, exist_ok=True)
    fd = os.open(exec_root / "berthd.pid", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise BerthError(f"another berthd is running with exec root {exec_root}") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


async def serve(config: DaemonConfig) -> None:
    check_length(config.socket_path, "API socket")  # a refusal now, not a failure later
    check_runtime(config.runtime)
    lock_fd = _lock(config.exec_root)
    config.data_root.mkdir(parents=True, exist_ok=True, mode=0o711)
    db = Database(config.data_root / "metadata.db")
    snapshot_root = config.data_root / "snapshots" / config.snapshotter
    snapshotter = SNAPSHOTTERS[config.snapshotter](snapshot_root)
    remap = await asyncio.to_thread(_remap, config, snapshot_root)
    images = ImageService(config.data_root, db, snapshotter,
                          RegistryOptions.from_config(config), config.bootstrap_mirror)
    shims = ShimManager(config.exec_root)
    await shims.start()
    events = EventBus()
    proc_view = ProcView(config.exec_root, config.proc_view)
    networks = NetworkService(_network_options(config), NetworkRecords(db), events)
    volumes = VolumeService(config.data_root, VolumeRecords(db), events,
                            None if remap is None else remap.host_ids)
    namespaces = NamespacePreparer(config.exec_root)  # --ipc shareable, container:<x>
    userns = UsernsPreparer(remap, config.exec_root)
    containers = ContainerService(
        ServiceOptions(data_root=config.data_root, exec_root=config.exec_root,
                       default_runtime=config.runtime, cgroup_parent=config.cgroup_parent,
                       runtimes=RUNTIMES),
        ContainerStore(ContainerRecords(db)), images, shims, events,
        # the user namespace (--userns-remap) before the network preparer makes the
        # container's netns inside it
        (userns, NetworkPreparer(networks, images),
         VolumePreparer(volumes, images), ProcViewPreparer(proc_view), namespaces,
         *PREPARERS, UsernsFilesPreparer(remap, config.data_root)))
    namespaces.set_containers(containers)
    networks.set_containers(containers)  # lookups of linked and joined containers
    volumes.set_containers(containers)  # references: the containers' specs
    await networks.start()  # bridges ready before restore starts restart-policy ones
    await proc_view.start()  # lxcfs too
    try:  # a start that fails from here on leaves no lxcfs behind
        await containers.restore()
        await userns.sweep({c.id for c in containers.list() if c.state.running})
        await network_startup.reconcile(networks)
        execs = ExecService(containers, images)
        containers.health.set_prober(execs)  # health probes are execs
        admin = ContainerAdmin(containers, images, events)
        stats = StatsCollector(containers)
        system = SystemService(
            EngineFacts(data_root=config.data_root, exec_root=config.exec_root,
                        snapshotter=config.snapshotter, default_runtime=config.runtime,
                        runtimes=tuple(RUNTIMES), cgroup_version=_cgroup_version(),
                        debug=config.debug,
                        proc_view_off="" if proc_view.status.on else proc_view.status.reason,
                        userns_remap=remap is not None),
            containers, images, admin, LOG_DRIVERS)
        app = make_app([
            SystemRoutes(system, images.registries, events, volumes).register,
            ContainerRoutes(containers, execs, admin, str(config.data_root),
                            config.snapshotter, networks, volumes).register,
            NetworkRoutes(networks, containers).register,
            VolumeRoutes(volumes, containers).register,
            ContainerFsRoutes(
                ContainerArchive(containers, images, mount_points_source(volumes.mount_points)),
                ContainerChanges(containers, images),
                ContainerCommitter(containers, images)).register,
            ContainerStatsRoutes(stats).register,
            ExecRoutes(execs).register,
            ImageRoutes(images, containers, config.snapshotter).register,
            BuildRoutes(Builder(images, containers, config.data_root / "build")).register,
            SwarmRoutes().register,
        ])
        # Streams (logs -f, events, attach, wait) would hold shutdown for aiohttp's default 60 s;
        # their clients see EOF, and the containers behind them keep running.
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = config.socket_path
        sock.parent.mkdir(parents=True, exist_ok=True)
        sock.unlink(missing_ok=True)
        site = web.UnixSite(runner, str(sock))
        await site.start()
        os.chmod(sock, 0o660)
        _socket_group(sock)
        log.info("berthd listening on unix://%s (data root %s)", sock, config.data_root)
        tls_servers = await _serve_tcp(config, runner)
    except BaseException:
        await proc_view.close()  # unless restored containers use it
        raise

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("berthd shutting down; containers keep running")
    for server in tls_servers:
        server.close()
    await stats.close()  # ends stats streams, which would hold the runner's cleanup
    await runner.cleanup()
    await execs.close()
    await containers.close()
    await networks.close()  # removes nothing: published ports keep working
    await shims.close()
    await proc_view.close()  # unless containers still use it
    db.close()
    sock.unlink(missing_ok=True)
    (config.exec_root / "berthd.pid").unlink(missing_ok=True)  # still ours: we hold the lock
    os.close(lock_fd)


async def _serve_tcp(config: DaemonConfig, runner: web.AppRunner) -> list[asyncio.Server]:
    """The ``-H tcp://`` hosts: plain through aiohttp's TCPSite, TLS through
    ``api.tls``'s relay (which keeps a hijacked stream's half-close). Returns the TLS
    servers, which ``runner.cleanup`` does not know about."""
    context = None
    if config.serves_tls:
        context = server_context(Path(config.tlscert), Path(config.tlskey),
                                 Path(config.tlscacert) if config.tlscacert else None,
                                 config.tlsverify)
    servers: list[asyncio.Server] = []
    for host, port in config.tcp_addresses:
        if context is None:
            await web.TCPSite(runner, host, port).start()
            log.warning("berthd listening on tcp://%s:%d without TLS: whoever reaches it "
                        "controls this host (--tlsverify)", host, port)
            continue
        assert runner.server is not None  # set up before the sites
        servers.append(await serve_tls(runner.server, host, port, context))
        log.info("berthd listening on tcp://%s:%d (TLS%s)", host, port,
                 ", client certificates required" if config.tlsverify else "")
    return servers


def main(argv: list[str] | None = None) -> None:
    try:
        config = load(sys.argv[1:] if argv is None else argv)
    except BerthError as err:
        print(f"berthd: {err.message}", file=sys.stderr)
        sys.exit(1)
    logging.basicConfig(level=logging.DEBUG if config.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve(config))
    except BerthError as err:
        log.error("%s", err.message)
        sys.exit(1)


if __name__ == "__main__":
    main()
