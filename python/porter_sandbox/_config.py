"""Client configuration: base URL, API key and default timeout.

Resolution is the Rust core's, identical in every Porter SDK: explicit values, then
``PORTER_SANDBOX_BASE_URL``, then ``PORTER_CLUSTER_ID`` with the API key's ``project_id`` claim,
then the in-cluster address (``KUBERNETES_SERVICE_HOST``), then the discovery file a local
``porter-sandbox serve`` writes (its key is used only for that server's URL). It fails with
:class:`ValueError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import _native
from ._env import environment

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "EXTERNAL_BASE_URL_FORMAT",
    "IN_CLUSTER_BASE_URL",
    "Config",
]

IN_CLUSTER_BASE_URL: str = _native.IN_CLUSTER_BASE_URL
EXTERNAL_BASE_URL_FORMAT: str = _native.EXTERNAL_BASE_URL_FORMAT
DEFAULT_TIMEOUT_SECONDS: float = _native.DEFAULT_TIMEOUT_SECONDS

@dataclass(frozen=True)
class Config:
    """Resolved settings of a client."""

    api_key: str | None
    base_url: str
    timeout: float

    @classmethod
    def resolve(
        cls,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
    ) -> Config:
        """Resolves the settings from the arguments and the environment; raises
        :class:`ValueError` saying what to set when no base URL can be determined or the API key
        is unusable."""
        key, url, seconds = _native.resolve_config(
            api_key, base_url, None if timeout is None else float(timeout), environment()
        )
        return cls(api_key=key, base_url=url, timeout=seconds)
