"""The spec options of one container: each sets its fragment, and together, in order, they
make the same config.json the monolithic builder made before them
(``data/golden_spec*.json``, written by that builder for these two containers)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from berth.engine.containers import resources, specopts
from berth.engine.containers.model import Container, ContainerSpec, Resources
from berth.errors import RuntimeFailure
from berth.oci import spec as oci
from berth.oci.mount import Mount
from berth.runtime import host
from berth.runtime import spec as runtime_spec
from berth.store.rootview import LayerTree

DATA = Path(__file__).parent / "data"
REPRESENTATIVE = "c0ffee" * 10 + "abcd"
PLAIN = "ab" * 32
PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
GROUP = "root:x:0:\nstaff:x:50:app\nwheel:x:10:app\napp:x:1000:\n"


def representative() -> Container:
    """A container that uses every option: user:group with supplementary groups, a bare
    env name, a tty with a size, limits, a read-only root, an extra mount and --init."""
    spec = ContainerSpec(
        image="busybox", cmd=("sh", "-c", "echo hi"), user="app:staff", tty=True,
        console_size=(40, 120), readonly_rootfs=True, init=True,
        resources=Resources(memory=64 << 20, memory_reservation=32 << 20,
                            nano_cpus=1_500_000_000, cpu_shares=512, pids_limit=100),
        extra_mounts=(Mount("bind", "/srv/cache", ("rbind", "ro"), target="/cache"),))
    return Container(
        id=REPRESENTATIVE, name="golden", created="2024-01-01T00:00:00Z", spec=spec,
        image_id="sha256:" + "1" * 64, path="sh", args=("-c", "echo hi"),
        cmd=("sh", "-c", "echo hi"), entrypoint=None, labels=(),
        env=("PATH=/usr/bin:/bin", "HOSTNAME=golden-host", "TERM=xterm", "UNSET_ME"),
        working_dir="/work/dir", user="app:staff", hostname="golden-host",
        runtime="native", log_path="")


def plain() -> Container:
    return Container(
        id=PLAIN, name="plain", created="2024-01-01T00:00:00Z",
        spec=ContainerSpec(image="busybox"), image_id="sha256:" + "1" * 64, path="sleep",
        args=("300",), cmd=("sleep", "300"), entrypoint=None, labels=(),
        env=("PATH=/bin", "HOSTNAME=abababababab"), working_dir="/", user="",
        hostname="abababababab", runtime="native", log_path="")


@pytest.fixture
def layer(tmp_path: Path) -> Path:
    layer = tmp_path / "layer"
    (layer / "etc").mkdir(parents=True)
    (layer / "etc/passwd").write_text(PASSWD)
    (layer / "etc/group").write_text(GROUP)
    return layer


@pytest.fixture
def tini(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    binary = tmp_path / "tini-static"
    binary.write_bytes(b"\x7fELF")
    monkeypatch.setattr(specopts, "INIT_BINARY", binary)
    return binary


def _compose(c: Container, root: Path, layer: Path) -> oci.Spec:
    rootfs = LayerTree([layer], whiteouts=False, writable=True)
    opts = specopts.for_container(c, rootfs, f"/berth/{c.id}")
    return runtime_spec.generate(root / "exec" / c.id / "rootfs", opts)


def _golden(name: str, root: Path, tini: Path | None = None) -> object:
    text = (DATA / name).read_text().replace("@ROOT@", str(root))
    if tini is not None:
        text = text.replace("/usr/bin/tini-static", str(tini))
    return json.loads(text)


@pytest.mark.parametrize("make,golden", [(representative, "golden_spec.json"),
                                         (plain, "golden_spec_plain.json")])
def test_the_composed_spec_is_the_one_the_old_builder_made(
        make: Callable[[], Container], golden: str, tmp_path: Path, layer: Path,
        tini: Path) -> None:
    spec = _compose(make(), tmp_path, layer)
    assert spec["linux"].get("seccomp") == host.default_seccomp()
    spec["linux"]["seccomp"] = "<default profile>"  # type: ignore[typeddict-item]
    assert json.loads(json.dumps(spec)) == _golden(golden, tmp_path, tini)


def _apply(opt: runtime_spec.SpecOpt) -> oci.Spec:
    spec = runtime_spec.skeleton(Path("/rootfs"))
    opt(spec)
    return spec


def test_the_image_user_is_looked_up_with_its_groups(layer: Path) -> None:
    rootfs = LayerTree([layer], whiteouts=False, writable=True)
    assert _apply(specopts.with_image_user("app", rootfs))["process"]["user"] == {
        "uid": 1000, "gid": 1000, "additionalGids": [50, 10]}
    assert _apply(specopts.with_image_user("app:staff", rootfs))["process"]["user"] == {
        "uid": 1000, "gid": 50, "additionalGids": [10]}
    assert _apply(specopts.with_image_user("", rootfs))["process"]["user"] == {
        "uid": 0, "gid": 0, "additionalGids": []}
    with pytest.raises(RuntimeFailure, match="unable to find user nobody"):
        _apply(specopts.with_image_user("nobody", rootfs))


def test_the_working_dir_is_made_and_set(layer: Path) -> None:
    rootfs = LayerTree([layer], whiteouts=False, writable=True)
    assert _apply(specopts.with_workdir("/a/b", rootfs))["process"]["cwd"] == "/a/b"
    assert (layer / "a" / "b").is_dir()


def _with_resources(r: Resources) -> runtime_spec.SpecOpt:
    def apply(spec: oci.Spec) -> None:
        for opt in resources.spec_opts(r):
            opt(spec)
    return apply


def test_resources_turn_cpus_into_a_quota() -> None:
    res = _apply(_with_resources(Resources(nano_cpus=500_000_000, memory=8 << 20,
                                           pids_limit=5)))["linux"]["resources"]
    assert res == {"cpu": {"quota": 50_000, "period": 100_000},
                   "memory": {"limit": 8 << 20, "swap": 16 << 20}, "pids": {"limit": 5}}
    explicit = _apply(_with_resources(Resources(nano_cpus=500_000_000,
                                                cpu_quota=7)))["linux"]["resources"]
    assert explicit.get("cpu") == {"quota": 7, "period": 100_000}
    assert _apply(_with_resources(Resources()))["linux"]["resources"] == {}


def test_init_wraps_the_args_and_binds_the_binary(tini: Path) -> None:
    spec = runtime_spec.generate(Path("/rootfs"), [runtime_spec.with_args(["sleep", "1"]),
                                                   specopts.with_init(tini)])
    assert spec["process"]["args"] == ["/sbin/docker-init", "--", "sleep", "1"]
    assert spec["mounts"][-1] == {"destination": "/sbin/docker-init", "type": "bind",
                                  "source": str(tini), "options": ["bind", "ro"]}


def test_init_without_the_binary_fails_as_docker_does(tmp_path: Path) -> None:
    with pytest.raises(RuntimeFailure, match='"docker-init": executable file not found'):
        _apply(specopts.with_init(tmp_path / "missing"))


def test_options_follow_the_container(layer: Path, tmp_path: Path) -> None:
    """Only what the container asks for is there: no terminal, no read-only root, no
    init for a plain one."""
    spec = _compose(plain(), tmp_path, layer)
    assert spec["process"].get("terminal") is False and not spec["root"].get("readonly")
    assert spec["process"]["args"] == ["sleep", "300"]
    assert spec["process"]["env"] == ["PATH=/bin", "HOSTNAME=abababababab"]
    rep = _compose(representative(), tmp_path, layer)
    assert "UNSET_ME" not in rep["process"]["env"]  # a bare name unsets
