"""The retry policy of the client, which the Rust core applies to every request.

Failed attempts answered with 429 or a 5xx, and network errors, are re-sent up to
``DEFAULT_MAX_RETRIES`` times after a full-jitter wait; exec and timed-out calls never are.
"""

from __future__ import annotations

from . import _native

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "INITIAL_BACKOFF_SECONDS",
    "MAX_BACKOFF_SECONDS",
    "backoff_delay",
    "should_retry",
]

DEFAULT_MAX_RETRIES: int = _native.DEFAULT_MAX_RETRIES
INITIAL_BACKOFF_SECONDS: float = _native.INITIAL_BACKOFF_SECONDS
MAX_BACKOFF_SECONDS: float = _native.MAX_BACKOFF_SECONDS


def should_retry(status_code: int) -> bool:
    """Whether a response with ``status_code`` is re-sent (429 and every 5xx)."""
    return _native.should_retry(status_code)


def backoff_delay(attempt: int) -> float:
    """Seconds to wait before retrying the failed attempt ``attempt`` (0-based): uniformly
    random in ``[0, min(0.5 × 2**attempt, 8)]``."""
    return _native.backoff_delay(attempt)
