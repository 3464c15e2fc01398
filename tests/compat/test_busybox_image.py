"""The bootstrapped ``busybox`` has the official image's users and groups, so a Dockerfile
that adds its own uid-1000 user sees that user's name, as it would on docker."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compat.daemon import Daemon
from tests.trees import write_tree

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
GROUPS = ("root:x:0: daemon:x:1: bin:x:2: sys:x:3: adm:x:4: tty:x:5: disk:x:6: lp:x:7: "
          "mail:x:8: kmem:x:9: wheel:x:10:root cdrom:x:11: dialout:x:18: floppy:x:19: "
          "video:x:28: audio:x:29: tape:x:32: www-data:x:33: operator:x:37: utmp:x:43: "
          "plugdev:x:46: staff:x:50: lock:x:54: netdev:x:82: users:x:100: "
          "nogroup:x:65534:").split()


def test_passwd_and_group_are_the_official_images(daemon: Daemon) -> None:
    out = daemon.docker("run", "--rm", "busybox", "cat", "/etc/passwd").stdout
    assert out == PASSWD
    out = daemon.docker("run", "--rm", "busybox", "cat", "/etc/group").stdout
    assert out.split() == GROUPS
    out = daemon.docker("run", "--rm", "-u", "1000", "busybox", "id").stdout
    assert out == "uid=1000 gid=0(root)\n"


def test_a_dockerfiles_own_uid_1000_user(daemon: Daemon, tags: list[str], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")
    write_tree(tmp_path, {"Dockerfile": (
        "FROM busybox\n"
        "RUN echo 'app:x:1000:1000:app:/home/app:/bin/sh' >> /etc/passwd && "
        "echo 'app:x:1000:' >> /etc/group && mkdir -p /home/app && chown app:app /home/app\n"
        "USER app\nWORKDIR /home/app\nRUN touch mine\n")})
    tags.append("ownuser:1")
    daemon.docker("build", "-t", "ownuser:1", str(tmp_path))
    out = daemon.docker("run", "--rm", "ownuser:1", "sh", "-c",
                        "id -un; id -gn; id -u; stat -c %U mine").stdout
    assert out.split() == ["app", "app", "1000", "app"]
