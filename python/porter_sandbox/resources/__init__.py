"""The low-level resources: one method per endpoint, named after the API's operations.

Reached as ``porter.raw.<namespace>`` or ``porter.<namespace>.raw``. Body parameters take the
model or a plain dict; results are models.
"""

from .healthz import AsyncHealthz, Healthz
from .readyz import AsyncReadyz, Readyz
from .sandboxes import AsyncSandboxes, Sandboxes
from .snapshots import AsyncSnapshots, Snapshots
from .volumes import AsyncVolumes, Volumes

__all__ = [
    "AsyncHealthz",
    "AsyncReadyz",
    "AsyncSandboxes",
    "AsyncSnapshots",
    "AsyncVolumes",
    "Healthz",
    "Readyz",
    "Sandboxes",
    "Snapshots",
    "Volumes",
]
