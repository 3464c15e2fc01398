"""ps/images through berth.cli.template (skipped until that module is present)."""

from __future__ import annotations

import json

import pytest
from fake_daemon import CID, IMAGE_ID

pytest.importorskip("berth.cli.template")

CONTAINER = {"Id": CID, "Names": ["/web"], "Image": "busybox", "ImageID": IMAGE_ID,
             "Command": "sleep 100", "Created": 0, "State": "running",
             "Status": "Up 5 seconds", "Labels": {"tier": "db"}}
IMAGE = {"Id": IMAGE_ID, "RepoTags": ["busybox:latest"], "Created": 0, "Size": 1984162}


def test_ps_default_table(berth, daemon):
    daemon.state.containers = [CONTAINER]
    code, out, _ = berth("ps")
    header, row = out.splitlines()
    assert code == 0
    assert header.split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS",
                              "PORTS", "NAMES"]
    assert row.startswith(CID[:12] + "   busybox   \"sleep 100\"   ")
    assert row.rstrip().endswith("Up 5 seconds             web")


def test_ps_quiet_and_format(berth, daemon):
    daemon.state.containers = [CONTAINER]
    assert berth("ps", "-q")[1] == CID[:12] + "\n"
    assert berth("ps", "-q", "--no-trunc")[1] == CID + "\n"
    assert berth("ps", "--format", "{{.Names}} {{.State}}")[1] == "web running\n"
    assert daemon.state.find("GET", "/containers/json").query.get("all") is None


def test_ps_json_keys(berth, daemon):
    daemon.state.containers = [CONTAINER]
    doc = json.loads(berth("ps", "--format", "json")[1])
    assert {"ID", "Image", "Command", "CreatedAt", "RunningFor", "Ports", "State", "Status",
            "Size", "Names", "Labels", "Mounts", "Networks"} <= set(doc)


def test_images_table_and_json(berth, daemon):
    daemon.state.images = [IMAGE]
    out = berth("images")[1]
    assert out.splitlines()[1].split()[:3] == ["busybox", "latest", "abababababab"]
    assert out.splitlines()[1].endswith("1.98MB")
    doc = json.loads(berth("images", "--format", "{{json .}}")[1])
    assert sorted(doc) == ["Containers", "CreatedAt", "CreatedSince", "Digest", "ID",
                           "Repository", "SharedSize", "Size", "Tag", "UniqueSize",
                           "VirtualSize"]


def test_bad_template_exits_1(berth, daemon):
    code, _, err = berth("ps", "--format", "{{.ID")
    assert code == 1 and err.startswith("template parsing error:")
