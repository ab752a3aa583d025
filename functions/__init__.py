"""Lambda functions.

Loading a handler module creates a great many long-lived objects (modules, pydantic schemas and
validators). The cyclic garbage collector would scan that growing heap again and again while it
loads, finding no garbage: about 15 % of a cold start here. Collection is therefore made rare
while a handler loads; `shared.observability.entrypoint` (applied as the handler module finishes
loading) freezes what was loaded, so no later collection scans it either, and restores the usual
thresholds. The threshold is raised, not collection disabled, so a process that imports only
parts of `functions` (tests, tools) still collects.
"""

import gc

LOADING_THRESHOLDS = (100_000, 50, 50)
RUNNING_THRESHOLDS = gc.get_threshold()
gc.set_threshold(*LOADING_THRESHOLDS)
