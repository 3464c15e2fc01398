"""A registry client (containerd ``core/remotes``): resolve, fetch and push over the OCI
distribution API, with docker's authentication.

::

    RegistrySession (session.py)   one aiohttp session; endpoints (http for insecure and
        │                          loopback hosts), 401 → auth.Authorizer → one retry,
        │                          statuses → berth.errors
        ├── Resolver   (resolver.py)  ref → Descriptor (HEAD, else GET); index → platform
        ├── Fetcher    (fetcher.py)   blob → BlobSink, verified while streaming, bounded
        └── Pusher     (pusher.py)    HEAD / mount / POST+PUT / PATCH chunks; manifests
    transfer.pull / transfer.push   whole images over the three

The client depends on no store: fetched blobs go to a ``BlobSink`` and pushed ones come
from a ``BlobSource``, two small protocols the content store happens to satisfy.
"""

from berth.registry.client.auth import Credentials, CredentialStore, DockerConfig
from berth.registry.client.descriptor import Descriptor, Platform
from berth.registry.client.fetcher import BlobSink, BlobWriter, Fetcher, ResumableWriter
from berth.registry.client.progress import Progress, ProgressCallback, State
from berth.registry.client.pusher import BlobSource, Pusher, PushResult
from berth.registry.client.resolver import Resolver
from berth.registry.client.session import RegistrySession, SessionOptions
from berth.registry.client.transfer import PulledImage, pull, push

__all__ = [
    "BlobSink", "BlobSource", "BlobWriter", "CredentialStore", "Credentials", "Descriptor",
    "DockerConfig", "Fetcher", "Platform", "Progress", "ProgressCallback", "PulledImage",
    "PushResult", "Pusher", "RegistrySession", "Resolver", "ResumableWriter",
    "SessionOptions", "State",
    "pull", "push",
]
