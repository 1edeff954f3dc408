"""Finding people of the generated population from what a request carries.

The population is defined forwards (``person(i)``); the APIs are asked backwards (who is
MARTIN EMMA born on ...?). Building every ``Person`` takes about 5 s, so the indexes hold
only the cheap keys (five hashes per person for scolarité, two for covoiturage), are built in
a background thread started with the server, and a request that needs them before they are
ready waits for them (about 1.5 s after start-up at most). CVEC attestation numbers encode
the person's number, so they need no index.
"""

import logging
import re
import threading
import time
from datetime import date

from sandbox.population import (
    POPULATION_SIZE,
    Person,
    covoiturage_uuid_of,
    person,
    scolarite_key_of,
)


logger = logging.getLogger(__name__)

ScolariteKey = tuple[str, str, str, date, str, int]

# person(i).cvec_code == f"VER1{letters(i, 6)}{i % 97:02d}SB" (population.py).
_CVEC_CODE = re.compile(r"^VER1([A-Z]{6})(\d{2})SB$")


def person_for_cvec_code(code: str) -> Person | None:
    match = _CVEC_CODE.match(code)
    if not match:
        return None
    index = 0
    for char in match.group(1):
        index = index * 26 + (ord(char) - ord("A"))
    if index >= POPULATION_SIZE or index % 97 != int(match.group(2)):
        return None
    return person(index)


class PopulationIndex:
    def __init__(self, size: int = POPULATION_SIZE) -> None:
        self._size = size
        self._ready = threading.Event()
        self._scolarite: dict[ScolariteKey, int] = {}
        self._covoiturage: dict[str, int] = {}
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start building in the background (idempotent)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._build, name="sandbox-population-index", daemon=True
                )
                self._thread.start()

    def _build(self) -> None:
        started = time.perf_counter()
        scolarite: dict[ScolariteKey, int] = {}
        covoiturage: dict[str, int] = {}
        for i in range(self._size):
            # The first person wins if two share an identity (rare; documented in the README).
            scolarite.setdefault(scolarite_key_of(i), i)
            covoiturage[covoiturage_uuid_of(i)] = i
        self._scolarite, self._covoiturage = scolarite, covoiturage
        self._ready.set()
        logger.info(
            "sandbox population index ready: %d people in %.2f s",
            self._size,
            time.perf_counter() - started,
        )

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        if self._ready.is_set():  # every lookup comes here: no lock once built
            return True
        self.start()
        return self._ready.wait(timeout)

    def by_scolarite(self, key: ScolariteKey) -> Person | None:
        self.wait()
        index = self._scolarite.get(key)
        return None if index is None else person(index)

    def by_covoiturage_uuid(self, value: str) -> Person | None:
        self.wait()
        index = self._covoiturage.get(value.lower())
        return None if index is None else person(index)
