"""What a build leaves in the image store, and the pull a build makes: a FROM of an image
that is not here pulls it with ``docker pull``'s progress in the build output (as the
classic builder shows it), ``images -a`` lists the intermediate images of every step, and
``image history`` has one row per instruction with its text and layer size."""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.daemon import Daemon, registry_server
from tests.trees import write_tree


@pytest.fixture(scope="module")
def registry() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="berth-reg-") as root, \
            registry_server(Path(root)) as address:
        yield address


def test_from_a_missing_image_pulls_it_with_progress(
        daemon: Daemon, registry: str, tags: list[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    token = secrets.token_hex(4)
    base = f"{registry}/base:{token}"
    write_tree(tmp_path / "base", {"Dockerfile": "FROM busybox\n"
                                                 "RUN head -c 300000 /dev/urandom > /rand\n"})
    tags.append(base)
    daemon.berth("build", "-q", "-t", base, str(tmp_path / "base"), timeout=120)
    daemon.berth("push", base, timeout=120)
    daemon.berth("rmi", base)  # its layer goes with it: the pull downloads it again

    ctx = write_tree(tmp_path / "app", {"Dockerfile": f"FROM {base}\nRUN wc -c < /rand > /n\n"})
    tags.append(f"pulled:{token}")
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")
    out = daemon.docker("build", "-t", tags[-1], str(ctx), timeout=120).stdout
    lines = out.splitlines()
    first = lines.index(f"Step 1/2 : FROM {base}")
    pulled = lines[first + 1:lines.index("Step 2/2 : RUN wc -c < /rand > /n")]
    assert pulled[0] == f"{token}: Pulling from base"
    layers = [line.split(":")[0] for line in pulled if line.endswith(": Pulling fs layer")]
    assert len(layers) == 2 and all(len(layer) == 12 for layer in layers)
    assert f"{layers[0]}: Already exists" in pulled  # busybox's
    assert f"{layers[1]}: Pull complete" in pulled
    assert pulled[-3].startswith("Digest: sha256:")
    assert pulled[-2] == f"Status: Downloaded newer image for {base}"
    assert pulled[-1].startswith(" ---> ")
    assert daemon.berth("run", "--rm", tags[-1], "cat", "/n").stdout.strip() == "300000"

    again = daemon.berth("build", "--pull", "-t", tags[-1], str(ctx), timeout=120).stdout
    assert f"{token}: Pulling from base\n" in again
    assert f"Status: Image is up to date for {base}\n" in again
    assert again.count(" ---> Using cache\n") == 1


DOCKERFILE = """\
FROM busybox
ENV MODE=test
RUN head -c 1048576 /dev/zero > /blob
COPY small.txt /small.txt
WORKDIR /srv
CMD ["cat", "/small.txt"]
"""


def test_images_all_and_history_show_each_step(daemon: Daemon, tags: list[str],
                                               tmp_path: Path) -> None:
    tag = f"steps:{secrets.token_hex(4)}"
    tags.append(tag)
    ctx = write_tree(tmp_path, {"Dockerfile": DOCKERFILE, "small.txt": "twelve bytes"})
    daemon.berth("build", "-t", tag, "--label", "via=test", str(ctx), timeout=120)
    assert daemon.berth("run", "--rm", tag).stdout == "twelve bytes"

    rows = [line.split("|") for line in daemon.berth(
        "image", "history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}",
        tag).stdout.splitlines()]
    busybox = daemon.berth("image", "history", "-q", "busybox").stdout.split()
    assert len(rows) == 6 + len(busybox)  # one row per instruction, and --label's
    mine = rows[:6]
    created_by = [r[1] for r in mine]
    assert created_by[0] == "/bin/sh -c #(nop)  LABEL via=test"
    assert created_by[1] == '/bin/sh -c #(nop)  CMD ["cat" "/small.txt"]'
    assert created_by[2] == "/bin/sh -c #(nop) WORKDIR /srv"
    assert created_by[3].startswith("/bin/sh -c #(nop) COPY file:")
    assert created_by[3].endswith(" in /small.txt ")
    assert created_by[4] == "/bin/sh -c head -c 1048576 /dev/zero > /blob"
    assert created_by[5] == "/bin/sh -c #(nop)  ENV MODE=test"
    # sizes as docker counts them: file bytes, directories nothing
    assert [r[2] for r in mine] == ["0B", "0B", "0B", "12B", "1.05MB", "0B"]

    # every step is an image: the row IDs are the chain of parents, shown by images -a only
    ids = [r[0] for r in mine]
    assert all(i.startswith("sha256:") for i in ids)
    parents = [json.loads(daemon.berth("image", "inspect", "--format", "{{json .Parent}}",
                                       i).stdout) for i in ids[:-1]]
    assert parents == ids[1:]
    every = daemon.berth("images", "-a", "-q", "--no-trunc").stdout.split()
    shown = daemon.berth("images", "-q", "--no-trunc").stdout.split()
    assert set(ids) <= set(every)
    assert ids[0] in shown and not set(ids[1:]) & set(shown)
    listing = daemon.berth("images", "-a").stdout.splitlines()
    for image_id in ids[1:]:
        row = next(r for r in listing if image_id.split(":")[1][:12] in r)
        assert row.split()[:2] == ["<none>", "<none>"]
