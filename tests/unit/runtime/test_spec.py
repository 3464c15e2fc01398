"""Each generic spec option sets its own fragment of the OCI spec and nothing else; the
defaults are docker's."""

from __future__ import annotations

from pathlib import Path

from berth.oci import spec as oci
from berth.oci.mount import Mount
from berth.runtime import spec as rs

ROOT = Path("/bundle/rootfs")


def _changes(*opts: rs.SpecOpt) -> tuple[oci.Spec, oci.Spec]:
    """The default spec, and the default spec with ``opts`` applied."""
    return rs.generate(ROOT, []), rs.generate(ROOT, opts)


def test_the_skeleton_runs_nothing_as_root() -> None:
    spec = rs.skeleton(ROOT)
    assert spec["root"] == {"path": str(ROOT), "readonly": False}
    assert spec["process"]["user"] == {"uid": 0, "gid": 0, "additionalGids": []}
    assert (spec["process"]["args"], spec["process"]["cwd"], spec["mounts"]) == ([], "/", [])
    assert "hostname" not in spec and "seccomp" not in spec["linux"]


def test_defaults_are_dockers() -> None:
    spec = rs.generate(ROOT, [])
    assert [n["type"] for n in spec["linux"]["namespaces"]] == [
        "pid", "ipc", "uts", "mount", "network", "cgroup"]
    assert [m["destination"] for m in spec["mounts"]] == [
        "/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"]
    caps = spec["process"]["capabilities"]
    assert caps == {"bounding": list(rs.DEFAULT_CAPABILITIES),
                    "effective": list(rs.DEFAULT_CAPABILITIES),
                    "permitted": list(rs.DEFAULT_CAPABILITIES)}
    assert len(rs.DEFAULT_CAPABILITIES) == 14 and "CAP_SYS_ADMIN" not in caps["bounding"]
    assert spec["linux"]["maskedPaths"] == rs.MASKED_PATHS
    assert spec["linux"]["readonlyPaths"] == rs.READONLY_PATHS
    assert [d["path"] for d in spec["linux"].get("devices", [])] == [
        "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"]
    rules = spec["linux"].get("resources", {}).get("devices", [])
    assert rules[0] == {"allow": False, "access": "rwm"}
    assert {"allow": True, "type": "c", "major": 136, "access": "rwm"} in rules  # pty slaves
    assert spec["linux"].get("resources", {}).keys() == {"devices"}  # no limits


def test_the_default_mounts_are_copies() -> None:
    first = rs.generate(ROOT, [])
    first["mounts"][0].setdefault("options", []).append("changed")
    assert "changed" not in rs.generate(ROOT, [])["mounts"][0].get("options", [])


def test_process_options() -> None:
    base, spec = _changes(rs.with_args(["sh", "-c", "x"]), rs.with_env(["A=1"]),
                          rs.with_cwd("/srv"), rs.with_user(1000, 50, [10, 20]))
    assert spec["process"]["args"] == ["sh", "-c", "x"]
    assert spec["process"]["env"] == ["A=1"]
    assert spec["process"]["cwd"] == "/srv"
    assert spec["process"]["user"] == {"uid": 1000, "gid": 50, "additionalGids": [10, 20]}
    for key in ("args", "env", "cwd", "user"):
        del spec["process"][key], base["process"][key]  # type: ignore[misc]
    assert spec == base
    assert rs.generate(ROOT, [rs.with_cwd("")])["process"]["cwd"] == "/"


def test_terminal_and_its_first_size() -> None:
    base, spec = _changes(rs.with_terminal((40, 120)))
    assert spec["process"].get("terminal") is True
    assert spec["process"].get("consoleSize") == {"height": 40, "width": 120}
    unknown = rs.generate(ROOT, [rs.with_terminal((0, 120))])["process"]
    assert unknown.get("terminal") is True and "consoleSize" not in unknown
    assert base["process"].get("terminal") is False


def test_root_hostname_and_cgroup() -> None:
    base, spec = _changes(rs.with_readonly_rootfs, rs.with_hostname("web"),
                          rs.with_cgroups_path("/berth/abc"))
    assert spec["root"] == {"path": str(ROOT), "readonly": True}
    assert spec.get("hostname") == "web"
    assert spec["linux"].get("cgroupsPath") == "/berth/abc"
    assert "cgroupsPath" not in base["linux"]


def test_mounts_are_appended_in_order() -> None:
    _, spec = _changes(
        rs.with_bind_files([("/data/c/hosts", "/etc/hosts")]),
        rs.with_mounts([Mount("tmpfs", "tmpfs", ("size=1m",), target="/scratch")]))
    assert spec["mounts"][7:] == [
        {"destination": "/etc/hosts", "type": "bind", "source": "/data/c/hosts",
         "options": ["rbind", "rprivate"]},
        {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
         "options": ["size=1m"]}]


def test_memory_swap_defaults_to_twice_the_limit() -> None:
    def memory(*opts: rs.SpecOpt) -> object:
        return rs.generate(ROOT, opts)["linux"].get("resources", {}).get("memory")

    assert memory(rs.with_memory(64)) == {"limit": 64, "swap": 128}
    assert memory(rs.with_memory(64, swap=-1)) == {"limit": 64, "swap": -1}
    assert memory(rs.with_memory(reservation=32)) == {"reservation": 32}
    assert memory(rs.with_memory()) is None


def test_cpu_and_pids() -> None:
    def resources(*opts: rs.SpecOpt) -> oci.Resources:
        return rs.generate(ROOT, opts)["linux"].get("resources", {})

    assert resources(rs.with_cpu(shares=512)).get("cpu") == {"shares": 512}
    assert resources(rs.with_cpu(quota=50_000)).get("cpu") == {"quota": 50_000,
                                                              "period": 100_000}
    assert resources(rs.with_cpu(quota=5, period=10)).get("cpu") == {"quota": 5, "period": 10}
    assert "cpu" not in resources(rs.with_cpu())
    assert resources(rs.with_pids_limit(100)).get("pids") == {"limit": 100}
    assert "pids" not in resources(rs.with_pids_limit(-1))


def test_seccomp_capabilities_and_namespaces_replace_the_defaults() -> None:
    profile: oci.Seccomp = {"defaultAction": "SCMP_ACT_ALLOW"}
    _, spec = _changes(rs.with_seccomp(profile), rs.with_capabilities(["CAP_KILL"]),
                       rs.with_namespaces(["pid", "mount"]))
    assert spec["linux"].get("seccomp") == profile
    assert spec["process"].get("capabilities") == {
        "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}
    assert spec["linux"]["namespaces"] == [{"type": "pid"}, {"type": "mount"}]
