"""An OCI distribution (v1.1) registry server, after the CNCF distribution registry.

::

    berth-registry serve ──▶ app.create_app(driver, RegistryOptions)   aiohttp, /v2/ routes
                                   │ routes/*: validate, to_thread, shape responses
                                   ▼
                             registry.Registry: blobs, uploads, manifests (+ tags, referrers)
                                   │ the on-disk layout of paths.py
                                   ▼
                             storage.StorageDriver: filesystem | inmemory
    berth-registry garbage-collect ──▶ gc.garbage_collect(root, dry_run)
"""

from berth.registry.server.app import create_app
from berth.registry.server.options import RegistryOptions

__all__ = ["RegistryOptions", "create_app"]
