"""Image routes over the fake image backend: list, inspect, tag and rmi."""

from __future__ import annotations

from aiohttp import ClientResponse
from tests.unit.api.server.harness import Api, with_api


async def _error(resp: ClientResponse) -> tuple[int, str]:
    return resp.status, (await resp.json())["message"]


@with_api
async def test_list_and_inspect(api: Api) -> None:
    image = await api.images.get("busybox")
    (summary,) = await (await api.client.get("/images/json")).json()
    assert (summary["Id"], summary["RepoTags"], summary["Labels"]) == (
        image.id, ["busybox:latest"], {"from": "image"})
    resp = await api.client.get("/images/busybox/json")
    assert resp.status == 200
    doc = await resp.json()
    assert (doc["Id"], doc["Config"]["Cmd"], doc["RootFS"]) == (
        image.id, ["sh"], {"Type": "layers", "Layers": []})
    assert await _error(await api.client.get("/images/nosuch/json")) == (
        404, "No such image: nosuch:latest")


@with_api
async def test_tag_then_remove_refuses_an_image_in_use(api: Api) -> None:
    resp = await api.client.post("/images/busybox/tag", params={"repo": "mine", "tag": "1"})
    assert resp.status == 201
    assert (await (await api.client.get("/images/mine:1/json")).json())["RepoTags"] == [
        "busybox:latest", "mine:1"]
    image_id = (await api.images.get("busybox")).id
    await api.create()
    resp = await api.client.delete("/images/mine:1")  # busybox remains: only an untag
    assert (resp.status, await resp.json()) == (200, [{"Untagged": "mine:1"}])
    status, message = await _error(await api.client.delete("/images/busybox"))
    assert status == 409 and "is using its referenced image" in message
    resp = await api.client.delete("/images/busybox?force=1")
    assert resp.status == 200
    assert await resp.json() == [{"Untagged": "busybox:latest"}, {"Deleted": image_id}]
    assert await api.images.list() == []
