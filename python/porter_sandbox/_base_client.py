"""Transport constants of the sync client. The transport itself is the Rust core's: one pooled
HTTP client per ``Porter``, with its timeouts, retries and redirect handling."""

from __future__ import annotations

from . import _native

__all__ = ["MAX_REDIRECTS", "USER_AGENT"]

USER_AGENT: str = f"porter-sandbox-python/{_native.__version__}"
"""The ``User-Agent`` of every request."""

MAX_REDIRECTS: int = _native.MAX_REDIRECTS
"""Most redirect hops followed for one request (the body is sent again on each)."""
