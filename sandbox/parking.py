"""Connections held open without an answer, without holding a server thread.

A banned client, a simulated timeout and a "hanging" outage all leave the client waiting for
an answer that never comes. Sleeping in the request's thread would use one server thread per
waiting client (30 s each by default): a few thousand timeouts would starve the server. Instead
the request hands a duplicate of its socket to this parking lot and returns at once; one thread
closes each parked socket when its time is up (with a TCP reset if asked).
"""

import heapq
import itertools
import logging
import socket
import struct
import threading
import time


logger = logging.getLogger(__name__)


def reset_on_close(sock: socket.socket) -> None:
    """Make the socket's close a reset, not an orderly end (SO_LINGER 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        logger.debug("sandbox: could not set SO_LINGER")


class ParkingLot:
    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._heap: list[tuple[float, int, socket.socket, bool]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def __len__(self) -> int:
        with self._wake:
            return len(self._heap)

    def park(self, sock: socket.socket, seconds: float, *, reset: bool = False) -> None:
        """Keep ``sock`` open for ``seconds``, then close it. The caller's own socket object
        may be closed meanwhile: the lot holds a duplicate."""
        parked = sock.dup()
        with self._wake:
            if self._stopped:
                parked.close()
                return
            heapq.heappush(
                self._heap, (time.monotonic() + seconds, next(self._order), parked, reset)
            )
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="sandbox-parking", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._wake.wait(timeout)
                if self._stopped:
                    return
                _, _, sock, reset = heapq.heappop(self._heap)
            try:
                if reset:
                    reset_on_close(sock)
                sock.close()
            except OSError:
                logger.debug("sandbox: a parked connection was already gone")

    def close_all(self) -> None:
        with self._wake:
            self._stopped = True
            parked, self._heap = self._heap, []
            self._wake.notify()
        for _, _, sock, _ in parked:
            sock.close()
