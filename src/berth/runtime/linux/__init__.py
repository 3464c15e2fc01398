"""The low-level Linux runtime (Berth's runc): usable in-process as ``NativeRuntime``
(``runtime.py``) and as the runc-compatible ``berth-runtime`` command (``cli.py``).

Imports only the standard library, ``berth.oci``, ``berth.errors`` (and the ``Stdio`` seam
type of ``berth.runtime``). Modules: ``syscalls`` (ctypes), ``securejoin``, ``rootfs``,
``cgroups`` (v1, v2), ``capabilities``, ``seccomp``, ``init`` (the container side),
``process`` (fork and the sync protocol), ``runtime``, ``cli``.
"""
