"""The one exception tree of Berth.

Each class names the HTTP status the API server answers with; only ``api.server`` maps an
exception to a status and only ``cli`` turns one into a message and an exit code::

    BerthError                500  anything unexpected
    ├── NotModified           304  start of a running container, stop of a stopped one
    ├── InvalidArgument       400  a bad flag, value, reference or request body
    ├── Unauthorized          401
    ├── Forbidden             403
    ├── NotFound              404  no such container / image / exec / network / volume
    ├── Conflict              409  name in use, rm of a running container, rmi of a used image
    ├── NotImplemented        501
    ├── Unavailable           503
    └── RuntimeFailure        500  the runtime could not create or start a process; the
                                   message carries runc's words ("executable file not found",
                                   "permission denied") that docker's CLI maps to 127/126
"""

from __future__ import annotations


class BerthError(Exception):
    """Base of every error Berth raises on purpose."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotModified(BerthError):
    status = 304


class InvalidArgument(BerthError):
    status = 400


class Unauthorized(BerthError):
    status = 401


class Forbidden(BerthError):
    status = 403


class NotFound(BerthError):
    status = 404


class Conflict(BerthError):
    status = 409


class NotImplemented(BerthError):  # errdefs name; shadows the builtin only here
    status = 501


class Unavailable(BerthError):
    status = 503


class RuntimeFailure(BerthError):
    status = 500


_BY_STATUS: dict[int, type[BerthError]] = {
    cls.status: cls
    for cls in (NotModified, InvalidArgument, Unauthorized, Forbidden, NotFound, Conflict,
                NotImplemented, Unavailable)
}


def from_status(status: int, message: str) -> BerthError:
    """The exception for an HTTP status, as the client maps an API error back."""
    return _BY_STATUS.get(status, BerthError)(message)
