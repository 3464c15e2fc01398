"""Request bodies decode as moby decodes them, and bad ones are 400s, never crashes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.api.server import container_json, execs
from berth.api.types.containers import ContainerCreate, HostConfig
from berth.api.types.decode import decode, is_zero, set_fields
from berth.api.types.execs import ExecCreate, ExecStart
from berth.errors import BerthError, InvalidArgument


def test_field_names_match_case_insensitively_exact_first() -> None:
    body = decode(b'{"image": "busybox", "hostconfig": {"memory": 5}, "Tty": true}',
                  ContainerCreate)
    assert (body.Image, body.HostConfig.Memory, body.Tty) == ("busybox", 5, True)
    both = decode(b'{"Image": "exact", "image": "folded"}', ContainerCreate)
    assert both.Image == "exact"
    assert decode(b'{"detachKeys": "ctrl-a"}', ExecCreate).DetachKeys == "ctrl-a"


def test_null_is_the_zero_value_and_unknown_fields_are_ignored() -> None:
    body = decode(b'{"Image": "b", "Env": null, "HostConfig": null, "Runtime": ["x"], '
                  b'"GwPriority": 3, "StopTimeout": null}', ContainerCreate)
    assert body.Env is None and body.HostConfig == HostConfig() and body.StopTimeout is None


@pytest.mark.parametrize(("raw", "where"), [
    ({"HostConfig": [1]}, "HostConfig"),
    ({"Env": [{}]}, "Env[0]"),
    ({"HostConfig": {"LogConfig": [1]}}, "HostConfig.LogConfig"),
    ({"HostConfig": {"LogConfig": {"Config": [1]}}}, "HostConfig.LogConfig.Config"),
    ({"HostConfig": {"RestartPolicy": [1]}}, "HostConfig.RestartPolicy"),
    ({"HostConfig": {"RestartPolicy": {"MaximumRetryCount": [1]}}},
     "HostConfig.RestartPolicy.MaximumRetryCount"),
    ({"WorkingDir": ["x"]}, "WorkingDir"),
    ({"Labels": [[1]]}, "Labels"),
    ({"StopTimeout": "x"}, "StopTimeout"),
    ({"HostConfig": {"Memory": 2**64}}, "HostConfig.Memory"),
    ({"HostConfig": {"Memory": True}}, "HostConfig.Memory"),
])
def test_wrong_types_are_invalid_arguments_naming_the_field(raw: dict[str, object],
                                                             where: str) -> None:
    with pytest.raises(InvalidArgument, match=f"`{where}`".replace("[", r"\[")):
        decode(json.dumps({"Image": "busybox", **raw}).encode(), ContainerCreate)


def test_exec_bodies() -> None:
    with pytest.raises(InvalidArgument, match="DetachKeys"):
        decode(b'{"Cmd": ["ls"], "DetachKeys": [null]}', ExecCreate)
    with pytest.raises(InvalidArgument, match="ConsoleSize"):
        decode(b'{"ConsoleSize": [70000, 80]}', ExecStart)
    assert decode(b"", ExecStart) == ExecStart()
    with pytest.raises(InvalidArgument, match="invalid JSON"):
        decode(b"{", ExecStart)


def test_zero_values_and_set_fields() -> None:
    assert is_zero(HostConfig()) and is_zero([]) and is_zero({}) and not is_zero([""])
    host = HostConfig(Memory=1, CapDrop=["CHOWN"], Dns=[])
    assert dict(set_fields(host, "HostConfig.")) == {"HostConfig.Memory": 1,
                                                    "HostConfig.CapDrop": ["CHOWN"]}


@pytest.mark.parametrize(("host", "field"), [
    ({"Cgroup": "container:x"}, "HostConfig.Cgroup"),
    ({"CpuRealtimePeriod": 1000}, "HostConfig.CpuRealtimePeriod"),
    ({"DeviceRequests": [{"Driver": "nvidia"}]}, "HostConfig.DeviceRequests"),
    ({"KernelMemoryTCP": 10}, "HostConfig.KernelMemoryTCP"),
])
def test_unsupported_host_fields_are_refused_by_name(host: dict[str, object],
                                                      field: str) -> None:
    body = decode(json.dumps({"Image": "b", "HostConfig": host}).encode(), ContainerCreate)
    with pytest.raises(InvalidArgument, match=f"berth does not support {field} yet"):
        container_json.spec_from_create(body)


def test_docker_cli_defaults_pass() -> None:
    """What docker CLI 28 sends for a plain ``docker run`` (zero values and defaults)."""
    body = decode(json.dumps({
        "Image": "busybox", "Cmd": ["true"], "Volumes": {}, "Labels": {},
        "HostConfig": {"NetworkMode": "default", "PortBindings": {}, "MemorySwappiness": -1,
                       "RestartPolicy": {"Name": "no"}, "LogConfig": {"Type": "", "Config": {}},
                       "ConsoleSize": [24, 80], "Dns": [], "Devices": [], "OomKillDisable": False,
                       "PidsLimit": 0, "Ulimits": [], "BlkioWeightDevice": []},
        "NetworkingConfig": {"EndpointsConfig": {"default": {"IPAMConfig": None,
                                                             "GwPriority": 0}}},
    }).encode(), ContainerCreate)
    spec = container_json.spec_from_create(body)
    assert spec.console_size == (24, 80) and spec.network_mode == "default"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20)
_field_names = st.sampled_from(
    ["Image", "Cmd", "Env", "HostConfig", "Labels", "StopTimeout", "WorkingDir",
     "Healthcheck", "Entrypoint", "ExposedPorts", "NetworkingConfig", "Tty", "User",
     "MacAddress"])
_host_names = st.sampled_from(
    ["LogConfig", "RestartPolicy", "Memory", "NanoCpus", "ConsoleSize", "PidsLimit",
     "NetworkMode", "Binds", "Init", "Runtime", "MemorySwappiness", "CpuQuota",
     "PortBindings", "Links", "ExtraHosts", "PublishAllPorts", "Dns"])


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_field_names, _json, max_size=6),
       st.dictionaries(_host_names, _json, max_size=6), st.booleans())
def test_arbitrary_create_bodies_fail_only_as_berth_errors(
        config: dict[str, object], host: dict[str, object], with_image: bool) -> None:
    body = {**config, "HostConfig": host}
    if with_image:
        body["Image"] = "busybox"
    try:
        container_json.spec_from_create(decode(json.dumps(body).encode(), ContainerCreate))
    except BerthError as err:
        assert err.status == 400, err


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["Cmd", "Env", "DetachKeys", "ConsoleSize", "Tty",
                                        "User", "Privileged", "WorkingDir", "detachkeys"]),
                       _json, max_size=5), _json)
def test_arbitrary_exec_bodies_fail_only_as_berth_errors(create: dict[str, object],
                                                         start: object) -> None:
    try:
        execs.spec_from_create(decode(json.dumps(create).encode(), ExecCreate))
    except BerthError as err:
        assert err.status == 400, err
    try:
        decode(json.dumps(start).encode(), ExecStart)
    except BerthError as err:
        assert err.status == 400, err


def test_build_query_reads_as_moby_reads_it() -> None:
    from berth.api.server.build import options
    from berth.api.types.build import BuildQuery
    from berth.api.types.decode import from_query

    raw = {"t": "a:1", "rm": "0", "nocache": "true", "cachefrom": '["x","y"]',
           "buildargs": '{"A":"1","B":null}', "memory": "0", "version": "1",
           "networkmode": "default", "ulimits": "null", "isolation": ""}
    q = from_query(raw, {"t": ["a:1", "b:2"]}, BuildQuery)
    assert (q.t, q.rm, q.nocache, q.cachefrom) == (["a:1", "b:2"], False, True, ["x", "y"])
    opts = options(q)
    assert opts.build_args == (("A", "1"),) and opts.tags == ("a:1", "b:2")
    for name, value in (("memory", "1073741824"), ("squash", "1"),
                        ("remote", "https://example.invalid/x.git"), ("version", "2")):
        with pytest.raises(InvalidArgument,
                           match=f"berth does not support the build parameter {name} yet"):
            options(from_query({name: value}, {}, BuildQuery))
    with pytest.raises(InvalidArgument, match="memory"):
        from_query({"memory": "lots"}, {}, BuildQuery)
