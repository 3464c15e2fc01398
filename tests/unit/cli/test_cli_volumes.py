"""Issue 12's CLI: -v/--mount/--tmpfs/--volumes-from/--read-only as docker 28 sends them,
the volume verbs and ``inspect`` of a volume, against the fake daemon."""

from __future__ import annotations

import json
import os

import pytest
from fake_daemon import CID

from berth.cli.commands.run import COMMAND as RUN
from berth.cli.flags import UsageError
from berth.cli.mountflags import parse_mount, parse_volume_spec
from berth.cli.runconfig import build_spec

VOL_A = {"Name": "data10", "Driver": "local", "Scope": "local", "Labels": {"team": "a"},
         "Mountpoint": "/var/lib/berth/volumes/data10/_data",
         "CreatedAt": "2026-12-05T08:00:00Z"}
VOL_B = {"Name": "data9", "Driver": "local", "Scope": "local", "Labels": None,
         "Mountpoint": "/var/lib/berth/volumes/data9/_data",
         "UsageData": {"Size": 2048, "RefCount": 1}}


def _body(*argv: str) -> dict:
    opts, args = RUN.parse("berth run", [*argv, "busybox"])
    return build_spec(opts, args, {}).to_json()


# -- -v, --mount, --tmpfs, --volumes-from, --read-only -----------------------------------

def test_volume_flags_split_into_binds_and_anonymous_volumes():
    body = _body("-v", "/srv/data:/data:ro", "-v", "named:/named", "-v", "/anon",
                 "-v", "./rel:/rel", "-v", "/anon", "--volumes-from", "other:ro",
                 "--read-only", "--tmpfs", "/run:size=64m,mode=1777", "--tmpfs", "/tmp")
    host = body["HostConfig"]
    assert host["Binds"] == ["/srv/data:/data:ro", "named:/named",
                             f"{os.path.abspath('./rel')}:/rel"]
    assert body["Volumes"] == {"/anon": {}}
    assert host["Tmpfs"] == {"/run": "size=64m,mode=1777", "/tmp": ""}
    assert host["VolumesFrom"] == ["other:ro"]
    assert host["ReadonlyRootfs"] is True
    assert host["VolumeDriver"] == ""
    assert "Mounts" not in host
    assert _body("--volume-driver", "local")["HostConfig"]["VolumeDriver"] == "local"


def test_no_storage_flags_send_no_storage_fields():
    body = _body()
    assert "Volumes" not in body
    assert body["HostConfig"]["ReadonlyRootfs"] is False
    assert not {"Binds", "Mounts", "Tmpfs", "VolumesFrom"} & set(body["HostConfig"])


@pytest.mark.parametrize(("spec", "message"), [
    ("/a::b", "invalid spec: /a::b: empty section between colons"),
    ("/a:/b:ro:x", "invalid spec: /a:/b:ro:x: too many colons"),
    (":/b", "invalid spec: :/b: empty section between colons"),
])
def test_volume_spec_refusals_as_docker(spec, message):
    with pytest.raises(UsageError) as err:
        parse_volume_spec(spec)
    assert str(err.value) == message


def test_bad_volume_spec_is_a_run_error(berth):
    code, _, err = berth("run", "-v", "/a::b", "busybox")
    assert code == 125
    assert err.startswith("berth: invalid spec: /a::b: empty section between colons")


def test_volume_spec_keeps_a_drive_letter_as_docker():
    """docker's scan keeps "a:" as one section (a Windows drive): "a::b" is a bind of
    "a:" that the daemon judges, not a CLI error."""
    parsed = parse_volume_spec("a::b")
    assert (parsed.source, parsed.target, parsed.is_bind) == ("a:", "b", True)
    assert _body("-v", "a::b")["HostConfig"]["Binds"] == ["a::b"]
    parsed = parse_volume_spec("/src:/dst:ro,rshared")
    assert (parsed.source, parsed.target, parsed.mode) == ("/src", "/dst", "ro,rshared")


def test_mount_flag_builds_docker_mounts():
    body = _body("--mount", "type=bind,src=/srv,dst=/srv,readonly,bind-propagation=rshared",
                 "--mount", "source=vol,target=/v,volume-opt=type=tmpfs,volume-label=a=b,"
                 "volume-nocopy,volume-driver=local",
                 "--mount", "type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770")
    assert body["HostConfig"]["Mounts"] == [
        {"Type": "bind", "Source": "/srv", "Target": "/srv", "ReadOnly": True,
         "BindOptions": {"Propagation": "rshared"}},
        {"Type": "volume", "Source": "vol", "Target": "/v",
         "VolumeOptions": {"NoCopy": True, "Labels": {"a": "b"},
                           "DriverConfig": {"Name": "local", "Options": {"type": "tmpfs"}}}},
        {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1 << 20,
                                                            "Mode": 0o1770}},
    ]


@pytest.mark.parametrize(("value", "message"), [
    ("type=bind,foo=1", "unexpected key 'foo' in 'foo=1'"),
    ("type=tmpfs,volume-nocopy", "target is required"),
    ("type=bind,target=/x,tmpfs-size=1m", "cannot mix 'tmpfs-*' options with mount type "
     "'bind'"),
    ("type=tmpfs,target=/x,volume-opt=a=b", "cannot mix 'volume-*' options with mount "
     "type 'tmpfs'"),
    ("type=volume,target=/x,bind-propagation=shared", "cannot mix 'bind-*' options with "
     "mount type 'volume'"),
    ("target=/x,bogus", "invalid field 'bogus' must be a key=value pair"),
    ("type=tmpfs,target=/x,tmpfs-size=lots", "invalid value for tmpfs-size: lots"),
    ("type=tmpfs,target=/x,tmpfs-mode=9", "invalid value for tmpfs-mode: 9"),
    ("target=/x,readonly=maybe", "invalid value for readonly: maybe"),
    ("type=,target=/x", "type is required"),
    ("", "EOF"),
    ('type="bind', 'parse error on line 1, column 6: bare " in non-quoted-field'),
    ('"type=bind"x,target=/x', 'parse error on line 1, column 11: extraneous or missing '
     '" in quoted-field'),
    ('a,"b""c"', "invalid field 'a' must be a key=value pair"),
    ("target=/x,bind-foo=1", "unexpected key 'bind-foo' in 'bind-foo=1'"),
    ("target=/x,volume-nocopy=maybe", "invalid value for volume-nocopy: maybe"),
    ("type=bind,target=/x,bind-recursive=sometimes", 'invalid value for bind-recursive: '
     'sometimes (must be "enabled", "disabled", "writable", or "readonly")'),
    ("type=bind,target=/x,bind-recursive=readonly", "option 'bind-recursive=readonly' "
     "requires 'readonly' to be specified in conjunction"),
])
def test_mount_refusals_as_docker(value, message):
    with pytest.raises(ValueError) as err:
        parse_mount(value)
    assert str(err.value) == message


def test_mount_fields_quoted_as_csv():
    assert parse_mount('"type=bind",target=/x,"src=/a,b"').source == "/a,b"


def test_bad_mount_is_a_flag_error(berth):
    code, _, err = berth("run", "--mount", "type=bind,foo=1", "busybox")
    assert code == 125
    assert err.startswith('invalid argument "type=bind,foo=1" for "--mount" flag: '
                          "unexpected key 'foo' in 'foo=1'\n\nUsage:  berth run")


def test_create_sends_storage_to_daemon(berth, daemon):
    code, _, _ = berth("create", "-v", "/h:/c", "--tmpfs", "/run", "busybox")
    assert code == 0
    body = json.loads(daemon.state.find("POST", "/containers/create").body)
    assert body["HostConfig"]["Binds"] == ["/h:/c"]
    assert body["HostConfig"]["Tmpfs"] == {"/run": ""}


# -- volume verbs -------------------------------------------------------------------

@pytest.fixture
def volumes(daemon):
    daemon.state.volumes = [VOL_A, VOL_B]
    return daemon.state


def test_volume_create_sends_docker_body_and_prints_name(berth, daemon):
    code, out, _ = berth("volume", "create", "-d", "local", "-o", "type=tmpfs", "-o",
                         "device=tmpfs", "--label", "k=v", "myvol")
    assert (code, out) == (0, "myvol\n")
    body = json.loads(daemon.state.find("POST", "/volumes/create").body)
    assert body == {"Name": "myvol", "Driver": "local", "Labels": {"k": "v"},
                    "DriverOpts": {"type": "tmpfs", "device": "tmpfs"}}


def test_volume_create_without_name_prints_daemon_name(berth):
    code, out, _ = berth("volume", "create")
    assert (code, out) == (0, "f" * 64 + "\n")


def test_volume_create_refuses_two_names(berth):
    code, _, err = berth("volume", "create", "--name", "a", "b")
    assert code == 1
    assert "conflicting options: cannot specify a volume-name through both --name and " \
           "as a positional arg" in err


def test_volume_ls_table_in_natural_order(berth, volumes):
    code, out, _ = berth("volume", "ls")
    assert code == 0
    assert out == ("DRIVER    VOLUME NAME\n"
                   "local     data9\n"
                   "local     data10\n")


def test_volume_ls_quiet_format_and_filters(berth, volumes):
    assert berth("volume", "ls", "-q")[1] == "data9\ndata10\n"
    _code, out, _ = berth("volume", "ls", "-f", "dangling=true", "-f", "label=team",
                         "--format", "{{.Name}} {{.Links}} {{.Size}} {{.Label \"team\"}}")
    assert out == "data9 1 2.048kB \ndata10 N/A N/A a\n"
    req = [r for r in volumes.requests if r.path.endswith("/volumes")][-1]
    assert json.loads(req.query["filters"][0]) == {"dangling": ["true"], "label": ["team"]}


def test_volume_ls_json(berth, volumes):
    _code, out, _ = berth("volume", "ls", "--format", "json")
    first = json.loads(out.splitlines()[0])
    assert first["Name"] == "data9" and first["Links"] == "1" and "Label" not in first


def test_volume_inspect_and_missing(berth, volumes):
    code, out, err = berth("volume", "inspect", "data9", "nope")
    assert code == 1
    assert json.loads(out) == [VOL_B]
    assert err == "Error response from daemon: get nope: no such volume\n"
    assert berth("volume", "inspect", "-f", "{{.Name}}", "nope")[:2] == (1, "\n")
    assert berth("volume", "inspect", "-f", "{{.Mountpoint}}", "data10")[1] == \
        "/var/lib/berth/volumes/data10/_data\n"


def test_generic_inspect_finds_volumes(berth, volumes):
    code, out, _ = berth("inspect", "--format", "{{.Driver}}", "data10")
    assert (code, out) == (0, "local\n")
    code, out, _ = berth("inspect", "--type", "volume", "data9")
    assert json.loads(out)[0]["Name"] == "data9"


def test_volume_rm_reports_each(berth, volumes):
    code, out, err = berth("volume", "rm", "data10", "data9", "nope")
    assert code == 1
    assert out == "data10\n"
    assert err.splitlines() == [
        f"Error response from daemon: remove data9: volume is in use - [{CID}]",
        "Error response from daemon: get nope: no such volume"]
    req = next(r for r in volumes.requests if r.method == "DELETE")
    assert "force" not in req.query
    berth("volume", "rm", "-f", "data10")
    req = [r for r in volumes.requests if r.method == "DELETE"][-1]
    assert req.query["force"] == ["1"]


def test_volume_prune_prompts_and_reports(berth, volumes, monkeypatch):
    import io
    import sys

    volumes.volumes_pruned = ["data10", "anon"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    code, out, _ = berth("volume", "prune")
    assert (code, out) == (0, "WARNING! This will remove anonymous local volumes not used "
                              "by at least one container.\nAre you sure you want to "
                              "continue? [y/N] ")
    code, out, _ = berth("volume", "prune", "-a", "-f", "--filter", "label=x")
    assert out == "Deleted Volumes:\ndata10\nanon\n\nTotal reclaimed space: 4.096kB\n"
    req = [r for r in volumes.requests if r.path.endswith("/volumes/prune")][-1]
    assert json.loads(req.query["filters"][0]) == {"label": ["x"], "all": ["true"]}


def test_volume_prune_all_conflicts_with_all_filter(berth, volumes):
    code, _, err = berth("volume", "prune", "-a", "-f", "--filter", "all=1")
    assert code == 1
    assert err == "conflicting options: cannot specify both --all and --filter all=1\n"


def test_volume_prune_nothing(berth, volumes):
    _code, out, _ = berth("volume", "prune", "-f")
    assert out == "Total reclaimed space: 0B\n"


def test_inspect_prints_found_then_missing_as_docker(volumes, tmp_path):
    """docker's inspect.Inspect: the documents first, then each miss, exit 1."""
    import io

    from berth.cli.command import Context
    from berth.cli.main import dispatch

    both = io.StringIO()
    ctx = Context(f"unix://{tmp_path / 'berth.sock'}", "1.45", stdout=both, stderr=both)
    assert dispatch(ctx, ["volume", "inspect", "-f", "{{.Name}}", "nope", "data9"]) == 1
    assert both.getvalue() == "data9\nError response from daemon: get nope: no such volume\n"


@pytest.mark.parametrize("argv", [("volume", "inspect"), ("inspect",), ("network", "inspect"),
                                  ("container", "inspect")])
def test_inspect_bad_template_is_exit_64_before_any_request(berth, volumes, argv):
    code, _, err = berth(*argv, "-f", "{{.x", "data9")
    assert (code, err) == (64, "template parsing error: template: :1: unclosed action\n")
    assert not [r for r in volumes.requests if "/volumes/" in r.path]


def test_flag_error_quotes_the_value_as_go(berth):
    code, _, err = berth("run", "--mount", 'type="bind', "busybox")
    assert code == 125
    assert err.startswith('invalid argument "type=\\"bind" for "--mount" flag: parse error '
                          'on line 1, column 6: bare " in non-quoted-field\n')


@pytest.mark.parametrize(("fmt", "message"), [
    ("{{.CreatedAt}}", "can't evaluate field CreatedAt in type *formatter.volumeContext"),
])
def test_volume_ls_unknown_field_fails_as_docker(berth, volumes, fmt, message):
    code, out, err = berth("volume", "ls", "--format", fmt)
    assert (code, out) == (1, "")
    assert err == f'template parsing error: template: :1:2: executing "" at <.{fmt[3:-2]}>: ' \
                  f"{message}\n"
