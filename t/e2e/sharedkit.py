"""The kits beside the repository (../shared): the conformance kit
(conformance/validate-eas) and the real clients (clients/...).

A fresh clone has no ../shared.  A check that needs a kit asks for it with
tool(); when the kit is missing, tool() returns None and counts the check as
skipped, and the autouse fixture in conftest.py then reports the test as
skipped with that reason after the rest of it has run (a test's other
assertions are still made).  With the kit present, every check runs.
"""

import os
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHARED = os.path.normpath(os.path.join(REPO, "..", "shared"))

_lock = threading.Lock()
_skipped = {}  # kit -> number of checks skipped in the current test


def tool(kit, relpath):
    """Path of ../shared/<kit>/<relpath>, or None (the check is skipped)."""
    p = os.path.join(SHARED, kit, relpath)
    if os.path.exists(p):
        return p
    with _lock:
        _skipped[kit] = _skipped.get(kit, 0) + 1
    return None


def take_skipped():
    """The skip reason for the checks skipped since the last call, or None."""
    with _lock:
        got = dict(_skipped)
        _skipped.clear()
    if not got:
        return None
    return "; ".join("../shared/%s not found (%d check%s skipped)"
                     % (kit, n, "" if n == 1 else "s") for kit, n in sorted(got.items()))
