"""Background threads that poll moto and feed functions; one stop event ends them all."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("local.pollers")

# A poller of the engine that found nothing polls again after `interval` only if the engine took
# a request meanwhile that may have given it work (below), else after this long: idle, sixteen
# pollers every 0.2 s made some 60 engine requests a second, each one waited for by any API
# request that needed the engine then (it serves one request at a time).
IDLE_POLL_SECONDS = 1.0


class EngineActivity:
    """Counts the engine requests that may have made work for a poller: anything but reads
    (a write, a message sent, an object stored, an event put)."""

    def __init__(self) -> None:
        self._generation = 0
        self._changed = threading.Condition()

    @property
    def generation(self) -> int:
        return self._generation

    def bump(self) -> None:
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def wait(self, seen: int, timeout: float) -> None:
        """Until a request after generation `seen`, or `timeout` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: self._generation != seen, timeout)


ENGINE_ACTIVITY = EngineActivity()
# The part of it that may give a poller of queues work: any request but a table's (a table write
# makes work only for its stream's reader, which watches ENGINE_ACTIVITY). An import writes tables
# hundreds of times a second: the queue pollers need not poll five times a second meanwhile.
MESSAGING_ACTIVITY = EngineActivity()


class Poller:
    """Calls `poll_once` on its own thread until stopped; waits `interval` seconds after a poll
    that found nothing (a poller of the engine: see IDLE_POLL_SECONDS)."""

    polls_the_engine = False
    activity = ENGINE_ACTIVITY  # what wakes an idle poller of the engine

    def __init__(self, name: str, stop: threading.Event, interval: float = 0.2) -> None:
        self.name = name
        self.stop_event = stop
        self.interval = interval
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            seen = self.activity.generation  # before the poll: work made during it is not missed
            try:
                busy = self.poll_once()
            except Exception:
                if self.stop_event.is_set():
                    return  # moto is going away under us: not worth a traceback
                log.exception("%s: poll failed", self.name)
                busy = False
            if not busy and not self.stop_event.wait(self.interval) and self.polls_the_engine:
                self.activity.wait(seen, max(0.0, IDLE_POLL_SECONDS - self.interval))

    def poll_once(self) -> bool:
        raise NotImplementedError

    def pause(self, seconds: float) -> bool:
        """Sleeps unless the stack stops meanwhile; False when it is stopping."""
        return not self.stop_event.wait(seconds)
