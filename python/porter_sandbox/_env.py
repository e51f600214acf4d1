"""The environment variables configuration reads (kept apart from ``_config`` so that importing
the package does not import ``dataclasses``)."""

from __future__ import annotations

import os

ENV_VARS = (
    "PORTER_SANDBOX_API_KEY",
    "PORTER_SANDBOX_BASE_URL",
    "PORTER_CLUSTER_ID",
    "KUBERNETES_SERVICE_HOST",
    # Where a local server's discovery file is (see porter_sandbox.discovery in the core).
    "PORTER_SANDBOX_DISCOVERY_FILE",
    "XDG_CONFIG_HOME",
    "HOME",
)


def environment() -> dict[str, str]:
    """The variables configuration reads, from ``os.environ``."""
    return {name: os.environ[name] for name in ENV_VARS if name in os.environ}
