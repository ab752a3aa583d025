"""Background threads that poll moto and feed functions; one stop event ends them all."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("local.pollers")


class Poller:
    """Calls `poll_once` on its own thread until stopped; waits `interval` seconds after a poll
    that found nothing."""

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
            try:
                busy = self.poll_once()
            except Exception:
                if self.stop_event.is_set():
                    return  # moto is going away under us: not worth a traceback
                log.exception("%s: poll failed", self.name)
                busy = False
            if not busy:
                self.stop_event.wait(self.interval)

    def poll_once(self) -> bool:
        raise NotImplementedError

    def pause(self, seconds: float) -> bool:
        """Sleeps unless the stack stops meanwhile; False when it is stopping."""
        return not self.stop_event.wait(seconds)
