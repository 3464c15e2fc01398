"""The spec options of one container: what its image and create request make of the
OCI spec, as ``runtime.spec`` options applied in order (containerd's ``oci.WithXxx``).

    for_container(c, rootfs, cgroups_path)
        args ─ env ─ user (looked up in the image) ─ working dir (made if missing) ─
        hostname ─ terminal ─ read-only root ─ extra mounts ─
        cgroup path ─ resources.spec_opts ─ security.spec_opts ─ --init (wraps args, last)

Some options do I/O (the user lookup reads the image's /etc/passwd, the working dir is
made in the writable layer), in that order, as docker does before a start: run the whole
list in a thread. The /etc files and the network namespace are the network preparer's
(engine/networks), whose options apply after these.
"""

from __future__ import annotations

from pathlib import Path

from berth.engine.containers import process, resources, security
from berth.engine.containers.model import Container
from berth.errors import RuntimeFailure
from berth.oci import spec as oci
from berth.runtime import spec as runtime_spec
from berth.runtime.spec import SpecOpt
from berth.store.rootview import LayerTree

# --init: docker's docker-init is a static tini, bind-mounted read-only at this path.
DOCKER_INIT = "/sbin/docker-init"
INIT_BINARY = Path("/usr/bin/tini-static")


def for_container(c: Container, rootfs: LayerTree, cgroups_path: str) -> list[SpecOpt]:
    """The options that make ``c``'s spec, in the order they apply."""
    opts = [
        runtime_spec.with_args((c.path, *c.args)),
        runtime_spec.with_env(process.process_env(c.env)),
        with_image_user(c.user, rootfs),
        with_workdir(c.working_dir, rootfs),
        runtime_spec.with_hostname(c.hostname),
    ]
    if c.spec.tty:
        opts.append(runtime_spec.with_terminal(c.spec.console_size))
    if c.spec.readonly_rootfs:
        opts.append(runtime_spec.with_readonly_rootfs)
    opts += [
        runtime_spec.with_mounts(c.spec.extra_mounts),
        runtime_spec.with_cgroups_path(cgroups_path),
        *resources.spec_opts(c.spec.resources),
        *security.spec_opts(c.spec.security, rootfs),
    ]
    if c.spec.init and not c.spec.security.pid_mode:  # moby: only a private pid namespace
        opts.append(with_init(INIT_BINARY))
    return opts


def with_image_user(user: str, rootfs: LayerTree) -> SpecOpt:
    """``name|uid[:group|gid]`` resolved in the image's /etc/passwd and /etc/group, with
    the user's supplementary groups (RuntimeFailure if a name is unknown)."""
    def apply(spec: oci.Spec) -> None:
        uid, gid, gids = process.resolve_user(user, rootfs)
        runtime_spec.with_user(uid, gid, gids)(spec)
    return apply


def with_workdir(path: str, rootfs: LayerTree) -> SpecOpt:
    """The process's cwd, made in the writable layer first if the image lacks it."""
    def apply(spec: oci.Spec) -> None:
        process.make_workdir(rootfs, path)
        runtime_spec.with_cwd(path)(spec)
    return apply


def with_init(binary: Path) -> SpecOpt:
    """Run the process under docker-init, which reaps zombies and forwards signals
    (``docker run --init``): ``/sbin/docker-init -- argv...``, the binary bound there."""
    def apply(spec: oci.Spec) -> None:
        if not binary.is_file():
            raise RuntimeFailure('exec: "docker-init": executable file not found in $PATH')
        spec["process"]["args"] = [DOCKER_INIT, "--", *spec["process"]["args"]]
        spec["mounts"].append({"destination": DOCKER_INIT, "type": "bind",
                               "source": str(binary), "options": ["bind", "ro"]})
    return apply
