"""Exec routes over the fake backends: create's refusals, the inspect document, a
detached start and the errors a client gets before any hijack."""

from __future__ import annotations

from aiohttp import ClientResponse
from tests.unit.api.server.harness import Api, with_api


async def _error(resp: ClientResponse) -> tuple[int, str]:
    return resp.status, (await resp.json())["message"]


async def _running(api: Api) -> str:
    cid = await api.create(Cmd=["sleep", "300"])
    assert (await api.client.post(f"/containers/{cid}/start")).status == 204
    return cid


@with_api
async def test_create_then_inspect(api: Api) -> None:
    cid = await _running(api)
    resp = await api.client.post(f"/v1.45/containers/{cid}/exec", json={
        "Cmd": ["sh", "-c", "exit 5"], "AttachStdout": True, "User": "nobody",
        "DetachKeys": "ctrl-a"})
    assert resp.status == 201
    exec_id = (await resp.json())["Id"]
    resp = await api.client.get(f"/exec/{exec_id}/json")
    assert resp.status == 200
    assert await resp.json() == {
        "ID": exec_id, "ContainerID": cid, "Running": False, "ExitCode": None, "Pid": 0,
        "CanRemove": False, "DetachKeys": "ctrl-a", "OpenStdin": False, "OpenStdout": True,
        "OpenStderr": False,
        "ProcessConfig": {"tty": False, "entrypoint": "sh", "arguments": ["-c", "exit 5"],
                          "privileged": False, "user": "nobody"},
    }


@with_api
async def test_create_refusals(api: Api) -> None:
    cid = await _running(api)
    post = api.client.post
    assert await _error(await post(f"/containers/{cid}/exec", json={"Cmd": []})) == (
        400, "No exec command specified")
    assert await _error(await post(f"/containers/{cid}/exec", json={
        "Cmd": ["true"], "Privileged": True})) == (400, "berth does not support Privileged yet")
    assert await _error(await post(f"/containers/{cid}/exec", json={
        "Cmd": ["true"], "DetachKeys": "ctrl-nope"})) == (
        400, "Invalid escape keys (ctrl-nope) provided")
    status, message = await _error(await post(f"/containers/{cid}/exec", data=b"[",
                                              headers={"Content-Type": "application/json"}))
    assert status == 400 and message.startswith("invalid JSON")
    assert (await _error(await post("/containers/nosuch/exec", json={"Cmd": ["true"]}))) == (
        404, "No such container: nosuch")
    stopped = await api.create()
    status, message = await _error(await post(f"/containers/{stopped}/exec",
                                              json={"Cmd": ["true"]}))
    assert status == 409 and message == f"Container {stopped} is not running"


@with_api
async def test_detached_start_runs_once(api: Api) -> None:
    cid = await _running(api)
    resp = await api.client.post(f"/containers/{cid}/exec", json={"Cmd": ["sh", "-c", "exit 5"]})
    exec_id = (await resp.json())["Id"]
    resp = await api.client.post(f"/exec/{exec_id}/start", json={"Detach": True})
    assert resp.status == 200
    assert await api.execs.exited(exec_id) == 5
    doc = await (await api.client.get(f"/exec/{exec_id}/json")).json()
    assert (doc["Running"], doc["ExitCode"]) == (False, 5)
    status, message = await _error(await api.client.post(f"/exec/{exec_id}/start",
                                                         json={"Detach": True}))
    assert status == 409 and message == f"Error: Exec command {exec_id} has already run"


@with_api
async def test_unknown_execs_are_404(api: Api) -> None:
    for resp in (await api.client.get("/exec/nosuch/json"),
                 await api.client.post("/exec/nosuch/start", json={"Detach": True})):
        assert await _error(resp) == (404, "No such exec instance: nosuch")
    cid = await _running(api)
    exec_id = (await (await api.client.post(f"/containers/{cid}/exec",
                                            json={"Cmd": ["true"]})).json())["Id"]
    await api.client.post(f"/containers/{cid}/kill")
    resp = await api.client.get(f"/exec/{exec_id}/json")  # gone with its container's run
    assert resp.status == 404
