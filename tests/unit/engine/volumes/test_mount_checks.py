"""The volume preparer's pure parts: docker's mount checks and words, --volumes-from
modes, tmpfs options, and where the mounts go in the OCI spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.engine.containers.model import MountSpec
from berth.engine.volumes.preparer import (
    bind_entry,
    check_mount,
    parse_volumes_from,
    tmpfs_options,
    with_mounts,
)
from berth.errors import InvalidArgument
from berth.oci import spec as oci
from berth.runtime import spec as runtime_spec


def test_targets_are_cleaned_as_docker_cleans_them() -> None:
    m = check_mount(MountSpec("tmpfs", "/a/../b/./c/"))
    assert m.target == "/b/c"
    assert check_mount(MountSpec("tmpfs", "//x/../../y")).target == "/y"


@pytest.mark.parametrize(("mount", "words"), [
    (MountSpec("tmpfs", "relative"),
     "invalid mount config for type \"tmpfs\": invalid mount path: 'relative' mount path "
     "must be absolute"),
    (MountSpec("tmpfs", ""), 'invalid mount config for type "tmpfs": field Target must '
                             "not be empty"),
    (MountSpec("volume", "/.."), "invalid mount config for type \"volume\": invalid "
                                 "specification: destination can't be '/'"),
    (MountSpec("tmpfs", "/t", "src"), 'invalid mount config for type "tmpfs": field '
                                      "Source must not be specified"),
    (MountSpec("bind", "/x"), 'invalid mount config for type "bind": field Source must '
                              "not be empty"),
    (MountSpec("bind", "/x", "rel/path", create_source=True),
     "invalid mount config for type \"bind\": invalid mount path: 'rel/path' mount path "
     "must be absolute"),
    (MountSpec("bind", "/x", "/", propagation="sideways"),
     'invalid mount config for type "bind": invalid propagation mode: sideways'),
    (MountSpec("bind", "/x", "/nonexistent-berth-src"),
     'invalid mount config for type "bind": bind source path does not exist: '
     "/nonexistent-berth-src"),
    (MountSpec("npipe", "/x"), 'invalid mount config for type "npipe": mount type unknown'),
    (MountSpec("volume", "/x", "a"), "create a: volume name is too short, names should be "
                                     "at least two alphanumeric characters"),
    (MountSpec("volume", "/x", "-a"), 'create -a: "-a" includes invalid characters for a '
                                      'local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" '
                                      "are allowed. If you intended to pass a host "
                                      "directory, use absolute path"),
    (MountSpec("volume", "/x", "v1", volume_driver="nfsplugin"),
     'create v1: error looking up volume plugin nfsplugin: plugin "nfsplugin" not found'),
])
def test_refusals_in_dockers_words(mount: MountSpec, words: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        check_mount(mount)
    assert err.value.message == words


def test_a_v_bind_source_may_be_missing_and_defaults_fill_in(tmp_path: Path) -> None:
    m = check_mount(MountSpec("bind", "/x", str(tmp_path / "later"), create_source=True))
    assert m.propagation == "rprivate" and m.source == str(tmp_path / "later")
    assert check_mount(MountSpec("volume", "/v", "name")).mode == "z"  # setBindModeIfNull
    assert check_mount(MountSpec("volume", "/v", "name", mode="ro")).mode == "ro"


def test_volumes_from_modes() -> None:
    assert parse_volumes_from("c") == ("c", False)
    assert parse_volumes_from("c:ro") == ("c", True)
    assert parse_volumes_from("c:rw,z") == ("c", False)
    for bad in ("c:rprivate", "c:nocopy", "c:ro,rw", "c:bogus"):
        with pytest.raises(InvalidArgument, match="invalid mode: "):
            parse_volumes_from(bad)
    with pytest.raises(InvalidArgument, match="cannot be an empty string"):
        parse_volumes_from("")


def test_tmpfs_options_merge_over_dockers_defaults() -> None:
    assert tmpfs_options(MountSpec("tmpfs", "/t")) == ["noexec", "nosuid", "nodev",
                                                       "rprivate"]
    opts = tmpfs_options(MountSpec("tmpfs", "/t", read_only=True, tmpfs_size=64 << 20,
                                   tmpfs_mode=0o700, tmpfs_options=("exec,size=1g",)))
    assert opts == ["nosuid", "nodev", "rprivate", "ro", "mode=700", "exec", "size=1g"]
    assert "size=1000" in tmpfs_options(MountSpec("tmpfs", "/t", tmpfs_size=1000))


def test_binds_are_rbind_with_ro_and_propagation() -> None:
    bind = MountSpec("bind", "/b", "/src", read_only=True, propagation="rslave")
    assert bind_entry("/src", bind)["options"] == ["rbind", "ro", "rslave"]
    vol = MountSpec("volume", "/v", "name")
    assert bind_entry("/data/v/_data", vol)["options"] == ["rbind"]


def _spec() -> oci.Spec:
    spec = runtime_spec.generate(Path("/rootfs"), [runtime_spec.with_bind_files(
        [("/h/hosts", "/etc/hosts"), ("/h/resolv.conf", "/etc/resolv.conf")])])
    return spec


def test_mounts_replace_the_same_destination_and_sort_by_depth() -> None:
    spec = _spec()
    standard = [m["destination"] for m in spec["mounts"]
                if not m["destination"].startswith("/etc/")]  # the runtime's own
    entries: list[oci.Mount] = [
        {"destination": "/a/b/c", "type": "tmpfs", "source": "tmpfs", "options": []},
        {"destination": "/etc/hosts", "type": "bind", "source": "/mine", "options": []},
        {"destination": "/a", "type": "bind", "source": "/x", "options": ["rbind"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "tmpfs", "options": []},
    ]
    with_mounts(entries)(spec)
    dests = [m["destination"] for m in spec["mounts"]]
    n = len(standard) - 1
    assert dests[:n] == [d for d in standard if d != "/dev/shm"]
    assert dests[n:] == ["/a", "/etc/resolv.conf", "/etc/hosts", "/dev/shm", "/a/b/c"]
    assert next(m for m in spec["mounts"] if m["destination"] == "/etc/hosts")[
        "source"] == "/mine"


def test_a_dev_mount_replaces_everything_under_dev() -> None:
    spec = _spec()
    with_mounts([{"destination": "/dev", "type": "bind", "source": "/d",
                  "options": ["rbind"]}])(spec)
    assert [m["destination"] for m in spec["mounts"] if m["destination"].startswith(
        "/dev")] == ["/dev"]
