from __future__ import annotations

import pytest

from berth.cli.commands import images, ps
from berth.cli.output import ellipsis, human_size, pick_format, truncate_id
from berth.client.models import ContainerSummary, ImageSummary, MountPoint, Port
from berth.formats.units import human_duration

ID = "4f1c2d3e5a6b" + "0" * 52


@pytest.mark.parametrize(("size", "text"), [
    (0, "0B"), (999, "999B"), (1984162, "1.98MB"), (4_260_000, "4.26MB"),
    (123_456, "123kB"), (999_999, "1e+03kB"), (2_500_000_000, "2.5GB"),
])
def test_human_size(size, text):
    assert human_size(size) == text


@pytest.mark.parametrize(("seconds", "text"), [
    (0.5, "Less than a second"), (1, "1 second"), (59, "59 seconds"),
    (60, "About a minute"), (150, "2 minutes"), (3600, "About an hour"),
    (3 * 3600, "3 hours"), (3 * 86400, "3 days"), (20 * 86400, "2 weeks"),
    (90 * 86400, "3 months"), (800 * 86400, "2 years"),
])
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text


def test_truncation():
    assert truncate_id("sha256:" + "ab" * 32) == "ab" * 6
    assert ellipsis("sh -c 'while true; do sleep 1; done'", 20) == "sh -c 'while true; …"
    assert ellipsis("short", 20) == "short"


def test_pick_format():
    assert pick_format("", True, "table X", "{{.ID}}") == "{{.ID}}"
    assert pick_format("table", False, "table X", "") == "table X"
    assert pick_format("json", False, "table X", "") == "{{json .}}"


def summary(**kw):
    base = dict(id=ID, names=("/web", "/other/link"), image="busybox", image_id="sha256:x",
                command="sh -c 'while true; do sleep 1; done'", created=0, state="running",
                status="Up 5 seconds")
    base.update(kw)
    return ContainerSummary(**base)


def test_ps_row_matches_docker_columns():
    row = ps.row(summary(labels={"b": "2", "a": "1"},
                         ports=(Port(80, "tcp", 8080, "0.0.0.0"), Port(53, "udp")),
                         mounts=(MountPoint("vol", "/x", "/data"),)), trunc=True)
    assert row["ID"] == "4f1c2d3e5a6b"
    assert row["Command"] == '"sh -c \'while true; …"'
    assert row["Names"] == "web"
    assert row["Labels"] == "a=1,b=2" and row["Label"]("b") == "2"
    assert row["Ports"] == "53/udp, 0.0.0.0:8080->80/tcp"
    assert row["Size"] == "N/A" and row["Status"] == "Up 5 seconds"
    assert row["RunningFor"].endswith(" ago")


def test_ps_row_no_trunc_and_size():
    row = ps.row(summary(size_rw=0, size_root_fs=1984162), trunc=False)
    assert row["ID"] == ID and row["Names"] == "web,other/link"
    assert row["Command"] == '"sh -c \'while true; do sleep 1; done\'"'
    assert row["Size"] == "0B (virtual 1.98MB)"


def test_image_rows():
    image = ImageSummary(id="sha256:" + "ab" * 32, repo_tags=("busybox:latest", "bb:1"),
                         repo_digests=(), created=0, size=1984162)
    rows = images.rows_of(image, trunc=True)
    assert [(r["Repository"], r["Tag"]) for r in rows] == [("busybox", "latest"), ("bb", "1")]
    assert rows[0]["ID"] == "abababababab" and rows[0]["Size"] == "1.98MB"
    assert rows[0]["VirtualSize"] == "1.984MB" and rows[0]["Containers"] == "N/A"
    assert set(rows[0]) == {"Containers", "CreatedAt", "CreatedSince", "Digest", "ID",
                            "Repository", "SharedSize", "Size", "Tag", "UniqueSize",
                            "VirtualSize"}
    dangling = ImageSummary(id="sha256:cd", repo_tags=(), repo_digests=(), created=0, size=1)
    assert images.rows_of(dangling, True)[0]["Repository"] == "<none>"
