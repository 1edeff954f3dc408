"""Exactly one beat sends the schedule, however many are started.

Two beat processes started by mistake (two hosts, a deploy that starts a new one before the old
one stops) would each send every tick: twice the dispatcher's work, two nightly purges, two
e-mails per token threshold. So every beat runs ``SingleBeatScheduler`` (``admissions/celery.py``)
and sends only while it holds the *beat lock*, a lease renewed every
``VIGIE_BEAT_LOCK_RENEW_SECONDS`` (5) that lapses ``VIGIE_BEAT_LOCK_TTL_SECONDS`` (30) after its
holder last renewed it. Another beat stands by: it keeps its schedule in step without sending
anything, asks for the lock at each renewal, logs that it stands by and who holds the lock, and
takes over within TTL + RENEW seconds once the active beat stops renewing (killed, hung, its host
gone).

Why a scheduler, not beat signals: Celery has signals at beat start-up only (``beat_init``),
nothing per tick, so a beat that loses the lock later could not be stopped from sending. The
scheduler is where the sending happens: ``apply_entry`` sends one due entry, and it sends only
under a lease it knows is still running. A standby still advances its entries as if sent, so on
takeover it goes on from where the schedule is, rather than sending at once every daily task
whose time passed while it stood by.

Where the lease lives (``VIGIE_BEAT_LOCK``, ``auto`` by default):

* ``redis`` (with ``REDIS_URL``): a key ``vigie:beat-lock`` holding the holder's name, written with
  a TTL, renewed by a Lua script only if it is still ours;
* ``postgres`` (PostgreSQL without Redis): a session advisory lock on a connection of its own,
  with ``idle_session_timeout`` set to the TTL, so that the server itself ends the session (and
  frees the lock) of a holder that stops renewing; a killed holder frees it at once;
* ``file`` (the embedded SQLite default, one machine): a lease row in ``VAR_DIR/beat-lock.sqlite3``;
* ``off``: no lock (one beat, guaranteed by other means).

A holder keeps sending while its store cannot be reached, but only until its last lease runs
out (TTL - RENEW after its last renewal, a margin for the clocks): no other beat can take the
lock before that.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from celery.beat import PersistentScheduler


if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper


logger = logging.getLogger(__name__)

REDIS_KEY = "vigie:beat-lock"
# PostgreSQL two-integer advisory lock: first key "VB" (Vigie beat); the audit chains use "VA".
PG_LOCK_CLASS = 0x5642
PG_LOCK_ID = 1
# A standby says again that it stands by this often (it says so at once when it starts).
STANDBY_LOG_EVERY = 300.0

# Take the lock if it is free or already ours, and (re)start its TTL; answer who holds it.
_TAKE = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1, ARGV[1]}
end
return {0, holder}
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LockUnavailable(Exception):
    """The lock's store cannot be reached: whether we hold the lock is unknown."""


class BeatLock(Protocol):
    description: str

    def take(self) -> tuple[bool, str]:
        """Take the lock, or renew it if ours. Returns (held, holder's name)."""

    def release(self) -> None: ...


class RedisBeatLock:
    def __init__(self, url: str, owner: str, ttl: float) -> None:
        import redis

        self.owner = owner
        self.ttl_ms = max(1, int(ttl * 1000))
        self.client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._take = self.client.register_script(_TAKE)
        self._release = self.client.register_script(_RELEASE)
        self.description = f"Redis key {REDIS_KEY}"
        self._errors = redis.RedisError

    def take(self) -> tuple[bool, str]:
        try:
            held, holder = self._take(keys=[REDIS_KEY], args=[self.owner, self.ttl_ms])
        except self._errors as exc:
            raise LockUnavailable(str(exc)) from exc
        return bool(held), holder.decode() if isinstance(holder, bytes) else str(holder)

    def release(self) -> None:
        with contextlib.suppress(self._errors):
            self._release(keys=[REDIS_KEY], args=[self.owner])


class PostgresBeatLock:
    """A session advisory lock held by a connection of its own (not Django's, which Celery and
    Django close between tasks). The server ends the session of a holder silent for the TTL
    (``idle_session_timeout``), which frees the lock; a holder that dies frees it at once."""

    def __init__(self, alias: str, owner: str, ttl: float) -> None:
        self.alias = alias
        self.owner = owner
        self.ttl_ms = max(1000, int(ttl * 1000))
        self.db: BaseDatabaseWrapper | None = None
        self.held = False
        self.description = f"PostgreSQL advisory lock ({PG_LOCK_CLASS}, {PG_LOCK_ID})"

    def _cursor(self):
        from django.db import connections

        if self.db is None:
            db = connections.create_connection(self.alias)
            db.connect()  # autocommit: the session lock outlives any transaction
            with db.cursor() as cursor:
                cursor.execute("SELECT set_config('application_name', %s, false)", [self.name])
                cursor.execute(
                    "SELECT set_config('idle_session_timeout', %s, false)", [str(self.ttl_ms)]
                )
            self.db = db
        return self.db.cursor()

    @property
    def name(self) -> str:
        return f"vigie-beat {self.owner}"[:63]

    def take(self) -> tuple[bool, str]:
        from django.db import DatabaseError, InterfaceError

        try:
            with self._cursor() as cursor:
                if self.held:
                    cursor.execute("SELECT 1")  # still our session: still our lock
                else:
                    cursor.execute(
                        "SELECT pg_try_advisory_lock(%s, %s)", [PG_LOCK_CLASS, PG_LOCK_ID]
                    )
                    self.held = bool(cursor.fetchone()[0])
                if self.held:
                    return True, self.owner
                cursor.execute(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a "
                    "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                    "AND l.classid = %s AND l.objid = %s AND l.objsubid = 2",
                    [PG_LOCK_CLASS, PG_LOCK_ID],
                )
                row = cursor.fetchone()
                return False, (row[0].removeprefix("vigie-beat ") if row else "?")
        except (DatabaseError, InterfaceError) as exc:
            # The session is gone, and the lock with it: start again with a new one.
            self._close()
            raise LockUnavailable(str(exc)) from exc

    def _close(self) -> None:
        self.held = False
        if self.db is not None:
            with contextlib.suppress(Exception):
                self.db.close()
            self.db = None

    def release(self) -> None:
        # Ending the session frees the lock, but only once the server has ended the backend,
        # after the client hung up: unlock first, so that the next beat can take it at once.
        if self.held and self.db is not None:
            with contextlib.suppress(Exception), self.db.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [PG_LOCK_CLASS, PG_LOCK_ID])
        self._close()


class FileBeatLock:
    """A lease row in a SQLite file: the embedded default, every beat on one machine."""

    def __init__(self, path: Path, owner: str, ttl: float) -> None:
        self.path = path
        self.owner = owner
        self.ttl = ttl
        self.description = f"lease in {path}"

    @contextlib.contextmanager
    def _transaction(self):
        try:
            db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise LockUnavailable(str(exc)) from exc
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS beat_lock "
                "(name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL)"
            )
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise LockUnavailable(str(exc)) from exc
        finally:
            db.close()

    def take(self) -> tuple[bool, str]:
        now = time.time()
        with self._transaction() as db:
            row = db.execute("SELECT owner, expires FROM beat_lock WHERE name = 'beat'").fetchone()
            if row is not None and row[0] != self.owner and row[1] > now:
                return False, row[0]
            db.execute(
                "INSERT OR REPLACE INTO beat_lock (name, owner, expires) VALUES ('beat', ?, ?)",
                [self.owner, now + self.ttl],
            )
            return True, self.owner

    def release(self) -> None:
        with contextlib.suppress(LockUnavailable), self._transaction() as db:
            db.execute("DELETE FROM beat_lock WHERE name = 'beat' AND owner = ?", [self.owner])


def beat_lock(owner: str) -> BeatLock | None:
    """The lock the settings ask for (``VIGIE_BEAT_LOCK``), or None when it is off."""
    from django.conf import settings
    from django.db import connections

    kind = settings.VIGIE_BEAT_LOCK
    ttl = settings.VIGIE_BEAT_LOCK_TTL_SECONDS
    if kind == "auto":
        if settings.REDIS_URL:
            kind = "redis"
        elif connections["default"].vendor == "postgresql":
            kind = "postgres"
        else:
            kind = "file"
    match kind:
        case "redis":
            return RedisBeatLock(settings.REDIS_URL, owner, ttl)
        case "postgres":
            return PostgresBeatLock("default", owner, ttl)
        case "file":
            Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
            return FileBeatLock(Path(settings.VAR_DIR) / "beat-lock.sqlite3", owner, ttl)
        case "off":
            return None
    raise ValueError(f"VIGIE_BEAT_LOCK: expected auto, redis, postgres, file or off, got {kind!r}")


class SingleBeatScheduler(PersistentScheduler):
    """Celery's persistent scheduler, sending only while this beat holds the beat lock."""

    def __init__(self, *args, **kwargs) -> None:
        from django.conf import settings

        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.lock = beat_lock(self.owner)
        self.lock_ttl = settings.VIGIE_BEAT_LOCK_TTL_SECONDS
        self.lock_renew = settings.VIGIE_BEAT_LOCK_RENEW_SECONDS
        if self.lock is not None and self.lock_renew >= self.lock_ttl:
            raise ValueError("VIGIE_BEAT_LOCK_RENEW_SECONDS must be shorter than the TTL")
        self._held_until = 0.0  # monotonic: our lease runs at least until then
        self._checked_at = -1e9
        self._holder = ""  # who held the lock at our last look ("" before the first)
        self._standby_logged_at = -1e9
        self._unavailable = False
        super().__init__(*args, **kwargs)

    def holding(self) -> bool:
        """Whether this beat may send now: asks the store at most once per renewal interval."""
        if self.lock is None:
            return True
        now = time.monotonic()
        if now - self._checked_at < self.lock_renew:
            return now < self._held_until
        try:
            held, holder = self.lock.take()
        except LockUnavailable as exc:
            held = now < self._held_until
            if not self._unavailable:
                self._unavailable = True
                logger.warning(
                    "beat lock: %s unreachable (%s); %s",
                    self.lock.description,
                    exc,
                    f"this beat goes on sending for {self._held_until - now:.0f} s at most"
                    if held
                    else "this beat sends nothing until it holds the lock again",
                )
            return held
        self._unavailable = False
        self._checked_at = now
        if held:
            # The store's TTL started after ``now``; the margin absorbs clock rates.
            self._held_until = now + self.lock_ttl - self.lock_renew
            if self._holder != self.owner:
                logger.warning(
                    "beat lock taken (%s%s): this beat (%s) sends the schedule",
                    self.lock.description,
                    f", was held by {self._holder}" if self._holder else "",
                    self.owner,
                )
        else:
            self._held_until = 0.0
            if holder != self._holder or now - self._standby_logged_at >= STANDBY_LOG_EVERY:
                self._standby_logged_at = now
                logger.warning(
                    "beat lock held by %s (%s): this beat (%s) stands by and sends nothing; it "
                    "takes over within %.0f s if that one stops renewing",
                    holder,
                    self.lock.description,
                    self.owner,
                    self.lock_ttl + self.lock_renew,
                )
        self._holder = holder
        return held

    def tick(self, *args, **kwargs) -> float:
        self.holding()  # a standby asks for the lock even when nothing is due
        interval = super().tick(*args, **kwargs)
        return min(interval, self.lock_renew) if self.lock is not None else interval

    def apply_entry(self, entry, producer=None) -> None:
        if self.holding():
            super().apply_entry(entry, producer=producer)
        else:
            # Reserved all the same (``tick`` advanced the entry): the schedule stays in step.
            logger.debug("beat on standby: %s not sent", entry.name)

    def close(self) -> None:
        if self.lock is not None and self._holder == self.owner:
            self.lock.release()  # the standby takes over at its next look, not after the TTL
        super().close()
