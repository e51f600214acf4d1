"""Transport constants of the async client (the same Rust core transport as the sync one)."""

from __future__ import annotations

from ._base_client import MAX_REDIRECTS, USER_AGENT

__all__ = ["MAX_REDIRECTS", "USER_AGENT"]
