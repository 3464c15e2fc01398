from __future__ import annotations

import io
import json

import pytest
from fake_daemon import CID, IMAGE_ID

from berth import errors
from berth.client import Client, ContainerSpec, DaemonUnreachable, ImportOptions
from berth.client.models import LogOptions
from berth.client.stdcopy import frame, frames


def test_ping_uses_unversioned_path(daemon, client):
    assert client.ping() == "1.45"
    assert daemon.state.requests[0].path == "/_ping"


def test_list_decodes_summaries_and_sends_filters(daemon, client):
    daemon.state.containers = [{"Id": CID, "Names": ["/web"], "Image": "busybox",
                                "ImageID": IMAGE_ID, "Command": "sh", "Created": 1,
                                "State": "running", "Status": "Up 1 second",
                                "Labels": {"a": "b"}}]
    [summary] = client.containers.list(all=True, filters={"status": ["running"]})
    assert summary.names == ("/web",) and summary.labels == {"a": "b"}
    req = daemon.state.find("GET", "/containers/json")
    assert req.path == "/v1.45/containers/json"
    assert req.query["all"] == ["1"]
    assert json.loads(req.query["filters"][0]) == {"status": ["running"]}


def test_create_sends_docker_json(daemon, client):
    spec = ContainerSpec(image="busybox", cmd=("echo", "hi"), memory=64 << 20,
                         nano_cpus=500_000_000, auto_remove=True, env=("A=1",))
    created = client.containers.create(spec, name="web")
    assert created.id == CID
    req = daemon.state.find("POST", "/containers/create")
    assert req.query["name"] == ["web"]
    body = json.loads(req.body)
    assert body["Cmd"] == ["echo", "hi"] and body["Env"] == ["A=1"]
    assert body["HostConfig"]["Memory"] == 64 << 20
    assert body["HostConfig"]["NanoCpus"] == 500_000_000
    assert body["HostConfig"]["AutoRemove"] is True
    assert "Entrypoint" not in body


@pytest.mark.parametrize(("path", "cls"), [("nosuch", errors.NotFound)])
def test_errors_map_by_status_with_message(daemon, client, path, cls):
    with pytest.raises(cls) as info:
        client.containers.inspect(path)
    assert info.value.message == "No such container: nosuch"


def test_server_error_maps_to_base_error(daemon, client):
    daemon.state.start_error = "boom"
    with pytest.raises(errors.BerthError) as info:
        client.containers.start(CID)
    assert type(info.value) is errors.BerthError and info.value.message == "boom"


def test_unreachable_daemon(tmp_path):
    with pytest.raises(DaemonUnreachable) as info:
        Client(f"unix://{tmp_path}/none.sock").ping()
    assert info.value.host == f"unix://{tmp_path}/none.sock"


def test_attach_hijacks_and_demultiplexes(daemon, client):
    with client.containers.attach(CID, stdin=True) as stream:
        pending = client.containers.wait_pending(CID, "next-exit")
        daemon.state.exit_code = 7
        client.containers.start(CID)
        out, err = io.BytesIO(), io.BytesIO()
        stream.copy_output(out, err, tty=False)
    assert (out.getvalue(), err.getvalue()) == (b"out\n", b"err\n")
    assert pending.result().status_code == 7
    req = daemon.state.find("POST", "/attach")
    assert req.headers["Upgrade"] == "tcp" and req.headers["Connection"] == "Upgrade"
    assert req.query["stdin"] == ["1"] and req.query["stream"] == ["1"]
    assert daemon.state.find("POST", "/wait").query["condition"] == ["next-exit"]


def test_logs_stream_frames(daemon, client):
    resp = client.containers.logs(CID, LogOptions(timestamps=True, tail="5"))
    assert list(frames(resp)) == [(1, b"out\n"), (2, b"err\n")]
    req = daemon.state.find("GET", "/logs")
    assert req.query["timestamps"] == ["1"] and req.query["tail"] == ["5"]


def test_import_streams_body_chunked_with_repeated_changes(daemon, client):
    body = io.BytesIO(b"x" * 100_000)
    opts = ImportOptions(repo="img", tag="1", changes=("ENV A=1", "CMD [\"sh\"]"))
    progress = list(client.images.import_tar(body, opts))
    assert progress[-1].status == IMAGE_ID
    req = daemon.state.find("POST", "/images/create")
    assert req.headers.get("Transfer-Encoding") == "chunked"
    assert req.body == b"x" * 100_000
    assert req.query["changes"] == ["ENV A=1", "CMD [\"sh\"]"]
    assert req.query["fromSrc"] == ["-"] and req.query["repo"] == ["img"]


def test_import_with_size_sends_content_length(daemon, client):
    list(client.images.import_tar(io.BytesIO(b"abc"), ImportOptions(), size=3))
    assert daemon.state.find("POST", "/images/create").headers["Content-Length"] == "3"


def test_bootstrap_progress(daemon, client):
    progress = list(client.images.bootstrap("busybox"))
    assert progress[-1].id == IMAGE_ID
    assert daemon.state.find("POST", "/images/bootstrap").query["name"] == ["busybox"]


def test_image_remove_records(daemon, client):
    assert client.images.remove("busybox", force=True)[1] == {"Deleted": IMAGE_ID}


def test_stdcopy_rejects_truncated_frame():
    with pytest.raises(errors.BerthError):
        list(frames(io.BytesIO(frame(1, b"hello")[:-2])))


def test_stdcopy_system_error_raises():
    from berth.client.stdcopy import demux

    with pytest.raises(errors.BerthError, match="oops"):
        demux(io.BytesIO(frame(3, b"oops")), io.BytesIO(), io.BytesIO())


def test_models_are_immutable_values():
    from berth.client.models import Port

    spec = ContainerSpec(image="busybox", labels={"a": "b"})
    assert spec == ContainerSpec(image="busybox", labels={"a": "b"})
    assert spec != ContainerSpec(image="alpine") and spec.log_opts == {}
    with pytest.raises(AttributeError, match="immutable"):
        spec.image = "alpine"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del spec.tty
    assert "image='busybox'" in repr(spec)
    assert hash(Port(80, "tcp")) == hash(Port(80, "tcp"))
    assert ContainerSpec(image="x").labels is not ContainerSpec(image="x").labels


def test_client_reexports_load_on_first_use():
    import berth.client

    assert berth.client.WaitResult(3).status_code == 3
    with pytest.raises(AttributeError):
        _ = berth.client.NoSuchName  # type: ignore[attr-defined]
