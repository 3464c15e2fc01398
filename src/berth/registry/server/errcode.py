"""The distribution spec's error codes and the one exception the registry raises.

Every failure a client can see is a ``RegistryError`` carrying one ``ErrorCode``; the app's
error middleware is the only place that turns it into a response, in the spec's form::

    HTTP/1.1 404 Not Found
    Content-Type: application/json

    {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown to registry",
                 "detail": {"digest": "sha256:..."}}]}

The statuses are the ones the CNCF distribution registry answers with (its ``errcode``
registrations), which is what clients are tested against. ``RANGE_INVALID`` and
``PAGINATION_NUMBER_INVALID`` are distribution's additions to the spec's table.
"""

from __future__ import annotations

import enum
import json
from typing import Any

from berth.errors import BerthError


class ErrorCode(enum.Enum):
    """(HTTP status, default message) for each code; the member name is the wire code."""

    BLOB_UNKNOWN = (404, "blob unknown to registry")
    BLOB_UPLOAD_INVALID = (400, "blob upload invalid")
    BLOB_UPLOAD_UNKNOWN = (404, "blob upload unknown to registry")
    DIGEST_INVALID = (400, "provided digest did not match uploaded content")
    MANIFEST_BLOB_UNKNOWN = (400, "manifest references a manifest or blob unknown to registry")
    MANIFEST_INVALID = (400, "manifest invalid")
    MANIFEST_UNKNOWN = (404, "manifest unknown to registry")
    NAME_INVALID = (400, "invalid repository name")
    NAME_UNKNOWN = (404, "repository name not known to registry")
    SIZE_INVALID = (400, "provided length did not match content length")
    UNAUTHORIZED = (401, "authentication required")
    DENIED = (403, "requested access to the resource is denied")
    UNSUPPORTED = (405, "the operation is unsupported")
    TOOMANYREQUESTS = (429, "too many requests")
    RANGE_INVALID = (416, "invalid content range")
    PAGINATION_NUMBER_INVALID = (400, "invalid number of results requested")

    @property
    def status(self) -> int:
        return int(self.value[0])

    @property
    def default_message(self) -> str:
        return str(self.value[1])


class RegistryError(BerthError):
    """A spec error: ``code`` picks the status; ``detail`` is any JSON value (or None).

    ``status`` may be overridden where the spec asks for a different status with the same
    code (an oversized manifest is ``MANIFEST_INVALID`` with 413); ``headers`` go on the
    response (``WWW-Authenticate``, ``Content-Range``).
    """

    def __init__(self, code: ErrorCode, message: str | None = None, *, detail: Any = None,
                 status: int | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message or code.default_message)
        self.code = code
        self.detail = detail
        self.status = status if status is not None else code.status
        self.headers = headers or {}

    def body(self) -> bytes:
        entry: dict[str, Any] = {"code": self.code.name, "message": self.message}
        if self.detail is not None:
            entry["detail"] = self.detail
        return json.dumps({"errors": [entry]}).encode()
