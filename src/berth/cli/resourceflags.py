"""``run``/``create``'s resource flags and ``update``'s, parsed as docker 28's CLI parses
them (``opts.MemBytes``, ``opts.MemSwapBytes``, ``opts.NanoCPUs``, ``ValidateWeightDevice``,
``ValidateThrottle*Device``, go-units' ``ParseUlimit``, ``validateDeviceCgroupRule``).

A flag's own validator fails while parsing, as ``invalid argument "x" for "--ulimit"
flag: invalid ulimit type: x``; ``--device`` and ``--memory-swappiness`` are checked in
``resource_config``, as docker checks them once it knows the daemon is Linux.
"""

from __future__ import annotations

from berth.cli.flags import Flag, UsageError
from berth.client.resources import ContainerResources

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.cli.flags import Options

_BINARY = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_ULIMITS = frozenset({"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
                      "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"})
_INT64 = (-(1 << 63), (1 << 63) - 1)


def ram_in_bytes(text: str) -> int:
    """go-units ``RAMInBytes``: "64m" is 64 MiB; a plain number is bytes.

    The text must match ``^(\\d+(\\.\\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$``; it is taken
    apart from the right with str methods (``re`` costs milliseconds at start-up)."""
    rest = text[:-1] if text.endswith("\n") else text  # "$" also matches before a final \n
    if rest[-1:] in ("b", "B"):
        rest = rest[:-1]
    if rest[-1:] in ("i", "I"):
        rest = rest[:-1]
    unit = ""
    if rest[-1:] and rest[-1] in "kKmMgGtTpP":
        unit, rest = rest[-1].lower(), rest[:-1]
    if rest.endswith(" "):
        rest = rest[:-1]
    if not all(part.isdecimal() for part in rest.split(".")):
        raise ValueError(f"invalid size: '{text}'")
    return int(float(rest) * _BINARY.get(unit, 1))


def mem_swap_bytes(text: str) -> int:
    """docker's ``MemSwapBytes``: "-1" is unlimited swap, anything else a size."""
    return -1 if text == "-1" else ram_in_bytes(text)


def nano_cpus(text: str) -> int:
    """docker's ``NanoCPUs``: a rational number of CPUs as billionths ("0.5", "3/2")."""
    from fractions import Fraction  # only --cpus needs it; it costs milliseconds to import

    try:
        cpus = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"failed to parse {text} as a rational number") from None
    nanos = cpus * 1_000_000_000
    if nanos.denominator != 1:
        raise ValueError("value is too precise")
    return int(nanos)


def uint16(text: str) -> int:
    """pflag's Uint16Var (``--blkio-weight``)."""
    if not text.isdecimal():
        raise ValueError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
    if int(text) > 0xFFFF:
        raise ValueError(f'strconv.ParseUint: parsing "{text}": value out of range')
    return int(text)


def _device_and_value(text: str) -> tuple[str, str]:
    path, colon, value = text.partition(":")
    if not colon or not path:
        raise ValueError(f"bad format: {text}")
    if not path.startswith("/dev/"):
        raise ValueError(f"bad format for device path: {text}")
    return path, value


def weight_device(text: str) -> tuple[str, int]:
    """docker's ``ValidateWeightDevice``: ``/dev/sda:200`` (10 to 1000, or 0)."""
    path, value = _device_and_value(text)
    if not value.isdecimal() or int(value) > 0xFFFF or 0 < int(value) < 10 or \
            int(value) > 1000:
        raise ValueError(f"invalid weight for device: {text}")
    return path, int(value)


def bps_device(text: str) -> tuple[str, int]:
    """docker's ``ValidateThrottleBpsDevice``: ``/dev/sda:1mb``."""
    path, value = _device_and_value(text)
    try:
        rate = ram_in_bytes(value)
    except ValueError:
        rate = -1
    if rate < 0:
        raise ValueError(f"invalid rate for device: {text}. The correct format is "
                         "<device-path>:<number>[<unit>]. Number must be a positive integer. "
                         "Unit is optional and can be kb, mb, or gb")
    return path, rate


def iops_device(text: str) -> tuple[str, int]:
    """docker's ``ValidateThrottleIOpsDevice``: ``/dev/sda:1000``."""
    path, value = _device_and_value(text)
    if not value.isdecimal() or int(value) >= 1 << 64:
        raise ValueError(f"invalid rate for device: {text}. The correct format is "
                         "<device-path>:<number>. Number must be a positive integer")
    return path, int(value)


def _go_int64(text: str) -> int:
    """strconv.ParseInt(text, 10, 64) with its errors."""
    body = text[1:] if text[:1] in "+-" else text
    if not body.isdecimal():
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    value = int(text)
    if not _INT64[0] <= value <= _INT64[1]:
        raise ValueError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


def ulimit(text: str) -> tuple[str, int, int]:
    """go-units' ``ParseUlimit``: ``nofile=1024[:2048]``; a lone value is both limits."""
    name, eq, values = text.partition("=")
    if not eq:
        raise ValueError(f"invalid ulimit argument: {text}")
    if name not in _ULIMITS:
        raise ValueError(f"invalid ulimit type: {name}")
    parts = values.split(":")
    if len(parts) > 2:
        raise ValueError(f"too many limit value arguments - {values}, can only have up to "
                         "two, `soft[:hard]`")
    hard = _go_int64(parts[1]) if len(parts) == 2 else None
    soft = _go_int64(parts[0])
    hard = soft if hard is None else hard
    if hard != -1:
        if soft == -1:
            raise ValueError("ulimit soft limit must be less than or equal to hard limit: "
                             f"soft: -1 (unlimited), hard: {hard}")
        if soft > hard:
            raise ValueError(f"ulimit soft limit must be less than or equal to hard limit: "
                             f"{soft} > {hard}")
    return name, soft, hard


def device_cgroup_rule(text: str) -> str:
    """docker's ``validateDeviceCgroupRule``: ``type major:minor mode``."""
    kind, _, rest = text.partition(" ")
    numbers, _, mode = rest.partition(" ")
    major, colon, minor = numbers.partition(":")
    good = (kind in ("a", "b", "c") and colon and 1 <= len(mode) <= 3
            and all(c in "rwm" for c in mode)
            and all(n == "*" or (n.isascii() and n.isdecimal()) for n in (major, minor)))
    if not good:
        raise ValueError(f"invalid device cgroup format '{text}'")
    return text


def _device_mode(mode: str) -> bool:
    """docker's ``validDeviceMode``: some of r, w, m, each once."""
    return bool(mode) and len(set(mode)) == len(mode) and all(c in "rwm" for c in mode)


def parse_device(text: str) -> tuple[str, str, str]:
    """docker's ``validateDevice`` then ``parseLinuxDevice``: ``HOST[:CONTAINER][:MODE]``
    as (host path, container path, cgroup permissions); UsageError in docker's words."""
    split = text.split(":")
    if len(split) > 3 or split[0] == "":
        raise UsageError(f"bad format for path: {text}")
    if len(split) == 1:
        container = split[0]
    elif len(split) == 2:
        container = split[0] if _device_mode(split[1]) else split[1]
    else:
        container = split[1]
        if not _device_mode(split[2]):
            raise UsageError(f"bad mode specified: {split[2]}")
    if not container.startswith("/"):
        raise UsageError(f"{container} is not an absolute path")
    destination, permissions = "", "rwm"
    if len(split) == 3:
        permissions = split[2]
    if len(split) >= 2:
        if _device_mode(split[1]):
            permissions = split[1]
        else:
            destination = split[1]
    return split[0], destination or split[0], permissions


_SHARED: tuple[Flag, ...] = (
    Flag("blkio-weight", kind="value", default=0, convert=uint16, metavar="uint16",
         help="Block IO (relative weight), between 10 and 1000, or 0 to disable"),
    Flag("cpu-period", kind="int", default=0,
         help="Limit CPU CFS (Completely Fair Scheduler) period"),
    Flag("cpu-quota", kind="int", default=0,
         help="Limit CPU CFS (Completely Fair Scheduler) quota"),
    Flag("cpu-shares", "c", "int", 0, "CPU shares (relative weight)"),
    Flag("cpus", kind="value", default=0, convert=nano_cpus, metavar="decimal",
         help="Number of CPUs"),
    Flag("cpuset-cpus", kind="str", default="",
         help="CPUs in which to allow execution (0-3, 0,1)"),
    Flag("cpuset-mems", kind="str", default="",
         help="MEMs in which to allow execution (0-3, 0,1)"),
    Flag("memory", "m", "value", 0, "Memory limit", convert=ram_in_bytes, metavar="bytes"),
    Flag("memory-reservation", kind="value", default=0, convert=ram_in_bytes,
         metavar="bytes", help="Memory soft limit"),
    Flag("pids-limit", kind="int", help="Tune container pids limit (set -1 for unlimited)"),
)

RESOURCE_FLAGS: tuple[Flag, ...] = (
    *_SHARED,
    Flag("blkio-weight-device", kind="list", convert=weight_device,
         help="Block IO weight (relative device weight)"),
    Flag("device", kind="list", help="Add a host device to the container"),
    Flag("device-cgroup-rule", kind="list", convert=device_cgroup_rule,
         help="Add a rule to the cgroup allowed devices list"),
    Flag("device-read-bps", kind="list", convert=bps_device,
         help="Limit read rate (bytes per second) from a device"),
    Flag("device-read-iops", kind="list", convert=iops_device,
         help="Limit read rate (IO per second) from a device"),
    Flag("device-write-bps", kind="list", convert=bps_device,
         help="Limit write rate (bytes per second) to a device"),
    Flag("device-write-iops", kind="list", convert=iops_device,
         help="Limit write rate (IO per second) to a device"),
    Flag("memory-swap", kind="value", default=0, convert=mem_swap_bytes, metavar="bytes",
         help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap"),
    Flag("memory-swappiness", kind="int", default=-1,
         help="Tune container memory swappiness (0 to 100)"),
    Flag("oom-kill-disable", kind="bool", help="Disable OOM Killer"),
    Flag("oom-score-adj", kind="int", default=0,
         help="Tune host's OOM preferences (-1000 to 1000)"),
    Flag("shm-size", kind="value", default=0, convert=ram_in_bytes, metavar="bytes",
         help="Size of /dev/shm"),
    Flag("ulimit", kind="list", convert=ulimit, metavar="ulimit", help="Ulimit options"),
)

UPDATE_FLAGS: tuple[Flag, ...] = tuple(sorted((
    *_SHARED,
    Flag("cpu-rt-period", kind="int", default=0,
         help="Limit the CPU real-time period in microseconds"),
    Flag("cpu-rt-runtime", kind="int", default=0,
         help="Limit the CPU real-time runtime in microseconds"),
    Flag("memory-swap", kind="value", default=0, convert=mem_swap_bytes, metavar="bytes",
         help="Swap limit equal to memory plus swap: -1 to enable unlimited swap"),
    Flag("restart", kind="str", default="",
         help="Restart policy to apply when a container exits"),
), key=lambda f: f.long))


def _last_by_key(entries: list[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    """docker's device options keep one value per device path, the last given."""
    return tuple({path: value for path, value in entries}.items())


def resource_config(opts: Options) -> ContainerResources:
    """The limits the flags ask for (``pids_limit`` None when not given)."""
    if opts.memory_swappiness != -1 and not 0 <= opts.memory_swappiness <= 100:
        raise UsageError(f"invalid value: {opts.memory_swappiness}. Valid memory swappiness "
                         "range is 0-100")
    ulimits = {u[0]: u for u in opts.ulimit}  # one per name, the last; sorted as docker's
    return ContainerResources(
        memory=opts.memory, memory_swap=opts.memory_swap,
        memory_reservation=opts.memory_reservation,
        memory_swappiness=opts.memory_swappiness, oom_kill_disable=opts.oom_kill_disable,
        oom_score_adj=opts.oom_score_adj, nano_cpus=opts.cpus, cpu_shares=opts.cpu_shares,
        cpu_period=opts.cpu_period, cpu_quota=opts.cpu_quota, cpuset_cpus=opts.cpuset_cpus,
        cpuset_mems=opts.cpuset_mems, pids_limit=opts.pids_limit,
        blkio_weight=opts.blkio_weight,
        blkio_weight_device=_last_by_key(opts.blkio_weight_device),
        device_read_bps=_last_by_key(opts.device_read_bps),
        device_write_bps=_last_by_key(opts.device_write_bps),
        device_read_iops=_last_by_key(opts.device_read_iops),
        device_write_iops=_last_by_key(opts.device_write_iops),
        ulimits=tuple(ulimits[name] for name in sorted(ulimits)), shm_size=opts.shm_size,
        devices=tuple(parse_device(d) for d in opts.device),
        device_cgroup_rules=tuple(opts.device_cgroup_rule))
