"""validate.py, hooks.py, userns.py, mempolicy.py without root: runc's words for invalid
specs, the hooks' state document and errors, id maps, node lists."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from berth.errors import InvalidArgument
from berth.runtime.linux import hooks, mempolicy, userns, validate


def _spec(tmp_path: Path, **linux: Any) -> dict[str, Any]:
    (tmp_path / "rootfs").mkdir(exist_ok=True)
    return {
        "ociVersion": "1.0.2", "root": {"path": "rootfs"}, "hostname": "h",
        "process": {"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
        "mounts": [],
        "linux": {"namespaces": [{"type": t} for t in ("pid", "mount", "uts", "ipc",
                                                       "network")], **linux},
    }


def test_a_valid_spec_passes(tmp_path):
    validate.validate(_spec(tmp_path), tmp_path)
    # empty sections of resources nobody applies are fine (docker writes some)
    validate.validate(_spec(tmp_path, resources={"hugepageLimits": [], "memory": {}}),
                      tmp_path)


@pytest.mark.parametrize("edit, words", [
    (lambda s: s.pop("process"), "process property must not be empty"),
    (lambda s: s.pop("root"), "root must be specified"),
    (lambda s: s["process"].update(args=[]), "args must not be empty"),
    (lambda s: s["process"].update(cwd="x"), "Cwd must be an absolute path"),
    (lambda s: s["linux"]["namespaces"].append({"type": "bogus"}),
     'namespace {"bogus" ""} does not exist'),
    (lambda s: s["linux"]["namespaces"].append({"type": "pid"}),
     'malformed spec file: duplicated ns {"pid" ""}'),
    (lambda s: s["linux"]["namespaces"].append({"type": "user"}),
     "User namespaces enabled, but no uid mappings found."),
    (lambda s: s["linux"].update(sysctl={"kernel.foo": "1"}),
     'sysctl "kernel.foo" is not in a separate kernel namespace'),
    (lambda s: s["linux"].update(sysctl={"kernel.hostname": "1"}),
     'sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field'),
    (lambda s: s["linux"].update(rootfsPropagation="x"), "rootfsPropagation=x is not supported"),
    (lambda s: s["linux"].update(devices=[{"path": "/dev/x", "type": "z"}]),
     'invalid device type "z"'),
    (lambda s: s["process"].update(args="sh"), "json: cannot unmarshal string into Go "
     "struct field Process.process.args of type []string"),
    (lambda s: s["process"]["user"].update(uid=True), "json: cannot unmarshal bool into Go "
     "struct field User.process.user.uid of type uint32"),
    (lambda s: s["linux"]["namespaces"].__setitem__(0, "pid"),
     "malformed spec file: linux.namespaces[0] is not an object"),
    (lambda s: s["mounts"].append({"type": "tmpfs"}),
     "invalid mount #0: mount destination must be set"),
    (lambda s: s["linux"].update(resources={"hugepageLimits": [{"pageSize": "2MB",
                                                                 "limit": 1}]}),
     "linux.resources.hugepageLimits is set, but this runtime cannot apply it"),
])
def test_runc_words_for_invalid_specs(tmp_path, edit, words):
    spec = _spec(tmp_path)
    edit(spec)
    with pytest.raises(InvalidArgument) as info:
        validate.validate(spec, tmp_path)
    assert words in info.value.message


def test_net_sysctl_needs_its_own_network_namespace(tmp_path):
    spec = _spec(tmp_path, sysctl={"net.ipv4.ip_forward": "1"})
    validate.validate(spec, tmp_path)
    spec["linux"]["namespaces"][-1] = {"type": "network", "path": "/proc/self/ns/net"}
    with pytest.raises(InvalidArgument, match="not allowed in host network namespace"):
        validate.validate(spec, tmp_path)


def test_state_document_as_runc_writes_it():
    state = hooks.State("c1", "creating", "/b", 42, {"a": "b"})
    assert json.loads(state.to_json()) == {"ociVersion": "1.1.0", "id": "c1",
                                           "status": "creating", "pid": 42, "bundle": "/b",
                                           "annotations": {"a": "b"}}
    assert "pid" not in json.loads(hooks.State("c1", "stopped", "/b").to_json())


def test_hooks_get_exactly_their_args_env_and_stdin(tmp_path):
    out = tmp_path / "out"
    script = f"import json,os,sys; open({str(out)!r},'w').write(json.dumps([sys.argv[1:], " \
             "os.environ.get('A'), sys.stdin.read()]))"
    spec_hooks: Any = {"prestart": [{"path": sys.executable,
                                     "args": ["python", "-c", script, "x"],
                                     "env": ["A=1"]}]}
    hooks.run(spec_hooks, "prestart", hooks.State("c1", "creating", "/b", 7))
    args, env, stdin = json.loads(out.read_text())
    assert (args, env) == (["x"], "1")
    assert json.loads(stdin)["pid"] == 7


@pytest.mark.parametrize("hook, words", [
    ({"path": "/bin/sh", "args": ["sh", "-c", "echo o; echo e >&2; exit 3"]},
     "error running hook #0: error running hook: exit status 3, stdout: o\n, stderr: e\n"),
    ({"path": "/nonexistent"},
     "error running hook #0: fork/exec /nonexistent: no such file or directory"),
    ({"args": ["x"]}, "error running hook #0: exec: no command"),
])
def test_hook_failures_in_runc_words(hook, words):
    with pytest.raises(hooks.HookError) as info:
        hooks.run({"prestart": [hook]}, "prestart", hooks.State("c", "creating", "/"))
    assert str(info.value) == words


def test_poststart_failures_only_warn():
    failures = hooks.run_warning(
        {"poststart": [{"path": "/bin/false"}, {"path": "/bin/true"}]}, "poststart",
        hooks.State("c", "running", "/"))
    assert failures == ["error running poststart hook #0: error running hook: exit "
                        "status 1, stdout: , stderr: "]


def test_id_maps():
    maps: Any = [{"containerID": 0, "hostID": 100000, "size": 1000},
                 {"containerID": 1000, "hostID": 5000, "size": 1}]
    assert userns.format_map(maps) == b"0 100000 1000\n1000 5000 1\n"
    assert userns.host_id(maps, 0) == 100000
    assert userns.host_id(maps, 1000) == 5000
    with pytest.raises(ValueError):
        userns.host_id(maps, 2000)


def test_memory_policy_nodes():
    assert mempolicy.parse_nodes("0-2,5") == [0, 1, 2, 5]
    assert mempolicy.parse_nodes("") == []
    with pytest.raises(ValueError):
        mempolicy.parse_nodes("3-1")


def test_recursive_mount_options_accumulate_as_runc():
    from berth.runtime.linux import rootfs
    from berth.runtime.linux import syscalls as sc

    opts = rootfs.parse_options(["rbind", "rro", "rnoatime", "tmpcopyup", "size=1m"])
    assert (opts.rec_set, opts.rec_clr) == (sc.MOUNT_ATTR_RDONLY | sc.MOUNT_ATTR_NOATIME,
                                            sc.MOUNT_ATTR__ATIME)
    assert opts.copy_up and opts.data == "size=1m"
    both = rootfs.parse_options(["rro", "rrw"])
    assert both.rec_set & both.rec_clr == sc.MOUNT_ATTR_RDONLY  # set wins: read-only
