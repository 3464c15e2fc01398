"""``NativeRuntime``: the in-process ``ContainerRuntime`` built on ``runtime.linux``.

State lives in memory and, so another process (``berth-runtime start``) can pick the
container up, in ``<state_root>/<id>/``::

    <state_root>/<id>/state.json   id, pid, its start time, bundle, rootfs, cgroupsPath
    <state_root>/<id>/exec.fifo    exists from create until start (see process.py)
    <state_root>/<id>/config.json  the spec as created (hooks for start and delete)

Every container gets a cgroup: ``linux.cgroupsPath`` or, as runc, the container id; a
relative path is below the caller's own cgroup. Device access is runc's allow-list: deny
everything, then the spec's rules, then runc's defaults (null, zero, full, tty, random,
urandom, ptys, tun, mknod of any).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from signal import SIGKILL
from typing import cast

from berth.errors import Conflict, InvalidArgument, NotFound, RuntimeFailure
from berth.oci import spec as oci
from berth.runtime import Stdio
from berth.runtime.linux import console, hooks, init, process, rootfs, seccomp, userns, validate
from berth.runtime.linux import syscalls as sc
from berth.runtime.linux.cgroups import DEFAULT_ROOT, CgroupManager, is_unified, open_manager
from berth.runtime.linux.exec import ExecRequest, spawn_exec
from berth.runtime.linux.process import kill_and_reap

DEFAULT_STATE_ROOT = Path("/run/berth-runtime")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_SPEC_COPY = "config.json"

# runc's AllowedDevices (libcontainer/specconv), appended after the spec's own rules.
ALLOWED_DEVICES: list[oci.DeviceCgroup] = [
    {"allow": True, "type": "c", "access": "m"},
    {"allow": True, "type": "b", "access": "m"},
    *(oci.DeviceCgroup(allow=True, type="c", major=major, minor=minor, access="rwm")
      for major, minor in ((1, 3), (1, 8), (1, 7), (5, 0), (1, 5), (1, 9), (136, -1),
                           (5, 2), (10, 200))),
]


@dataclass(frozen=True)
class ContainerState:
    id: str
    pid: int
    start_time: int
    bundle: str
    rootfs: str
    cgroups_path: str
    created: str

    def status(self, state_dir: Path) -> str:
        """runc's words: created (blocked before exec), running, stopped."""
        if not self._same_process():
            return "stopped"
        return "created" if (state_dir / init.EXEC_FIFO).exists() else "running"

    def _same_process(self) -> bool:
        try:
            return process.is_alive(self.pid) and process.start_time(self.pid) == self.start_time
        except OSError:
            return False


class NativeRuntime:
    name = "native"

    def __init__(self, state_root: Path = DEFAULT_STATE_ROOT,
                 cgroup_root: Path = DEFAULT_ROOT, subreaper: bool = True,
                 preserve_fds: int = 0, no_pivot: bool = False) -> None:
        self.state_root = state_root
        self._preserve_fds = preserve_fds  # runc's --preserve-fds, for create
        self._no_pivot = no_pivot  # runc's --no-pivot, for create
        self._cgroup_root = cgroup_root
        # Init is reparented to the nearest subreaper when the intermediate child exits;
        # the caller can only waitpid() it if that is the caller.
        self._subreaper = subreaper
        self._states: dict[str, ContainerState] = {}

    def create(self, container_id: str, bundle: Path, stdio: Stdio) -> int:
        return self._create(container_id, bundle, stdio, None)

    def create_with_console(self, container_id: str, bundle: Path) -> tuple[int, int]:
        """Create with ``process.terminal``: init allocates the pty in the container's
        devpts; return (init pid, pty master)."""
        return _with_console(
            lambda sock, null: self._create(container_id, bundle, Stdio(null, null, null), sock),
            lambda pid: self.delete(container_id))

    def exec(self, container_id: str, exec_id: str, process: oci.Process,
             stdio: Stdio) -> int:
        return self._exec(container_id, process, (stdio.stdin, stdio.stdout, stdio.stderr),
                          None)

    def exec_with_console(self, container_id: str, exec_id: str,
                          process: oci.Process) -> tuple[int, int]:
        """Exec with ``process.terminal``: the pty comes from the container's devpts."""
        return _with_console(
            lambda sock, null: self._exec(container_id, process, (null, null, null), sock),
            kill_and_reap)

    def _create(self, container_id: str, bundle: Path, stdio: Stdio,
                console_socket: int | None) -> int:
        state_dir = self._state_dir(container_id)
        spec = _load_spec(bundle)
        if state_dir.exists():
            raise Conflict(f"container {container_id} already exists")
        state_dir.mkdir(parents=True, mode=0o711)
        os.chmod(state_dir, 0o711)  # whatever the umask: a non-root init reaches exec.fifo
        cgroups_path = default_cgroups_path(spec, container_id)
        cgroup: CgroupManager | None = None
        pid = 0
        try:
            _make_exec_fifo(state_dir / init.EXEC_FIFO, spec)
            _write_atomic(state_dir / _SPEC_COPY, json.dumps(spec))
            cgroup = open_manager(cgroups_path, self._cgroup_root)
            cgroup.create()
            cgroup.apply(_resources(spec))
            pid = self._spawn(container_id, spec, bundle, stdio, state_dir, cgroup,
                              console_socket)
            state = ContainerState(
                id=container_id, pid=pid, start_time=process.start_time(pid),
                bundle=str(bundle), rootfs=rootfs.rootfs_path(spec, bundle),
                cgroups_path=cgroups_path,
                created=datetime.datetime.now(datetime.UTC).isoformat(),
            )
            _write_atomic(state_dir / "state.json", json.dumps(asdict(state)))
        except BaseException as err:
            # Nothing may outlive a failed create: not init, its cgroup or the state dir.
            process.kill_and_reap(pid)
            if cgroup is not None:
                cgroup.destroy()
            # runc runs the poststop hooks when a create fails (its destroy does).
            hooks.run_warning(validate.hooks_of(spec), "poststop", hooks.State(
                container_id, "stopped", str(bundle), 0, spec.get("annotations") or {}))
            _remove_state_dir(state_dir)
            if isinstance(err, hooks.HookError):
                raise RuntimeFailure(str(err)) from None
            if isinstance(err, OSError | ValueError | LookupError | TypeError):
                raise RuntimeFailure(f"create {container_id}: {err}") from err
            raise
        self._states[container_id] = state
        return pid

    def _spawn(self, container_id: str, spec: oci.Spec, bundle: Path, stdio: Stdio,
               state_dir: Path, cgroup: CgroupManager | None,
               console_socket: int | None) -> int:
        self._become_subreaper()
        program = _seccomp_program(spec)
        state_fd = os.open(state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        linux = validate.linux_of(spec)
        spec_hooks = validate.hooks_of(spec)

        def map_ids(child: int) -> None:
            userns.write_maps(child, linux.get("uidMappings", []),
                              linux.get("gidMappings", []))

        def creation_hooks(init_pid: int) -> None:
            state = hooks.State(container_id, "creating", str(bundle), init_pid,
                                spec.get("annotations") or {})
            hooks.run(spec_hooks, "prestart", state, cwd=str(bundle))
            hooks.run(spec_hooks, "createRuntime", state, cwd=str(bundle))

        try:
            request = process.SpawnRequest(
                config=init.InitConfig(spec, bundle, state_fd, program, console_socket,
                                       container_id,
                                       "" if cgroup is None else cgroup.cgroups_path,
                                       self._preserve_fds, no_pivot=self._no_pivot),
                stdio=(stdio.stdin, stdio.stdout, stdio.stderr),
                cgroup=cgroup,
                steps=process.ParentSteps(map_ids=map_ids, hooks=creation_hooks),
            )
            return process.spawn_init(request)
        finally:
            os.close(state_fd)

    def _exec(self, container_id: str, proc: oci.Process, stdio: tuple[int, int, int],
              console_socket: int | None) -> int:
        state = self.state(container_id)
        if state.status(self._state_dir(container_id)) != "running":
            raise Conflict(f"container {container_id} is not running")
        spec = self._created_spec(container_id, Path(state.bundle))
        self._become_subreaper()
        cgroup = (open_manager(state.cgroups_path, self._cgroup_root)
                  if state.cgroups_path else None)
        try:
            request = ExecRequest(init_pid=state.pid, spec=spec, process=proc, stdio=stdio,
                                  cgroup=cgroup, seccomp_program=_seccomp_program(spec),
                                  console_socket=console_socket)
            return spawn_exec(request)
        except (OSError, ValueError) as err:
            raise RuntimeFailure(f"exec in {container_id}: {err}") from err

    def _become_subreaper(self) -> None:
        if self._subreaper:
            sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)

    def start(self, container_id: str) -> None:
        state = self.state(container_id)
        if state.status(self._state_dir(container_id)) != "created":
            raise Conflict(f"container {container_id} is not in the created state")
        process.release_init(self._state_dir(container_id), state.pid)
        spec = self._created_spec(container_id, Path(state.bundle))
        # After the user's process was released, before start returns; a failure only
        # warns (runtime-spec; runc 1.1 runs these at create and fails it instead).
        hooks.run_warning(validate.hooks_of(spec), "poststart", hooks.State(
            container_id, "running", state.bundle, state.pid, spec.get("annotations") or {}),
            cwd=state.bundle)

    def _created_spec(self, container_id: str, bundle: Path) -> oci.Spec:
        """The spec as it was created (saved in the state dir), else the bundle's."""
        try:
            return cast(oci.Spec, json.loads(
                (self._state_dir(container_id) / _SPEC_COPY).read_text()))
        except (OSError, ValueError):
            return _load_spec(bundle, check=False)

    def kill(self, container_id: str, signal: int) -> None:
        state = self.state(container_id)
        if state.status(self._state_dir(container_id)) == "stopped":
            return  # nothing to signal; the pid may already belong to someone else
        os.kill(state.pid, signal)

    def delete(self, container_id: str, force: bool = True) -> None:
        """Remove the cgroup (killing what is left in it) and the state. Idempotent.
        With ``force=False`` a live container is a Conflict, as ``runc delete``."""
        state_dir = self._state_dir(container_id)
        try:
            state = self.state(container_id)
        except NotFound:
            return
        if not force and state.status(state_dir) == "running":
            raise Conflict(f"cannot delete container {container_id} that is not stopped")
        if state.status(state_dir) != "stopped":
            os.kill(state.pid, SIGKILL)
        if state.cgroups_path:
            open_manager(state.cgroups_path, self._cgroup_root).destroy()
        spec = self._created_spec(container_id, Path(state.bundle))
        hooks.run_warning(validate.hooks_of(spec), "poststop", hooks.State(
            container_id, "stopped", state.bundle, 0, spec.get("annotations") or {}))
        _remove_state_dir(state_dir)
        self._states.pop(container_id, None)

    def state(self, container_id: str) -> ContainerState:
        if container_id in self._states:
            return self._states[container_id]
        try:
            raw = json.loads((self._state_dir(container_id) / "state.json").read_text())
        except FileNotFoundError:
            raise NotFound(f"container {container_id} does not exist") from None
        state = ContainerState(**raw)
        self._states[container_id] = state
        return state

    def status(self, container_id: str) -> str:
        return self.state(container_id).status(self._state_dir(container_id))

    def _state_dir(self, container_id: str) -> Path:
        if not _ID.match(container_id):
            raise InvalidArgument(f"invalid container id {container_id!r}")
        return self.state_root / container_id


def _load_spec(bundle: Path, check: bool = True) -> oci.Spec:
    try:
        spec = cast(oci.Spec, json.loads((bundle / "config.json").read_text()))
    except FileNotFoundError:
        raise NotFound(f"no config.json in bundle {bundle}") from None
    except ValueError as err:
        raise InvalidArgument(f"bundle {bundle}: config.json: {err}") from err
    if check:
        validate.validate(spec, bundle)
    return spec


def default_cgroups_path(spec: oci.Spec, container_id: str) -> str:
    """``linux.cgroupsPath``, or the container id as runc does; a relative path is below
    the caller's own cgroup (on a v1 host: the one all its controllers agree on, else
    the root)."""
    path = spec["linux"].get("cgroupsPath") or container_id
    if path.startswith("/"):
        return path
    return _own_cgroup().rstrip("/") + "/" + path


def _own_cgroup() -> str:
    try:
        with open("/proc/self/cgroup") as f:
            lines = [line.rstrip("\n").split(":", 2) for line in f if line.count(":") >= 2]
    except OSError:
        return "/"
    if is_unified():
        return next((path for _, ctrl, path in lines if ctrl == ""), "/")
    paths = {path for _, ctrl, path in lines if ctrl and not ctrl.startswith("name=")}
    return paths.pop() if len(paths) == 1 else "/"


def _resources(spec: oci.Spec) -> oci.Resources:
    """The spec's resources with runc's device allow-list around its device rules."""
    resources = cast(oci.Resources, dict(spec["linux"].get("resources") or {}))
    resources["devices"] = [{"allow": False, "access": "rwm"},
                            *(resources.get("devices") or []), *ALLOWED_DEVICES]
    return resources


def _make_exec_fifo(path: Path, spec: oci.Spec) -> None:
    """0622 whatever the umask (init may already be a non-root user when it opens it),
    owned by the container's root, as runc's."""
    old = os.umask(0)
    try:
        os.mkfifo(path, 0o622)
    finally:
        os.umask(old)
    linux = validate.linux_of(spec)
    if any(ns["type"] == "user" and "path" not in ns for ns in spec["linux"]["namespaces"]):
        os.chown(path, userns.host_id(linux.get("uidMappings", []), 0),
                 userns.host_id(linux.get("gidMappings", []), 0))


def _seccomp_program(spec: oci.Spec) -> bytes | None:
    """Compiled (and cached by profile) in the caller, installed by the child."""
    profile = spec["linux"].get("seccomp")
    return None if profile is None else seccomp.compile_program(profile)


def _with_console(spawn: Callable[[int, int], int],
                  undo: Callable[[int], None]) -> tuple[int, int]:
    """Run ``spawn(console_socket_fd, devnull_fd)`` and take the pty master its child sends
    back (console.py); ``undo(pid)`` if none arrives."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with theirs:
            null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            try:
                pid = spawn(theirs.fileno(), null)
            finally:
                os.close(null)
        try:
            return pid, console.receive_fd(ours)
        except OSError as err:
            undo(pid)
            raise RuntimeFailure(f"no console received: {err}") from err
    finally:
        ours.close()


def _write_atomic(path: Path, text: str) -> None:
    # No fsync: the state root (/run, a tmpfs) describes live processes, which a power
    # cut ends too; rename alone keeps a reader from seeing half a file.
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def _remove_state_dir(state_dir: Path) -> None:
    try:
        for child in state_dir.iterdir():
            child.unlink()
        state_dir.rmdir()
    except FileNotFoundError:
        pass
