#!/usr/bin/env python3
"""Container start-up benchmark: ``berth run --rm busybox true`` side by side with docker,
crun and runc, in one run, on the same busybox rootfs.

Everything runs privately under ``/tmp/bb-<tag>`` (short on purpose: berthd's shim
sockets live at ``<exec-root>/containers/<64 hex>/attach.sock``, and a unix socket path has
at most 107 bytes)::

    /tmp/bb-<tag>/
        bd/, be/, berth.sock     berthd's data and exec roots; --cgroup-parent berth-bench-<tag>
        dd/, de/, docker.sock    dockerd's (+ the containerd it starts itself);
                                 --cgroup-parent berth-bench-<tag>-docker
        layer.tar                berth's busybox layer blob, ``docker import``-ed as busybox
        rootfs/                  the same layer unpacked, for crun and runc
        oci-crun/, oci-runc/     OCI bundles (``crun spec``) whose root is ../rootfs
        cli-config/              an empty DOCKER_CONFIG for the docker CLI
        pycache/                 PYTHONPYCACHEPREFIX for berth's processes (see below)

Bytecode: this project's machines export PYTHONDONTWRITEBYTECODE=1, so without care every
``berth`` invocation compiles its modules from source. An installed berth has its .pyc
files, so berthd and the headline ``berth`` case run with a bytecode cache redirected to
``pycache/`` (nothing is written under src/); the case ``berth_nopyc`` shows the
compile-every-time cost of the environment as it is.

A process whose command line names ``/tmp/bb-<tag>/b`` (berth) or ``/tmp/bb-<tag>/d``
(docker) was started by this run, so cleanup may stop it.

Rounds are interleaved round-robin (the starting case rotates each round) so that machine
noise lands on every case alike. Cleanup runs in ``finally`` (and on Ctrl-C / SIGTERM): it
stops only the processes this script started, found by pid files or by our private path in
their command line, unmounts whatever is left under the work dir, removes the cgroups named
``berth-bench-<tag>*`` and then the work dir. Not part of the test suite: see README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from breakdown import print_profile, profile
from daemons import VENV_BIN, Berthd, Dockerd, cli_version, start_daemons
from harness import Stoppers, run_privately
from host import BenchError, log, run_checked
from measure import Case, print_table, ratio, round_robin, stats

# --- crun and runc --------------------------------------------------------------------

def make_bundle(bundle: Path, rootfs: Path, cgroups_path: str) -> None:
    """An OCI bundle from ``crun spec`` (root, not rootless) running ``true``."""
    bundle.mkdir()
    run_checked(["crun", "spec", "-b", str(bundle)])
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["args"] = ["true"]
    config["process"]["terminal"] = False
    config["root"] = {"path": str(rootfs), "readonly": True}
    config["linux"]["cgroupsPath"] = cgroups_path
    (bundle / "config.json").write_text(json.dumps(config, indent=2))


def crun_argv(bundle: Path, state: Path) -> tuple[Callable[[int], list[str]], str]:
    """crun 1.8 refuses a hybrid cgroup layout; try ``--cgroup-manager=disabled`` first,
    else hide the cgroup2 mount in a private mount namespace (unshare's cost included)."""
    def disabled(i: int) -> list[str]:
        return ["crun", "--cgroup-manager=disabled", "--root", str(state), "run",
                "--bundle", str(bundle), f"bench-crun-{i}"]

    def unshared(i: int) -> list[str]:
        inner = (f"umount -l /sys/fs/cgroup/unified 2>/dev/null; exec crun --root {state} "
                 f"run --bundle {bundle} bench-crun-{i}")
        return ["unshare", "-m", "sh", "-c", inner]

    for argv, how in ((disabled, "crun --cgroup-manager=disabled"),
                      (unshared, "unshare -m + umount cgroup2 + crun (unshare/sh/umount "
                                 "cost included)")):
        try:
            run_checked(argv(0), timeout=60)
            return argv, how
        except BenchError as err:
            log(f"crun probe ({how}) failed: {err}")
    raise BenchError("crun cannot run the bundle either way")


# --- main -----------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=30, help="measured rounds (default 30)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up rounds (default 3)")
    p.add_argument("--json", type=Path, help="also write the results to this file")
    p.add_argument("--profile", action="store_true",
                   help="break berth's time down (CLI start-up, per-API-call) instead")
    p.add_argument("--skip-docker", action="store_true", help="no dockerd (faster)")
    args = p.parse_args(argv)
    if args.runs < 2 or args.warmup < 0:
        p.error("--runs must be at least 2 and --warmup at least 0")
    return args


def setup(work: Path, tag: str, args: argparse.Namespace,
          stoppers: list[Callable[[], None]]) -> tuple[Berthd, Dockerd | None, Path]:
    berthd, dockerd, tar = start_daemons(work, tag, stoppers, docker=not args.skip_docker,
                                         networking=True)
    assert tar is not None
    return berthd, dockerd, tar


def benchmark(work: Path, tag: str, args: argparse.Namespace, berthd: Berthd,
              dockerd: Dockerd | None, tar: Path) -> dict[str, Any]:
    notes: list[str] = []
    rootfs = work / "rootfs"
    rootfs.mkdir()
    run_checked(["tar", "-xf", str(tar), "-C", str(rootfs)])
    cases = [Case("berth", "berth run --rm busybox true",
                  lambda i: [*berthd.cli, "run", "--rm", "busybox", "true"], berthd.env),
             Case("berth_none", "berth run --rm --network none busybox true",
                  lambda i: [*berthd.cli, "run", "--rm", "--network", "none", "busybox",
                             "true"], berthd.env),
             Case("berth_nopyc", "berth run --rm busybox true, no bytecode cache",
                  lambda i: [*berthd.cli, "run", "--rm", "busybox", "true"],
                  berthd.env_nopyc)]
    if dockerd is not None:
        dcli, denv = dockerd.cli, dockerd.env
        cases += [Case("docker", "docker run --rm busybox true (default bridge, iptables)",
                       lambda i: [*dcli, "run", "--rm", "busybox", "true"], denv),
                  Case("docker_none", "docker run --rm --network none busybox true",
                       lambda i: [*dcli, "run", "--rm", "--network", "none", "busybox",
                                  "true"], denv)]
        notes.append(f"docker default network resolves to: {dockerd.default_network()}")
    make_bundle(work / "oci-crun", rootfs, f"/berth-bench-{tag}/crun")
    crun, how = crun_argv(work / "oci-crun", work / "crun-state")
    notes.append(f"crun runs as: {how}")
    cases.append(Case("crun", "crun run (OCI bundle, read-only rootfs)", crun))
    make_bundle(work / "oci-runc", rootfs, f"/berth-bench-{tag}/runc")
    runc_state, runc_bundle = str(work / "runc-state"), str(work / "oci-runc")
    cases.append(Case("runc", "runc run (OCI bundle, read-only rootfs)",
                      lambda i: ["runc", "--root", runc_state, "run", "--bundle", runc_bundle,
                                 f"bench-runc-{i}"]))
    log(f"cases: {', '.join(c.name for c in cases)}; {args.warmup} warm-up + {args.runs} "
        f"rounds, round-robin")
    round_robin(cases, args.runs, args.warmup)
    rows = {c.name: stats(c.samples) for c in cases}
    labels = {c.name: c.label for c in cases}
    b = rows["berth"]
    ratios = {f"berth/{k}": ratio(b, rows[k]) for k in rows if not k.startswith("berth")}
    print()
    print_table(rows, labels)
    print()
    for key, value in ratios.items():
        print(f"{key:<20} {value:.2f}x (median)")
    if "docker" in rows:
        verdict = "PASS" if ratios["berth/docker"] is not None and \
            ratios["berth/docker"] <= 0.5 else "FAIL"
        print(f"target berth median <= 0.5x docker's: {verdict}")
    for note in notes:
        print(f"note: {note}")
    return {"cases": {c.name: {"label": c.label, "argv": c.argv(0), **rows[c.name],
                               "samples_ms": [round(s, 3) for s in c.samples]}
                      for c in cases},
            "ratios_of_medians": ratios, "notes": notes}


def versions(dockerd: Dockerd | None) -> dict[str, str]:
    found = {"berth": run_checked([str(VENV_BIN / "berth"), "--version"]).strip(),
             "python": platform.python_version(),
             "crun": run_checked(["crun", "--version"]).splitlines()[0],
             "runc": run_checked(["runc", "--version"]).splitlines()[0],
             "kernel": platform.release(), "cpus": str(os.cpu_count())}
    if dockerd is not None:
        doc = dockerd.version()
        found["dockerd"] = f"{doc['Version']} (API {doc['ApiVersion']})"
        cli = ".".join(map(str, cli_version(dockerd.cli_path)))
        found["docker_cli"] = f"{dockerd.cli_path} {cli}"
    return found


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def body(work: Path, tag: str, stoppers: Stoppers) -> dict[str, Any]:
        result: dict[str, Any] = {"runs": args.runs, "warmup": args.warmup,
                                  "mode": "profile" if args.profile else "compare"}
        berthd, dockerd, tar = setup(work, tag, args, stoppers)
        result["versions"] = versions(dockerd)
        if args.profile:
            result["profile"] = profile(berthd, dockerd, args.runs, args.warmup,
                                        VENV_BIN / "python")
            print_profile(result["profile"])
        else:
            result.update(benchmark(work, tag, args, berthd, dockerd, tar))
        return result

    return run_privately("run_bench", args.json, body)


if __name__ == "__main__":
    sys.exit(main())
