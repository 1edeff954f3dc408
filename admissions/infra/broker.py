"""The embedded Celery broker: kombu's SQLAlchemy transport on an SQLite file under ``var/``.

``make run`` and the worker tests use it when neither ``CELERY_BROKER_URL`` nor ``REDIS_URL`` is
set (``admissions/settings.py``)::

    CELERY_BROKER_URL = "admissions.infra.broker.Transport+sqlite:////…/var/broker.sqlite3"

It replaces kombu's filesystem transport, which loses and corrupts messages when a producer and a
consumer meet on the same file (kombu issue #1551: the file is created before it is locked and
written; a worker reading it empty dies of ``JSONDecodeError``). Here every put and get is one
SQLite transaction: a get takes the write lock (``BEGIN IMMEDIATE``), reads the oldest row of
the queue and deletes it, so two consumers never get the same message and a consumer never sees
half a message. ``tests/workers/test_broker_race.py`` runs producers and workers against both
transports; ``bench/broker_race.py`` measures them (docs/DEPLOYMENT.md, "Embedded defaults").

What this subclass changes in kombu's transport (kombu 5.7):

* a delivered message is deleted rather than kept with ``visible = False`` (kombu keeps them
  forever: with beat's tick every 2 s, a month of ``make run`` would leave about a million rows);
* kombu's own options (``polling_interval``) are not passed to ``create_engine``, which refuses
  them; SQLite runs in WAL mode with a generous busy timeout, so readers never wait for writers
  and a busy moment is waited out rather than raised;
* two processes creating the tables, or the same queue's row, at once on a fresh file (kombu
  guards both with a thread lock only) no longer kill the second one ("already exists", the
  unique constraint on the queue's name): it reads what the first created;
* a get whose commit fails (the database stayed locked) is rolled back and tried again at the
  next poll, and engines opened before a fork are not reused by the child (SQLite connections
  must not cross a fork; the worker forks its pool after it connected).

Delivery is what kombu's virtual transports give: a message is taken from the table when a
worker receives it and kept in that worker's memory until acknowledged. A pool process that dies
(``reject_on_worker_lost``) or a worker stopped normally puts its unacknowledged messages back; a
worker killed with SIGKILL loses them, like the filesystem transport did, and the verification
pipeline's leases and stale-enqueue reclaim send such a request again from the database.
"""

import os
import warnings
from json import loads
from queue import Empty
from time import monotonic, sleep
from typing import cast

from kombu.transport import sqlalchemy
from kombu.utils import cached_property
from kombu.utils.encoding import bytes_to_str
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError, OperationalError, SADeprecationWarning
from sqlalchemy.orm import configure_mappers


# What admissions/settings.py sets for the embedded broker (and the worker tests, the bench).
TRANSPORT = "admissions.infra.broker:Transport"
# kombu polls an empty queue every second by default, and a worker that waits for its task's
# acknowledgement (prefetch 1) waits that second too: poll often (an empty poll is ~0.2 ms).
TRANSPORT_OPTIONS = {"polling_interval": 0.05}

# Options that kombu's virtual transport reads itself, never meant for create_engine.
KOMBU_OPTIONS = (
    "queue_tablename",
    "message_tablename",
    "callback",
    "errback",
    "max_retries",
    "interval_start",
    "interval_step",
    "interval_max",
    "retry_errors",
    "polling_interval",
    "visibility_timeout",
)
BUSY_TIMEOUT_SECONDS = 30
# How often a worker whose prefetch is full looks whether an acknowledgement freed a slot.
ACK_WAIT_SLICE = 0.002
# Plain SQL for the hot path (kombu's ORM queries cost ~1 ms of CPU a poll). ``visible`` stays
# true until a row is deleted; ``timestamp`` is never set on insert, so ``id`` is the order.
SQL = {
    "index": "CREATE INDEX IF NOT EXISTS ix_{table}_queue_order ON {table} (queue_id, id)",
    "peek": "SELECT 1 FROM {table} WHERE queue_id = :queue AND visible LIMIT 1",
    "take": (
        "SELECT id, payload FROM {table} WHERE queue_id = :queue AND visible ORDER BY id LIMIT 1"
    ),
    "delete": "DELETE FROM {table} WHERE id = :id",
}


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


_mappers_configured = False


def _configure_mappers_quietly() -> None:
    """Configure kombu's models once, without SQLAlchemy 2.1's warning about their ``noload``
    relationship (kombu's, harmless here; the test suite turns warnings into errors)."""
    global _mappers_configured
    if _mappers_configured:
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*noload.*", category=SADeprecationWarning)
        configure_mappers()
    _mappers_configured = True


class Channel(sqlalchemy.Channel):
    def _engine_from_config(self):
        client = self.connection.client
        assert client is not None  # kombu opens a channel on a connection
        options = {
            key: value
            for key, value in (client.transport_options or {}).items()
            if key not in KOMBU_OPTIONS
        }
        url = client.hostname or ""
        if url.startswith("sqlite"):
            options.setdefault("connect_args", {"timeout": BUSY_TIMEOUT_SECONDS})
        engine = create_engine(url, **options)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        self._created_engine = engine
        return engine

    def _open(self):
        try:
            engine_and_session = super()._open()
        except OperationalError as error:
            # kombu creates its tables with a look-up, then CREATE TABLE: two processes starting
            # on a fresh file both look, and the second one's CREATE fails. They exist now.
            self._created_engine.dispose()  # kombu did not keep it
            if "already exists" not in str(error):
                raise
            engine_and_session = super()._open()
        _configure_mappers_quietly()
        return engine_and_session

    @cached_property
    def _sql(self) -> dict:
        name = self.message_cls.__table__.name  # from the transport options, not from a message
        sql = {key: text(statement.format(table=name)) for key, statement in SQL.items()}
        self.session.execute(sql["index"])
        self.session.commit()
        return sql

    def _get_or_create(self, queue: str):
        # kombu guards the queue row's creation with a thread lock only: two processes declaring
        # the same queue on a fresh file (two workers starting, a worker and the web's first
        # publish) both insert it, and the second dies of the unique constraint on its name.
        # The row exists then: read it again instead.
        create = super()._get_or_create  # type: ignore[misc]  # not in kombu-stubs
        try:
            return create(queue)
        except IntegrityError:
            self.session.rollback()
            found = self.session.query(self.queue_cls).filter(self.queue_cls.name == queue).first()
            if found is None:  # the other insert was rolled back after all: create it ourselves
                return create(queue)
            return found

    def _queue_id(self, queue: str) -> int:
        # kombu looks the queue up with the ORM at every poll; its id never changes.
        cache = self.__dict__.setdefault("_queue_ids", {})
        if queue not in cache:
            cache[queue] = self._get_or_create(queue).id
        return cache[queue]

    def _get(self, queue, timeout=None):
        queue_id = self._queue_id(queue)
        session = self.session
        sql = self._sql
        try:
            # An empty queue costs one indexed read (WAL: no lock, writers go on).
            if session.execute(sql["peek"], {"queue": queue_id}).first() is None:
                session.commit()
                raise Empty()
            # Something is there: take the write lock, then the oldest message, and delete it.
            if session.get_bind().dialect.name == "sqlite":
                session.execute(text("BEGIN IMMEDIATE TRANSACTION"))
            row = session.execute(sql["take"], {"queue": queue_id}).first()
            if row is None:  # another worker took it first
                session.commit()
                raise Empty()
            deleted = cast(CursorResult, session.execute(sql["delete"], {"id": row.id})).rowcount
            session.commit()
            if deleted != 1:  # without SQLite's lock (another database), someone else took it
                raise Empty()
        except OperationalError:
            # Locked for longer than the busy timeout: nothing was taken, try again later.
            session.rollback()
            raise Empty() from None
        return loads(bytes_to_str(row.payload))


class Transport(sqlalchemy.Transport):
    Channel = Channel

    # kombu's own signature (virtual.Transport), which its stubs find incompatible with the base
    # Transport's (they ignore it there too).
    def drain_events(self, connection, timeout=None):  # type: ignore[override]
        """kombu's loop, but a worker waiting for an acknowledgement polls again as soon as it
        comes (from the pool's thread) rather than a whole ``polling_interval`` later: with
        prefetch 1, that sleep after every task was what bounded a worker's throughput."""
        started = monotonic()
        interval = self.polling_interval or 0
        if timeout and interval > timeout:
            interval = timeout
        cycle = self.cycle
        assert cycle is not None  # set when the transport is made
        while True:
            try:
                cycle.get(self._deliver, timeout=timeout)
            except Empty:
                if timeout is not None and monotonic() - started >= timeout:
                    raise TimeoutError from None
                self._sleep(interval)
            else:
                return

    def _full(self) -> bool:
        consuming = [channel for channel in self.channels or () if channel._consumers]
        return bool(consuming) and not any(c.qos.can_consume() for c in consuming)

    def _sleep(self, interval: float) -> None:
        if not self._full():
            sleep(interval)
            return
        deadline = monotonic() + interval
        while self._full() and monotonic() < deadline:
            sleep(ACK_WAIT_SLICE)


def _forget_engines_after_fork() -> None:
    """In a forked child, open new SQLite connections rather than the parent's."""
    for engine, _session in Channel._engines.values():
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_engines_after_fork)
