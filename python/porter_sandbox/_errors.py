"""Exceptions raised by the client.

Every error the API or the transport reports is a :class:`SandboxError` (or one of its
subclasses), carrying ``message``, the HTTP ``status_code`` and the decoded response ``body``
when the server answered, and ``kind``, the Rust core's error kind, the same in every language
(the table of python/README.md):

=====================  =========================================================  ======================
``kind``               meaning                                                    class
=====================  =========================================================  ======================
``authentication``     the server rejected the credentials (401)                  AuthenticationError
``not_found``          the addressed thing does not exist (404)                   NotFoundError
``rate_limit``         too many requests (429), after the retries                 RateLimitError
``server``             the server failed (5xx), after the retries                 ServerError
``api``                any other error answer (400, 403, 409, 413, 415, 421…)    SandboxError
``timeout``            the call did not finish in time; never retried             SandboxTimeoutError
``network``            the request could not be delivered or the answer read      SandboxError
``decode``             a successful answer did not have the expected shape        SandboxError
``invalid_argument``   the caller passed something unusable                       SandboxError
``sandbox_terminal``   ``wait_until_running`` saw the sandbox end first           SandboxError
``unsupported``        the server lacks the extension the call needs              UnsupportedError
``config``             the client could not be configured                         ValueError (no kind)
=====================  =========================================================  ======================

Configuration problems raise :class:`ValueError` instead.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "NotFoundError",
    "RateLimitError",
    "SandboxError",
    "SandboxTimeoutError",
    "ServerError",
    "UnsupportedError",
    "error_for_status",
]


class SandboxError(Exception):
    """An error from the Porter Sandbox API or from reaching it."""

    message: str
    status_code: int | None
    body: object | None
    kind: str
    """The core's error kind (see the module's table); each class has its default."""

    _default_kind = "api"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body: object | None = None,
        kind: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = body
        self.kind = kind if kind is not None else self._default_kind

    def __str__(self) -> str:
        return self.message


class AuthenticationError(SandboxError):
    """The server rejected the credentials (HTTP 401)."""

    _default_kind = "authentication"


class NotFoundError(SandboxError):
    """The sandbox, volume, snapshot or file does not exist (HTTP 404)."""

    _default_kind = "not_found"


class RateLimitError(SandboxError):
    """Too many requests (HTTP 429), after the retries ran out."""

    _default_kind = "rate_limit"


class ServerError(SandboxError):
    """The server failed (HTTP 5xx), after the retries ran out."""

    _default_kind = "server"


class SandboxTimeoutError(SandboxError):
    """The call did not finish within its timeout; it is never retried."""

    _default_kind = "timeout"


class UnsupportedError(SandboxError):
    """The server does not offer what the call needs: processes (``Sandbox.start``, ``process``,
    ``processes``) are an extension of the local porter-sandbox server. Raised at once, before
    any other request; ``Sandbox.exec`` works on every server."""

    _default_kind = "unsupported"


def error_for_status(status_code: int, body: object | None, message: str) -> SandboxError:
    """The exception for an HTTP error ``status_code`` with its decoded ``body`` (the mapping
    of the Rust core: 401, 404, 429, 5xx, anything else)."""
    from . import _native

    cls: type[SandboxError] = globals()[_native.error_class_name(status_code)]
    return cls(message, status_code=status_code, body=body)
