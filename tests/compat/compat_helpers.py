"""Helpers shared by the scripts that run the official SDK against our server."""

import time


def check(condition, message):
    if not condition:
        raise AssertionError(message)
    print("ok -", message)


def wait_running(sandbox, attempts=300):
    """Refreshes until the sandbox leaves queued/creating (or the attempts run out)."""
    for _ in range(attempts):
        sandbox.refresh()
        if sandbox.phase.value not in ("queued", "creating"):
            return sandbox.phase
        time.sleep(0.1)
    return sandbox.phase
