"""berthd's responses match the reference spec (Engine API v1.45): every document a client
reads is validated against the schema the spec gives for it.

Swagger 2.0 cannot say "or null", and docker sends ``null`` for empty lists and maps
throughout (``"Binds": null``), so each typed node also accepts null; everything else (a
field's type, the shape of nested objects and arrays, the enums) is checked as written.
"""

from __future__ import annotations

import json
import time
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.compat.daemon import Daemon, raw_request

SPEC = Path(__file__).resolve().parents[3] / "shared" / "reference" / \
    "docker-engine-api-v1.45.yaml"


def _nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable(v) for k, v in node.items() if k != "example"}
    if "$ref" in out:
        return {"anyOf": [{"$ref": out["$ref"]}, {"type": "null"}]}
    if isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


@cache
def _spec() -> dict[str, Any]:
    assert SPEC.exists(), f"the reference spec is not at {SPEC} (shared/ beside the clone)"
    doc: dict[str, Any] = yaml.safe_load(SPEC.read_text())
    return doc


def check(document: Any, path: str, method: str = "get", status: int = 200) -> None:
    spec = _spec()
    schema = spec["paths"][path][method]["responses"][status]["schema"]
    root = {"definitions": _nullable(spec["definitions"]), **_nullable(schema)}
    jsonschema.Draft4Validator(root).validate(document)


def _get(daemon: Daemon, path: str) -> Any:
    status, _, body = raw_request(daemon, "GET", path)
    assert status == 200, body
    return json.loads(body)


@pytest.fixture
def containers(daemon: Daemon):
    running = daemon.docker("run", "-d", "--name", "shape-run", "-l", "k=v", "-m", "64m",
                            "--health-cmd", "true", "--health-interval", "1s", "busybox",
                            "sleep", "60").stdout.strip()
    daemon.docker("run", "--name", "shape-exited", "busybox", "true")
    exited = daemon.docker("inspect", "-f", "{{.Id}}", "shape-exited").stdout.strip()
    try:
        yield running, exited
    finally:
        daemon.docker("rm", "-f", running, exited, check=False)


def test_container_documents(daemon: Daemon, containers: tuple[str, str]) -> None:
    for cid in containers:
        check(_get(daemon, f"/v1.45/containers/{cid}/json"), "/containers/{id}/json")
    check(_get(daemon, "/v1.45/containers/json?all=1"), "/containers/json")
    check(_get(daemon, f"/v1.45/containers/{containers[0]}/top"), "/containers/{id}/top")


def test_create_and_wait_documents(daemon: Daemon) -> None:
    status, _, body = raw_request(daemon, "POST", "/v1.45/containers/create?name=shape-wait",
                                  {"Image": "busybox", "Cmd": ["sh", "-c", "exit 3"]})
    assert status == 201, body
    created = json.loads(body)
    check(created, "/containers/create", "post", 201)
    try:
        status, _, body = raw_request(daemon, "POST", f"/v1.45/containers/{created['Id']}/start")
        assert status == 204, body
        status, _, body = raw_request(daemon, "POST", f"/v1.45/containers/{created['Id']}/wait")
        assert status == 200, body
        waited = json.loads(body)
        check(waited, "/containers/{id}/wait", "post")
        assert waited["StatusCode"] == 3
    finally:
        daemon.docker("rm", "-f", created["Id"], check=False)


def test_exec_document(daemon: Daemon, containers: tuple[str, str]) -> None:
    status, _, body = raw_request(daemon, "POST", f"/v1.45/containers/{containers[0]}/exec",
                          {"Cmd": ["true"]})
    assert status == 201
    check(_get(daemon, f"/v1.45/exec/{json.loads(body)['Id']}/json"), "/exec/{id}/json")


def test_image_documents(daemon: Daemon) -> None:
    check(_get(daemon, "/v1.45/images/json?all=1"), "/images/json")
    check(_get(daemon, "/v1.45/images/busybox/json"), "/images/{name}/json")
    check(_get(daemon, "/v1.45/images/busybox/history"), "/images/{name}/history")


def test_system_documents(daemon: Daemon, containers: tuple[str, str]) -> None:
    check(_get(daemon, "/v1.45/info"), "/info")
    check(_get(daemon, "/v1.45/version"), "/version")
    check(_get(daemon, "/v1.45/system/df"), "/system/df")


def test_event_documents(daemon: Daemon, containers: tuple[str, str]) -> None:
    status, _, body = raw_request(daemon, "GET", f"/v1.45/events?since=0&until={time.time():.3f}")
    assert status == 200
    events = [json.loads(line) for line in body.splitlines() if line.strip()]
    assert events
    for event in events:
        check(event, "/events")


def test_docker_cli_system_df_and_info(daemon: Daemon, containers: tuple[str, str]) -> None:
    df = daemon.docker("system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}}")
    rows = {line.rsplit(" ", 2)[0]: line.split()[-2:] for line in df.stdout.splitlines()}
    assert int(rows["Images"][0]) >= 1 and int(rows["Containers"][0]) >= 2
    assert int(rows["Containers"][1]) >= 1  # the running one
    verbose = daemon.docker("system", "df", "-v").stdout
    assert "shape-run" in verbose and "busybox" in verbose
    info = daemon.docker("info", "--format", "{{json .DriverStatus}}").stdout
    assert "Backing Filesystem" in info and '"unknown"' not in info


def test_sizes_with_ps_s_and_inspect_size(daemon: Daemon) -> None:
    cid = daemon.docker("run", "-d", "busybox", "sh", "-c",
                        "head -c 300000 /dev/zero > /blob; sleep 60").stdout.strip()
    try:
        for _ in range(50):
            doc = json.loads(daemon.docker("inspect", "--size", cid).stdout)[0]
            if doc["SizeRw"] >= 300000:
                break
            time.sleep(0.1)
        image = json.loads(daemon.docker("image", "inspect", "busybox").stdout)[0]["Size"]
        assert 300000 <= doc["SizeRw"] < 400000 and doc["SizeRootFs"] == doc["SizeRw"] + image
        check(doc, "/containers/{id}/json")
        shown = daemon.docker("ps", "-s", "--filter", f"id={cid}", "--format",
                              "{{.Size}}").stdout
        assert shown.startswith("300kB") or shown.startswith("301kB"), shown
    finally:
        daemon.docker("rm", "-f", cid)
