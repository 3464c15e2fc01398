"""``/containers`` routes over the fake backends: request parsing and refusals, the
documents (container_json), list filters and the status code of each lifecycle step."""

from __future__ import annotations

import asyncio
import json

from aiohttp import ClientResponse
from tests.unit.api.server.harness import DATA_ROOT, Api, with_api


async def _error(resp: ClientResponse) -> tuple[int, str]:
    return resp.status, (await resp.json())["message"]


@with_api
async def test_create_answers_201_with_the_id(api: Api) -> None:
    resp = await api.client.post("/v1.45/containers/create", params={"name": "web"},
                                 json={"Image": "busybox", "Cmd": ["sleep", "300"]})
    assert resp.status == 201
    body = await resp.json()
    assert body == {"Id": api.containers.get("web").id, "Warnings": []}
    assert resp.headers["Content-Type"] == "application/json"


@with_api
async def test_create_refuses_a_field_berth_does_not_honour_and_creates_nothing(
        api: Api) -> None:
    for body, field in (({"HostConfig": {"Cgroup": "container:x"}}, "HostConfig.Cgroup"),
                        ({"Shell": ["/bin/bash", "-c"]}, "Shell"),
                        ({"HostConfig": {"CpuRealtimeRuntime": 1}},
                         "HostConfig.CpuRealtimeRuntime")):
        resp = await api.client.post("/containers/create", json={"Image": "busybox", **body})
        assert await _error(resp) == (400, f"berth does not support {field} yet")
    assert api.containers.list() == []


@with_api
async def test_create_accepts_docker_defaults_of_refused_fields(api: Api) -> None:
    cid = await api.create(HostConfig={"NetworkMode": "default", "MemorySwappiness": -1,
                                       "Privileged": False})
    assert api.containers.get(cid).spec.network_mode == "default"


@with_api
async def test_create_answers_400_for_a_malformed_body(api: Api) -> None:
    resp = await api.client.post("/containers/create", data=b"{not json",
                                 headers={"Content-Type": "application/json"})
    status, message = await _error(resp)
    assert status == 400 and message.startswith("invalid JSON")
    resp = await api.client.post("/containers/create",
                                 json={"Image": "busybox", "StopTimeout": "ten"})
    status, message = await _error(resp)
    assert status == 400 and "StopTimeout" in message
    resp = await api.client.post("/containers/create", json={})
    assert await _error(resp) == (400, "config cannot be empty in order to create a container")
    assert api.containers.list() == []


@with_api
async def test_create_errors_keep_the_backends_status(api: Api) -> None:
    resp = await api.client.post("/containers/create", json={"Image": "nosuch"})
    assert await _error(resp) == (404, "No such image: nosuch:latest")
    await api.create("web")
    resp = await api.client.post("/containers/create?name=web", json={"Image": "busybox"})
    status, message = await _error(resp)
    assert status == 409 and '"/web" is already in use' in message
    resp = await api.client.post("/containers/create?name=-x", json={"Image": "busybox"})
    assert (await _error(resp))[0] == 400


@with_api
async def test_inspect_shows_docker_s_document(api: Api) -> None:
    cid = await api.create("web", Cmd=["sleep", "300"], Labels={"a": "1"}, Env=["X=1"],
                           HostConfig={"Memory": 64 << 20})
    resp = await api.client.get("/containers/web/json")
    assert resp.status == 200
    doc = await resp.json()
    assert (doc["Id"], doc["Name"], doc["Path"], doc["Args"]) == (cid, "/web", "sleep",
                                                                   ["300"])
    assert doc["State"]["Status"] == "created" and doc["State"]["Running"] is False
    assert doc["State"]["Pid"] == 0 and doc["State"]["ExitCode"] == 0
    config = doc["Config"]
    assert (config["Image"], config["Cmd"], config["Entrypoint"]) == (
        "busybox", ["sleep", "300"], None)
    assert config["Labels"] == {"from": "image", "a": "1"}
    assert "X=1" in config["Env"] and config["Hostname"] == cid[:12]
    assert "StopTimeout" not in config and "Healthcheck" not in config
    host = doc["HostConfig"]
    assert host["Memory"] == 64 << 20 and host["Privileged"] is False
    assert host["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert host["LogConfig"]["Type"] == "json-file"
    assert doc["LogPath"] == f"{DATA_ROOT}/containers/{cid}/{cid}-json.log"
    assert doc["ExecIDs"] is None and doc["Image"] == api.containers.get(cid).image_id

    await api.client.post(f"/containers/{cid}/start")
    exec_id = (await (await api.client.post(f"/containers/{cid}/exec",
                                            json={"Cmd": ["true"]})).json())["Id"]
    doc = await (await api.client.get(f"/containers/{cid[:12]}/json")).json()
    assert doc["State"]["Status"] == "running" and doc["State"]["Running"] is True
    assert doc["State"]["Pid"] > 0 and doc["ExecIDs"] == [exec_id]


@with_api
async def test_inspect_of_an_unknown_container_is_404(api: Api) -> None:
    resp = await api.client.get("/containers/nosuch/json")
    assert await _error(resp) == (404, "No such container: nosuch")


@with_api
async def test_list_shows_running_ones_unless_all_and_applies_filters(api: Api) -> None:
    running = await api.create("running", Cmd=["sleep", "300"], Labels={"role": "db"})
    created = await api.create("created")
    exited = await api.create("exited", Cmd=["sh", "-c", "exit 3"])
    await api.client.post(f"/containers/{running}/start")
    await api.client.post(f"/containers/{exited}/start")
    await api.containers.waiter(exited)

    async def ids(**params: str) -> list[str]:
        resp = await api.client.get("/containers/json", params=params)
        assert resp.status == 200
        return [c["Id"] for c in await resp.json()]

    assert await ids() == [running]
    assert await ids(all="1") == [exited, created, running]  # newest first
    assert await ids(limit="1") == [exited]
    assert await ids(filters=json.dumps({"status": ["exited"]})) == [exited]
    assert await ids(all="1", filters=json.dumps({"exited": ["3"]})) == [exited]
    assert await ids(all="1", filters=json.dumps({"label": ["role=db"]})) == [running]
    # every label must match (compose finds a service's container by three), as docker
    assert await ids(all="1", filters=json.dumps({"label": ["role=db", "from"]})) == [running]
    assert await ids(all="1", filters=json.dumps({"label": ["role=db", "role=web"]})) == []
    assert await ids(all="1", filters=json.dumps({"name": ["creat"]})) == [created]
    assert await ids(all="1", filters=json.dumps({"label": {"from": True}})) == [
        exited, created, running]  # the legacy map form; image labels count

    (summary,) = await (await api.client.get("/containers/json")).json()
    assert summary["Names"] == ["/running"] and summary["Command"] == "sleep 300"
    assert summary["State"] == "running" and summary["Status"].startswith("Up ")
    assert summary["Labels"] == {"from": "image", "role": "db"}
    resp = await api.client.get("/containers/json", params={"filters": '{"bogus":["x"]}'})
    assert await _error(resp) == (400, "invalid filter 'bogus'")


@with_api
async def test_lifecycle_status_codes(api: Api) -> None:
    cid = await api.create("life", Cmd=["sleep", "300"])
    post = api.client.post
    assert (await post(f"/containers/{cid}/start")).status == 204
    assert (await post(f"/containers/{cid}/start")).status == 304  # already started
    assert (await post(f"/containers/{cid}/pause")).status == 204
    assert (await _error(await post(f"/containers/{cid}/pause")))[0] == 409
    assert (await post(f"/containers/{cid}/unpause")).status == 204
    assert (await post(f"/containers/{cid}/restart?t=0")).status == 204
    assert api.containers.get(cid).state.running
    assert (await post(f"/containers/{cid}/stop?t=0")).status == 204
    assert api.containers.get(cid).state.exit_code == 137
    assert (await post(f"/containers/{cid}/stop")).status == 304  # already stopped
    status, message = await _error(await post(f"/containers/{cid}/kill"))
    assert status == 409 and "is not running" in message
    assert (await post(f"/containers/{cid}/start")).status == 204
    resp = await post(f"/containers/{cid}/kill", params={"signal": "BOGUS"})
    assert await _error(resp) == (400, "Invalid signal: BOGUS")
    assert (await post(f"/containers/{cid}/kill?signal=SIGTERM")).status == 204
    assert api.containers.get(cid).state.running  # a PID 1 ignores it
    assert (await post(f"/containers/{cid}/kill")).status == 204  # SIGKILL
    assert not api.containers.get(cid).state.running
    for path in ("start", "stop", "kill", "wait", "pause"):
        assert (await post(f"/containers/nosuch/{path}")).status == 404


@with_api
async def test_wait_answers_headers_first_then_the_exit_code(api: Api) -> None:
    cid = await api.create(Cmd=["sh", "-c", "exit 3"])
    # docker's CLI: wait for the next exit, start once the wait's headers are in
    resp = await api.client.post(f"/containers/{cid}/wait?condition=next-exit")
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/json"
    assert (await api.client.post(f"/containers/{cid}/start")).status == 204
    assert await asyncio.wait_for(resp.json(), 5) == {"StatusCode": 3}
    resp = await api.client.post(f"/containers/{cid}/wait")  # exited: answered at once
    assert await resp.json() == {"StatusCode": 3}
    resp = await api.client.post(f"/containers/{cid}/wait?condition=whenever")
    assert (await _error(resp))[0] == 400


@with_api
async def test_remove_needs_force_for_a_running_container(api: Api) -> None:
    cid = await api.create("gone", Cmd=["sleep", "300"])
    removed = await api.client.post(f"/containers/{cid}/wait?condition=removed")
    await api.client.post(f"/containers/{cid}/start")
    status, message = await _error(await api.client.delete(f"/containers/{cid}"))
    assert status == 409 and "container is running" in message
    assert (await api.client.delete(f"/containers/{cid}?force=1")).status == 204
    assert await removed.json() == {"StatusCode": 137}
    assert (await api.client.delete(f"/containers/{cid}")).status == 404
    assert (await api.client.get(f"/containers/{cid}/json")).status == 404


@with_api
async def test_rename(api: Api) -> None:
    cid = await api.create("before")
    await api.create("taken")
    assert (await api.client.post(f"/containers/{cid}/rename?name=after")).status == 204
    assert api.containers.get("after").id == cid
    resp = await api.client.post(f"/containers/{cid}/rename?name=taken")
    assert (await _error(resp))[0] == 409
