"""Exceptions raised by the client.

Every error the API or the transport reports is a :class:`SandboxError` (or one of its
subclasses), carrying ``message``, the HTTP ``status_code`` and the decoded response ``body``
when the server answered. Configuration problems raise :class:`ValueError` instead.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "NotFoundError",
    "RateLimitError",
    "SandboxError",
    "SandboxTimeoutError",
    "ServerError",
    "error_for_status",
]


class SandboxError(Exception):
    """An error from the Porter Sandbox API or from reaching it."""

    message: str
    status_code: int | None
    body: object | None

    def __init__(
        self, message: str, *, status_code: int | None = None, body: object | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = body

    def __str__(self) -> str:
        return self.message


class AuthenticationError(SandboxError):
    """The server rejected the credentials (HTTP 401)."""


class NotFoundError(SandboxError):
    """The sandbox, volume, snapshot or file does not exist (HTTP 404)."""


class RateLimitError(SandboxError):
    """Too many requests (HTTP 429), after the retries ran out."""


class ServerError(SandboxError):
    """The server failed (HTTP 5xx), after the retries ran out."""


class SandboxTimeoutError(SandboxError):
    """The call did not finish within its timeout; it is never retried."""


def error_for_status(status_code: int, body: object | None, message: str) -> SandboxError:
    """The exception for an HTTP error ``status_code`` with its decoded ``body`` (the mapping
    of the Rust core: 401, 404, 429, 5xx, anything else)."""
    from . import _native

    cls: type[SandboxError] = globals()[_native.error_class_name(status_code)]
    return cls(message, status_code=status_code, body=body)
