"""Garbage collection during a cold start.

Loading a handler module creates a great many long-lived objects (modules, pydantic schemas and
validators). The cyclic garbage collector would scan that growing heap again and again while it
loads, finding no garbage: about 15 % of a cold start here. So `loading()` (called by
`functions/__init__.py`, before any handler module loads) makes collection rare, and `loaded()`
(called by `observability.entrypoint` as the handler module finishes loading) freezes what was
loaded, so no later collection scans it either, and restores the usual thresholds. The threshold
is raised, not collection disabled, so a process that imports only parts of `functions` (tests,
tools) and never reaches `loaded()` still collects.
"""

from __future__ import annotations

import gc

LOADING_THRESHOLDS = (100_000, 50, 50)
_running: tuple[int, int, int] | None = None


def loading() -> None:
    """A handler is about to load: collect rarely until it has."""
    global _running
    if _running is None:
        _running = gc.get_threshold()
    gc.set_threshold(*LOADING_THRESHOLDS)


def loaded() -> None:
    """The handler module has loaded: what it built lives as long as the process, so the collector
    stops looking at it and collects at its usual pace again. Only once, and only after `loading()`."""
    global _running
    if _running is not None and gc.get_threshold() == LOADING_THRESHOLDS:
        gc.freeze()
        gc.set_threshold(*_running)
        _running = None
