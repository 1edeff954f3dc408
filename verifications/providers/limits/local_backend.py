"""The embedded backend: shared state in a SQLite file, for every process of one machine.

Web, worker processes, beat and the CLI of one machine open the same file with Python's
``sqlite3`` and run every operation in its own ``BEGIN IMMEDIATE`` transaction, which takes
SQLite's write lock at once: operations from all processes are serialised, so the check of every
bucket and the insertion of the grant are one atomic step, as in the Redis script. The file is
not Vigie's database and this connection never takes part in a Django transaction (a grant must
not be rolled back with, or wait for, the caller's transaction).

The clock is the machine's (``time.time()``), the same for every process here. It is not correct
for several machines: that is what the Redis backend is for.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from verifications.providers.limits.base import (
    DEFAULT_FLIGHT,
    MAX_SERVER_WAIT,
    SERVER_CLOCK_MARGIN,
    SERVER_WINDOW,
    Admission,
    BreakerState,
    Limiter,
    LimitsConfig,
    Rate,
    RateUse,
    check_source,
    clean_error_code,
    log_transition,
    normalise_reset,
    subject_fingerprint,
)


logger = logging.getLogger(__name__)

# Added to rate waits so that a caller sleeping exactly ``wait`` is not refused by rounding.
_EPSILON = 0.001
# A learned RateLimit-Limit older than this is forgotten (the server repeats it on every answer).
_LEARNED_TTL = 86400.0

# Longer than any window: grants older than this are of no use to anyone.
_STALE_GRANTS = 2 * 86400.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS grants (bucket TEXT NOT NULL, ts REAL NOT NULL);
CREATE INDEX IF NOT EXISTS grants_bucket_ts ON grants (bucket, ts);
CREATE TABLE IF NOT EXISTS holds (key TEXT PRIMARY KEY, until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS cooldowns (
    source TEXT PRIMARY KEY, until REAL NOT NULL, reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS breakers (
    source TEXT PRIMARY KEY,
    state TEXT NOT NULL DEFAULT 'closed',
    failures INTEGER NOT NULL DEFAULT 0,
    opens INTEGER NOT NULL DEFAULT 0,
    opened_at REAL,
    retry_at REAL,
    probe_until REAL,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS outcomes (
    source TEXT NOT NULL,
    subject TEXT NOT NULL,
    failed INTEGER NOT NULL,
    ts REAL NOT NULL,
    PRIMARY KEY (source, subject)
);
CREATE INDEX IF NOT EXISTS outcomes_source_ts ON outcomes (source, ts);
CREATE TABLE IF NOT EXISTS set_aside (
    source TEXT NOT NULL, subject TEXT NOT NULL, until REAL NOT NULL,
    PRIMARY KEY (source, subject)
);
CREATE TABLE IF NOT EXISTS server_windows (
    scope TEXT PRIMARY KEY,
    learned_limit INTEGER,
    learned_at REAL,
    budget INTEGER,
    reset_at REAL
);
"""


class LocalLimiter(Limiter):
    """``Limiter`` over a SQLite file: correct for all the processes of one machine."""

    def __init__(self, config: LimitsConfig, path: Path | str) -> None:
        super().__init__(config)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._opened: list[tuple[int, sqlite3.Connection]] = []
        self._opened_lock = threading.Lock()

    # --- Connection and transactions --------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread and per process: a connection must not cross a fork
        # (Celery's prefork pool forks after Django is set up).
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            # One connection per thread, used by that thread only; check_same_thread=False
            # lets close() (from whichever thread resets the limiter) close them all.
            conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self._set_up(conn)
            self._local.conn = conn
            self._local.pid = os.getpid()
            with self._opened_lock:
                self._opened.append((os.getpid(), conn))
        return conn

    @staticmethod
    def _set_up(conn: sqlite3.Connection) -> None:
        """WAL (readers never wait for the writer) and the schema, whoever comes first.

        Switching to WAL needs the file to itself, and SQLite answers "locked" at once rather
        than waiting when other processes are busy with it; the switch happens once per file,
        so retrying for a little while is enough.
        """
        deadline = time.monotonic() + 10.0
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        # Files made before the breaker kept the time it last opened.
        columns = {row[1] for row in conn.execute("PRAGMA table_info(breakers)")}
        if "last_opened_at" not in columns:
            try:
                conn.execute("ALTER TABLE breakers ADD COLUMN last_opened_at REAL")
            except sqlite3.OperationalError as exc:  # another process added it meanwhile
                if "duplicate column" not in str(exc):
                    raise
        conn.execute("PRAGMA synchronous=NORMAL")
        # Buckets are pruned when used; those of tokens no longer used are dropped here.
        conn.execute("DELETE FROM grants WHERE ts < ?", (time.time() - _STALE_GRANTS,))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connections this process opened (each thread's).

        Those inherited through a fork are left alone: SQLite must not touch a parent's
        connection from a child.
        """
        with self._opened_lock:
            for pid, conn in self._opened:
                if pid == os.getpid():
                    conn.close()
            self._opened.clear()
        self._local = threading.local()

    # --- Buckets ----------------------------------------------------------------------------

    @staticmethod
    def _blocked_for(
        db: sqlite3.Connection, key: str, rates: tuple[Rate, ...], keep: float, now: float
    ) -> float | None:
        """Prune the log of ``key``; how long until a grant fits under every rate, or None."""
        db.execute("DELETE FROM grants WHERE bucket = ? AND ts <= ?", (key, now - keep))
        wait = None
        for rate in rates:
            lower = now - rate.window
            (count,) = db.execute(
                "SELECT COUNT(*) FROM grants WHERE bucket = ? AND ts > ?", (key, lower)
            ).fetchone()
            if count >= rate.limit:
                # The rate frees a slot when its limit-th newest grant leaves the window.
                (blocker,) = db.execute(
                    "SELECT ts FROM grants WHERE bucket = ? AND ts > ? "
                    "ORDER BY ts DESC LIMIT 1 OFFSET ?",
                    (key, lower, rate.limit - 1),
                ).fetchone()
                wait = max(wait or 0.0, blocker + rate.window - now + _EPSILON)
        return wait

    def acquire(self, source: str, *, token: str = "", now: float | None = None) -> Admission:
        buckets = self.buckets(source, token)
        scope = self.server_scope(source, token)
        margin = self.config.margin
        with self._transaction() as db:
            t = time.time() if now is None else now
            row = db.execute("SELECT until FROM cooldowns WHERE source = ?", (source,)).fetchone()
            if row and t < row[0]:
                return Admission(False, row[0] - t, f"cooldown:{source}", t)

            probe = False
            row = db.execute(
                "SELECT state, retry_at, probe_until FROM breakers WHERE source = ?", (source,)
            ).fetchone()
            if row and row[0] == "open":
                if t < row[1]:
                    return Admission(False, row[1] - t, f"breaker:{source}", t)
                if row[2] is not None and t < row[2]:
                    # Half-open and someone's probe is under way.
                    return Admission(False, row[2] - t, f"breaker:{source}", t)
                probe = True

            blocked: list[tuple[float, str]] = []
            for bucket in buckets:
                wait = self._blocked_for(db, bucket.key, bucket.rates, bucket.keep, t)
                if wait is not None:
                    blocked.append((wait, bucket.label))

            srv = db.execute(
                "SELECT learned_limit, learned_at, budget, reset_at FROM server_windows "
                "WHERE scope = ?",
                (scope,),
            ).fetchone()
            learned: tuple[Rate, ...] = ()
            if srv and srv[0] and t - srv[1] < _LEARNED_TTL:
                learned = (Rate(srv[0], SERVER_WINDOW + margin),)
            wait = self._blocked_for(db, scope, learned, self.server_keep, t)
            budget_live = bool(srv and srv[3] is not None and t < srv[3])
            if budget_live and srv[2] <= 0:
                wait = max(wait or 0.0, srv[3] - t)
            if wait is not None:
                blocked.append((wait, "server"))

            if blocked:
                wait, label = max(blocked)
                return Admission(False, wait, f"rate:{source}:{label}", t)

            db.executemany(
                "INSERT INTO grants (bucket, ts) VALUES (?, ?)",
                [(bucket.key, t) for bucket in buckets] + [(scope, t)],
            )
            if budget_live:
                db.execute(
                    "UPDATE server_windows SET budget = budget - 1 WHERE scope = ?", (scope,)
                )
            if probe:
                db.execute(
                    "UPDATE breakers SET probe_until = ? WHERE source = ?",
                    (t + self.config.probe_seconds, source),
                )
        if probe:
            logger.info(
                "Circuit breaker for %s is half-open: one probe request let through", source
            )
        return Admission(True, 0.0, "", t)

    def observe(
        self,
        source: str,
        *,
        token: str = "",
        limit: int | None,
        remaining: int | None,
        reset_at: float | None,
        sent_at: float | None = None,
        now: float | None = None,
    ) -> None:
        check_source(source)
        if limit is None and remaining is None:
            return
        scope = self.server_scope(source, token)
        margin = self.config.margin
        with self._transaction() as db:
            t = time.time() if now is None else now
            row = db.execute(
                "SELECT learned_limit, learned_at, budget, reset_at FROM server_windows "
                "WHERE scope = ?",
                (scope,),
            ).fetchone()
            learned, learned_at, budget, window_end = row or (None, None, None, None)
            if limit is not None and limit > 0:
                learned, learned_at = limit, t
            if remaining is not None:
                # The server's reset time is on its clock: keep a margin for skew. Without a
                # reset time, assume a whole window.
                reset = normalise_reset(reset_at, t)
                reset = (t + SERVER_WINDOW if reset is None else reset) + SERVER_CLOCK_MARGIN
                # Grants since the request left may not have been counted by the server yet;
                # the request itself has been (the answer is about it).
                ref = t - DEFAULT_FLIGHT if sent_at is None else sent_at - margin
                (since,) = db.execute(
                    "SELECT COUNT(*) FROM grants WHERE bucket = ? AND ts > ?",
                    (scope, max(ref, t - self.server_keep)),
                ).fetchone()
                if sent_at is not None:
                    since = max(since - 1, 0)
                fresh = max(remaining, 0) - since
                if window_end is None or t >= window_end or reset > window_end + 1.0:
                    budget, window_end = fresh, reset  # a new server window
                elif reset >= window_end - 1.0:
                    budget = min(budget, fresh)  # the same window: the tighter word wins
                # else: a late answer from the previous window; the current one knows better.
            db.execute(
                "INSERT INTO server_windows (scope, learned_limit, learned_at, budget, reset_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (scope) DO UPDATE SET "
                "learned_limit = excluded.learned_limit, learned_at = excluded.learned_at, "
                "budget = excluded.budget, reset_at = excluded.reset_at",
                (scope, learned, learned_at, budget, window_end),
            )

    def pause(
        self, source: str, seconds: float, *, reason: str = "429", now: float | None = None
    ) -> None:
        check_source(source)
        reason = clean_error_code(reason)
        with self._transaction() as db:
            t = time.time() if now is None else now
            until = t + min(max(seconds, 0.0), MAX_SERVER_WAIT)
            db.execute(
                "INSERT INTO cooldowns (source, until, reason) VALUES (?, ?, ?) "
                "ON CONFLICT (source) DO UPDATE SET until = excluded.until, "
                "reason = excluded.reason WHERE excluded.until > cooldowns.until",
                (source, until, reason),
            )
        logger.warning("Source %s paused for %.1f s (%s)", source, seconds, reason)

    # --- Breaker ----------------------------------------------------------------------------

    def _prune(self, db: sqlite3.Connection, source: str, t: float) -> None:
        db.execute(
            "DELETE FROM outcomes WHERE source = ? AND ts <= ?",
            (source, t - self.config.failure_window),
        )
        db.execute("DELETE FROM set_aside WHERE source = ? AND until <= ?", (source, t))

    def _record_outcome(
        self, db: sqlite3.Connection, source: str, subject: str, failed: bool, t: float
    ) -> tuple[bool, int, int]:
        """Record ``subject``'s latest outcome in the breaker's window (older ones dropped):
        whether it was failing already (or set aside), and the distinct failed and answered
        subjects. A failure of a subject set aside is not recorded; an answer ends it."""
        self._prune(db, source, t)
        alone = (
            db.execute(
                "SELECT 1 FROM set_aside WHERE source = ? AND subject = ?", (source, subject)
            ).fetchone()
            is not None
        )
        known = alone or (
            db.execute(
                "SELECT 1 FROM outcomes WHERE source = ? AND subject = ? AND failed = 1",
                (source, subject),
            ).fetchone()
            is not None
        )
        if failed and alone:
            db.execute("DELETE FROM outcomes WHERE source = ? AND subject = ?", (source, subject))
        else:
            db.execute(
                "INSERT INTO outcomes (source, subject, failed, ts) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (source, subject) DO UPDATE SET failed = excluded.failed, "
                "ts = excluded.ts",
                (source, subject, int(failed), t),
            )
        if not failed:
            db.execute("DELETE FROM set_aside WHERE source = ? AND subject = ?", (source, subject))
        (n_failed, subjects) = db.execute(
            "SELECT COALESCE(SUM(failed), 0), COUNT(*) FROM outcomes WHERE source = ?", (source,)
        ).fetchone()
        return known, n_failed, subjects - n_failed

    def record_success(self, source: str, *, subject: str = "", now: float | None = None) -> None:
        check_source(source)
        subject = subject_fingerprint(subject)
        with self._transaction() as db:
            t = time.time() if now is None else now
            self._record_outcome(db, source, subject, False, t)
            row = db.execute(
                "SELECT state, retry_at FROM breakers WHERE source = ?", (source,)
            ).fetchone()
            if row is None or row[0] != "open" or t < row[1]:
                # Closed already; or an answer to a request sent before the breaker opened:
                # the open period stands, and the probe decides once it is over.
                return
            db.execute(
                "UPDATE breakers SET state = 'closed', failures = 0, opens = 0, "
                "opened_at = NULL, retry_at = NULL, probe_until = NULL WHERE source = ?",
                (source,),
            )
            # Closed again: a fresh start, the outage's failures are forgotten.
            db.execute("DELETE FROM outcomes WHERE source = ? AND failed = 1", (source,))
        logger.warning("Circuit breaker for %s closed: the source answers again", source)

    def record_failure(
        self, source: str, *, error: str, subject: str = "", now: float | None = None
    ) -> None:
        check_source(source)
        error = clean_error_code(error)
        subject = subject_fingerprint(subject)
        config = self.config
        transition = ""
        with self._transaction() as db:
            t = time.time() if now is None else now
            known, failed, answered = self._record_outcome(db, source, subject, True, t)
            tripped = config.tripped(failed, failed + answered)
            row = db.execute(
                "SELECT state, opens, retry_at FROM breakers WHERE source = ?", (source,)
            ).fetchone()
            state, opens, retry_at = row or ("closed", 0, None)
            if state == "open" and retry_at is not None and t >= retry_at:
                # Half-open: this is the probe (or an answer that came after it).
                if known and not tripped:
                    # A request that was failing already, while others are answered: nothing
                    # new about the source. Stay half-open; another request probes at once.
                    transition = "probe_failed_alone"
                else:
                    transition, opens = "reopened", opens + 1
            elif state != "open" and tripped:
                transition, opens = "opened", 1
            db.execute(
                "INSERT INTO breakers (source, last_error) VALUES (?, ?) "
                "ON CONFLICT (source) DO UPDATE SET last_error = excluded.last_error",
                (source, error),
            )
            if transition == "probe_failed_alone":
                db.execute("UPDATE breakers SET probe_until = NULL WHERE source = ?", (source,))
            elif transition:
                retry_at = t + config.open_duration(opens)
                db.execute(
                    "UPDATE breakers SET state = 'open', opens = ?, opened_at = ?, "
                    "last_opened_at = ?, retry_at = ?, probe_until = NULL WHERE source = ?",
                    (opens, t, t, retry_at, source),
                )
        retry_in = (retry_at - t) if retry_at is not None else 0.0
        log_transition(source, transition, failed, failed + answered, error, retry_in, config)

    def set_aside(self, source: str, *, subject: str, now: float | None = None) -> None:
        check_source(source)
        subject = subject_fingerprint(subject)
        with self._transaction() as db:
            t = time.time() if now is None else now
            self._prune(db, source, t)
            db.execute(
                "INSERT INTO set_aside (source, subject, until) VALUES (?, ?, ?) "
                "ON CONFLICT (source, subject) DO UPDATE SET until = excluded.until",
                (source, subject, t + self.config.set_aside_seconds),
            )
            db.execute("DELETE FROM outcomes WHERE source = ? AND subject = ?", (source, subject))

    # --- Dashboard and admin ----------------------------------------------------------------

    def breaker(
        self, source: str, *, now: float | None = None, with_rates: bool = True
    ) -> BreakerState:
        check_source(source)
        db = self._connection()
        t = time.time() if now is None else now
        # One read transaction for a consistent picture.
        db.execute("BEGIN")
        try:
            return self._read_state(db, source, t, with_rates)
        finally:
            db.execute("COMMIT")

    def _read_state(
        self, db: sqlite3.Connection, source: str, t: float, with_rates: bool = True
    ) -> BreakerState:
        margin = self.config.margin
        br = db.execute(
            "SELECT state, opened_at, retry_at, last_error, last_opened_at FROM breakers "
            "WHERE source = ?",
            (source,),
        ).fetchone()
        state, opened_at, retry_at, last_error, last_opened_at = br or (
            "closed",
            None,
            None,
            "",
            None,
        )
        failures, subjects = db.execute(
            "SELECT COALESCE(SUM(failed), 0), COUNT(*) FROM outcomes WHERE source = ? AND ts > ?",
            (source, t - self.config.failure_window),
        ).fetchone()
        (alone,) = db.execute(
            "SELECT COUNT(*) FROM set_aside WHERE source = ? AND until > ?", (source, t)
        ).fetchone()
        if state == "open" and retry_at is not None and t >= retry_at:
            state = "half_open"
        cd = db.execute(
            "SELECT until, reason FROM cooldowns WHERE source = ? AND until > ?", (source, t)
        ).fetchone()

        uses: list[RateUse] = []
        server_remaining: int | None = None
        server_reset: float | None = None
        keys, windows = [], {}
        if with_rates:
            keys = db.execute(
                "SELECT DISTINCT bucket FROM grants WHERE bucket LIKE ? ORDER BY bucket",
                (f"{source}:%",),
            ).fetchall()
            windows = {
                row[0]: row[1:]
                for row in db.execute(
                    "SELECT scope, learned_limit, learned_at, budget, reset_at "
                    "FROM server_windows WHERE scope LIKE ?",
                    (f"{source}:%",),
                )
            }
        for key in sorted({k for (k,) in keys} | set(windows)):
            kind, _, ident = key[len(source) + 1 :].partition(":")
            if kind == "server":
                learned, learned_at, budget, reset = windows.get(key, (None, None, None, None))
                rates: tuple[Rate, ...] = ()
                if learned and t - learned_at < _LEARNED_TTL:
                    rates = (Rate(learned, SERVER_WINDOW),)
                live = reset is not None and t < reset
                if live and (server_remaining is None or budget < server_remaining):
                    server_remaining, server_reset = max(budget, 0), reset
            else:
                rates = self.configured_rate(source, kind)
            for rate in rates:
                (used,) = db.execute(
                    "SELECT COUNT(*) FROM grants WHERE bucket = ? AND ts > ?",
                    (key, t - rate.window - margin),
                ).fetchone()
                label = kind if kind == "source" else f"{kind}:{ident}"
                uses.append(RateUse(label, rate.limit, rate.window, used))
        return BreakerState(
            source=source,
            state=state,
            failures=failures,
            subjects=subjects,
            failing_alone=alone,
            last_opened_at=last_opened_at,
            opened_at=opened_at,
            retry_at=retry_at if state != "closed" else None,
            last_error=last_error,
            cooldown_until=cd[0] if cd else None,
            cooldown_reason=cd[1] if cd else "",
            server_remaining=server_remaining,
            server_reset_at=server_reset,
            rates=tuple(uses),
        )

    def breakers(self, *, now: float | None = None) -> dict[str, BreakerState]:
        db = self._connection()
        known = {source for (source,) in db.execute("SELECT source FROM breakers")}
        return {
            source: self.breaker(source, now=now) for source in sorted(set(self.sources()) | known)
        }

    def hold(self, key: str, seconds: float) -> bool:
        now = time.time()
        with self._transaction() as db:
            db.execute("DELETE FROM holds WHERE key = ? AND until <= ?", (key, now))
            taken = db.execute(
                "INSERT OR IGNORE INTO holds (key, until) VALUES (?, ?)", (key, now + seconds)
            ).rowcount
        return bool(taken)

    def release(self, key: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM holds WHERE key = ?", (key,))

    def reset(self, source: str | None = None) -> None:
        with self._transaction() as db:
            if source is None:
                db.execute("DELETE FROM breakers")
                db.execute("DELETE FROM cooldowns")
                db.execute("DELETE FROM outcomes")
                db.execute("DELETE FROM set_aside")
            else:
                check_source(source)
                for table in ("breakers", "cooldowns", "outcomes", "set_aside"):
                    db.execute(f"DELETE FROM {table} WHERE source = ?", (source,))  # noqa: S608
        logger.warning("Circuit breaker and cooldown reset by an admin for %s", source or "all")
