"""The production backend: shared state in Redis, for every process on every machine.

Each operation is one Lua script, so Redis runs it atomically: ``acquire`` checks the cooldown,
the breaker and every bucket, then records the grant in all of them, or in none; two workers
can never both take the last slot, and exactly one of them can take the half-open probe. The
scripts read the time from Redis (``TIME``), so the clocks of the worker machines do not matter;
tests pass ``now`` instead.

Keys live under ``vigie:limits:{<source>}:`` (the hash tag keeps one source's keys in one
Redis Cluster slot): ``br`` (breaker hash), ``cd`` (cooldown hash), ``fl`` and ``ok`` (the
breaker's window: sorted sets of subject fingerprints by the time of their latest outcome,
failed or answered; a subject is in one of them at most), ``al`` (subjects set aside as
failing alone, by the time until which they are), ``log:<bucket>`` (sorted sets of
grant times) and ``srv:<scope>`` (what the server's headers said). A token and a subject appear
only as fingerprints.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from verifications.providers.limits.base import (
    DEFAULT_FLIGHT,
    EPOCH_FLOOR,
    MAX_SERVER_WAIT,
    SEND_DELAY_HALF_LIFE,
    SERVER_CLOCK_MARGIN,
    SERVER_WINDOW,
    Admission,
    BreakerState,
    Limiter,
    LimiterUnavailable,
    LimitsConfig,
    Rate,
    RateUse,
    check_source,
    clean_error_code,
    log_transition,
    subject_fingerprint,
)


logger = logging.getLogger(__name__)

PREFIX = "vigie:limits:"
_LEARNED_TTL = 86400
# What a worker is told to wait when Redis cannot be reached: fail closed, never send unchecked.
_UNAVAILABLE_WAIT = 2.0

# Shared by every script: the clock, and exact number formatting (Lua's tostring keeps only 14
# digits, too few for epoch seconds with microseconds).
_PRELUDE = """
local function fmt(x) return string.format('%.17g', x) end
local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

# KEYS: 1 breaker, 2 cooldown, 3 server hash, 4 server log, 5.. bucket logs.
# ARGV: 1 now, 2 nonce, 3 probe lease, 4 learned-rate window, 5 server-log keep, 6 epsilon,
#       then per bucket log: label, keep, k, then k pairs (limit, window).
_ACQUIRE = (
    _PRELUDE
    + """
local cd_until = tonumber(redis.call('HGET', KEYS[2], 'until'))
if cd_until and now < cd_until then
  return {0, fmt(cd_until - now), 'cooldown', fmt(now)}
end

local probe = false
local br = redis.call('HMGET', KEYS[1], 'state', 'retry_at', 'probe_until')
if br[1] == 'open' then
  local retry_at = tonumber(br[2]) or 0
  if now < retry_at then return {0, fmt(retry_at - now), 'breaker', fmt(now)} end
  local probe_until = tonumber(br[3])
  if probe_until and now < probe_until then
    return {0, fmt(probe_until - now), 'breaker', fmt(now)}
  end
  probe = true
end

local eps = tonumber(ARGV[6])
-- Prune a log, then how long until one more grant fits under every rate (nil: it fits now).
local function blocked(key, keep, rates)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now - keep))
  local wait = nil
  for _, rate in ipairs(rates) do
    local limit, window = rate[1], rate[2]
    local lower = '(' .. fmt(now - window)
    if redis.call('ZCOUNT', key, lower, '+inf') >= limit then
      -- The rate frees a slot when its limit-th newest grant leaves the window.
      local b = redis.call('ZREVRANGEBYSCORE', key, '+inf', lower,
                           'WITHSCORES', 'LIMIT', limit - 1, 1)
      local w = tonumber(b[2]) + window - now + eps
      if not wait or w > wait then wait = w end
    end
  end
  return wait
end

local worst, worst_label = nil, nil
local keeps = {}
local i = 7
for k = 5, #KEYS do
  local label, keep, n = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  i = i + 3
  local rates = {}
  for j = 1, n do
    rates[j] = {tonumber(ARGV[i]), tonumber(ARGV[i + 1])}
    i = i + 2
  end
  keeps[k] = keep
  local w = blocked(KEYS[k], keep, rates)
  if w and (not worst or w > worst) then worst, worst_label = w, label end
end

local srv = redis.call('HMGET', KEYS[3], 'limit', 'budget', 'reset_at')
local learned = tonumber(srv[1])
local srates = {}
if learned and learned > 0 then srates = {{learned, tonumber(ARGV[4])}} end
keeps[4] = tonumber(ARGV[5])
local w = blocked(KEYS[4], keeps[4], srates)
local budget, reset_at = tonumber(srv[2]), tonumber(srv[3])
local live = budget and reset_at and now < reset_at
if live and budget <= 0 and (not w or reset_at - now > w) then w = reset_at - now end
if w and (not worst or w > worst) then worst, worst_label = w, 'server' end

if worst then return {0, fmt(worst), 'rate:' .. worst_label, fmt(now)} end

for k = 4, #KEYS do
  redis.call('ZADD', KEYS[k], fmt(now), ARGV[2] .. ':' .. k)
  redis.call('PEXPIRE', KEYS[k], math.ceil(keeps[k] * 1000) + 1000)
end
if live then redis.call('HINCRBY', KEYS[3], 'budget', -1) end
if probe then redis.call('HSET', KEYS[1], 'probe_until', fmt(now + tonumber(ARGV[3]))) end
return {1, '0', probe and 'probe' or '', fmt(now)}
"""
)

# KEYS: 1 server hash, 2 server log.
# ARGV: 1 now, 2 limit, 3 remaining, 4 reset_at, 5 sent_at ('' when unknown), 6 margin,
#       7 server window, 8 default flight, 9 server-log keep, 10 ttl, 11 epoch floor,
#       12 max wait, 13 server clock margin.
_OBSERVE = (
    _PRELUDE
    + """
local limit, remaining = tonumber(ARGV[2]), tonumber(ARGV[3])
local reset, sent = tonumber(ARGV[4]), tonumber(ARGV[5])
local margin = tonumber(ARGV[6])
if limit and limit > 0 then redis.call('HSET', KEYS[1], 'limit', limit) end
if remaining then
  -- The server's reset time is on its clock: keep a margin for skew; without one, assume a
  -- whole window. The delta-seconds form is accepted, and a far reset is capped.
  if not reset then
    reset = now + tonumber(ARGV[7])
  elseif reset < tonumber(ARGV[11]) then
    reset = now + math.max(reset, 0)
  end
  reset = math.min(reset, now + tonumber(ARGV[12])) + tonumber(ARGV[13])
  -- Grants since the request left may not have been counted by the server yet; the request
  -- itself has been (the answer is about it).
  local ref = now - tonumber(ARGV[8])
  if sent then ref = sent - margin end
  ref = math.max(ref, now - tonumber(ARGV[9]))
  local since = redis.call('ZCOUNT', KEYS[2], '(' .. fmt(ref), '+inf')
  if sent then since = math.max(since - 1, 0) end
  local fresh = math.max(remaining, 0) - since
  local cur = redis.call('HMGET', KEYS[1], 'budget', 'reset_at')
  local budget, wend = tonumber(cur[1]), tonumber(cur[2])
  if not (budget and wend and now < wend) or reset > wend + 1 then
    budget, wend = fresh, reset
  elseif reset >= wend - 1 then
    budget = math.min(budget, fresh)
  end
  redis.call('HSET', KEYS[1], 'budget', budget, 'reset_at', fmt(wend))
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[10]))
return 1
"""
)

# KEYS: 1 cooldown. ARGV: 1 now, 2 seconds, 3 reason, 4 max wait.
_PAUSE = (
    _PRELUDE
    + """
local untilv = now + math.min(math.max(tonumber(ARGV[2]), 0), tonumber(ARGV[4]))
local cur = tonumber(redis.call('HGET', KEYS[1], 'until'))
if not cur or untilv > cur then
  redis.call('HSET', KEYS[1], 'until', fmt(untilv), 'reason', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil((untilv - now) * 1000) + 1000)
end
return 1
"""
)

# The breaker's window. KEYS: 1 breaker, 2 failed subjects, 3 answered subjects, 4 subjects
# set aside as failing alone (scores: until when). ``prune`` drops what has left the window.
_WINDOW = """
local function prune(window)
  local lower = fmt(now - window)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', lower)
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', lower)
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', fmt(now))
  local ttl = math.ceil(window * 1000) + 1000
  return ttl
end
"""

# ARGV: 1 now, 2 error, 3 threshold, 4 open seconds, 5 max open seconds, 6 window, 7 share,
#       8 subject.
_FAILURE = (
    _PRELUDE
    + _WINDOW
    + """
local ttl = prune(tonumber(ARGV[6]))
local subject = ARGV[8]
-- A subject set aside as failing alone is no evidence about the source.
local alone = redis.call('ZSCORE', KEYS[4], subject) ~= false
local known = alone or redis.call('ZSCORE', KEYS[2], subject) ~= false
redis.call('ZREM', KEYS[3], subject)
if not alone then redis.call('ZADD', KEYS[2], fmt(now), subject) end
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PEXPIRE', KEYS[3], ttl)
local failed = redis.call('ZCARD', KEYS[2])
local answered = redis.call('ZCARD', KEYS[3])
local tripped = failed >= tonumber(ARGV[3]) and failed >= tonumber(ARGV[7]) * (failed + answered)
local st = redis.call('HMGET', KEYS[1], 'state', 'opens', 'retry_at')
local state = st[1] or 'closed'
local opens = tonumber(st[2]) or 0
local retry_at = tonumber(st[3]) or 0
local transition = ''
if state == 'open' and now >= retry_at then
  -- Half-open: this is the probe (or an answer that came after it).
  if known and not tripped then
    -- A request that was failing already, while others are answered: nothing new about the
    -- source. Stay half-open and let another request probe at once.
    transition = 'probe_failed_alone'
    redis.call('HDEL', KEYS[1], 'probe_until')
  else
    transition, opens = 'reopened', opens + 1
  end
elseif state ~= 'open' and tripped then
  transition, opens = 'opened', 1
end
if transition == 'opened' or transition == 'reopened' then
  retry_at = now + math.min(tonumber(ARGV[4]) * 2 ^ (opens - 1), tonumber(ARGV[5]))
  redis.call('HSET', KEYS[1], 'state', 'open', 'opens', opens, 'opened_at', fmt(now),
             'last_opened_at', fmt(now), 'retry_at', fmt(retry_at))
  redis.call('HDEL', KEYS[1], 'probe_until')
end
redis.call('HSET', KEYS[1], 'last_error', ARGV[2])
return {transition, failed, failed + answered, fmt(retry_at - now)}
"""
)

# ARGV: 1 now, 2 window, 3 subject.
_SUCCESS = (
    _PRELUDE
    + _WINDOW
    + """
local ttl = prune(tonumber(ARGV[2]))
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZREM', KEYS[4], ARGV[3])
redis.call('ZADD', KEYS[3], fmt(now), ARGV[3])
redis.call('PEXPIRE', KEYS[3], ttl)
local st = redis.call('HMGET', KEYS[1], 'state', 'retry_at')
if st[1] ~= 'open' then return '' end
-- An answer to a request sent before the breaker opened: the open period stands.
if now < (tonumber(st[2]) or 0) then return '' end
redis.call('HSET', KEYS[1], 'state', 'closed', 'opens', 0)
redis.call('HDEL', KEYS[1], 'opened_at', 'retry_at', 'probe_until')
-- Closed again: a fresh start, the outage's failures are forgotten.
redis.call('DEL', KEYS[2])
return 'open'
"""
)

# ARGV: 1 now, 2 window, 3 subject, 4 seconds.
_ALONE = (
    _PRELUDE
    + _WINDOW
    + """
prune(tonumber(ARGV[2]))
local untilv = now + tonumber(ARGV[4])
redis.call('ZADD', KEYS[4], fmt(untilv), ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[3])
local last = redis.call('ZREVRANGE', KEYS[4], 0, 0, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[4], math.ceil(tonumber(last[2]) * 1000) + 1000)
return 1
"""
)


# KEYS: 1 the source's send-delay hash. ARGV: 1 now, 2 the delay measured, 3 half-life.
# The hash keeps the largest delay, decayed by half every half-life (``base.decayed_delay``).
_DELAY_NOTE = (
    _PRELUDE
    + """
local v = tonumber(redis.call('HGET', KEYS[1], 'v')) or 0
local at = tonumber(redis.call('HGET', KEYS[1], 'at')) or now
local half = tonumber(ARGV[3])
v = v * math.pow(0.5, math.max(now - at, 0) / half)
local sample = tonumber(ARGV[2])
if sample > v then v = sample end
redis.call('HSET', KEYS[1], 'v', fmt(v), 'at', fmt(now))
redis.call('EXPIRE', KEYS[1], math.ceil(half * 20))
return fmt(v)
"""
)
# KEYS: 1 the send-delay hash. ARGV: 1 now, 2 half-life. Returns the decayed delay.
_DELAY_READ = (
    _PRELUDE
    + """
local v = tonumber(redis.call('HGET', KEYS[1], 'v'))
if not v then return '0' end
local at = tonumber(redis.call('HGET', KEYS[1], 'at')) or now
return fmt(v * math.pow(0.5, math.max(now - at, 0) / tonumber(ARGV[2])))
"""
)


def _arg(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisLimiter(Limiter):
    """``Limiter`` over Redis: correct for every process on every machine."""

    def __init__(self, config: LimitsConfig, url: str) -> None:
        super().__init__(config)
        # Short timeouts and a single retry: a worker asking for a slot must get an answer in
        # a second or two, even when Redis is gone (it is then refused: fail closed).
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
            retry=Retry(NoBackoff(), 1),
            health_check_interval=30,
        )
        self._acquire = self.client.register_script(_ACQUIRE)
        self._observe = self.client.register_script(_OBSERVE)
        self._pause = self.client.register_script(_PAUSE)
        self._delay_note = self.client.register_script(_DELAY_NOTE)
        self._delay_read = self.client.register_script(_DELAY_READ)
        self._failure = self.client.register_script(_FAILURE)
        self._success = self.client.register_script(_SUCCESS)
        self._alone = self.client.register_script(_ALONE)

    def close(self) -> None:
        self.client.close()

    @staticmethod
    def _key(kind: str, key: str) -> str:
        """``api_particulier:token:ab`` → ``vigie:limits:{api_particulier}:log:token:ab``."""
        source, _, rest = key.partition(":")
        return f"{PREFIX}{{{source}}}:{kind}:{rest}" if rest else f"{PREFIX}{{{source}}}:{kind}"

    def _now(self, now: float | None) -> float:
        if now is not None:
            return now
        seconds, micros = self.client.time()
        return seconds + micros / 1_000_000

    # --- Admission --------------------------------------------------------------------------

    def acquire(self, source: str, *, token: str = "", now: float | None = None) -> Admission:
        buckets = self.buckets(source, token, now=now)
        scope = self.server_scope(source, token)
        margin = self.config.margin
        keys = [
            self._key("br", source),
            self._key("cd", source),
            self._key("srv", scope),
            self._key("log", scope),
            *(self._key("log", bucket.key) for bucket in buckets),
        ]
        args: list[str | int] = [
            _arg(now),
            uuid.uuid4().hex,
            _arg(self.config.probe_seconds),
            _arg(SERVER_WINDOW + margin),
            _arg(self.server_keep),
            _arg(0.001),
        ]
        for bucket in buckets:
            args += [bucket.label, _arg(bucket.keep), len(bucket.rates)]
            for rate in bucket.rates:
                args += [rate.limit, _arg(rate.window)]
        try:
            granted, wait, reason, at = self._acquire(keys=keys, args=args)
        except redis.RedisError as exc:
            logger.warning(
                "Rate limiter unavailable (%s): %s refused for now", type(exc).__name__, source
            )
            return Admission(
                False, _UNAVAILABLE_WAIT, "unavailable:limiter", time.time() if now is None else now
            )
        reason = _text(reason)
        if granted:
            if reason == "probe":
                logger.info("Circuit breaker for %s is half-open: one probe let through", source)
            return Admission(True, 0.0, "", float(at))
        if reason.startswith("rate:"):
            reason = f"rate:{source}:{reason[5:]}"
        else:
            reason = f"{reason}:{source}"
        return Admission(False, float(wait), reason, float(at))

    def note_send_delay(self, source: str, seconds: float, *, now: float | None = None) -> None:
        check_source(source)
        try:
            self._delay_note(
                keys=[self._key("delay", source)],
                args=[_arg(now), _arg(max(seconds, 0.0)), _arg(SEND_DELAY_HALF_LIFE)],
            )
        except redis.RedisError as exc:
            logger.warning(
                "Rate limiter unavailable (%s): send delay not noted", type(exc).__name__
            )

    def _read_send_delay(self, source: str, *, now: float | None) -> float:
        try:
            return float(
                _text(
                    self._delay_read(
                        keys=[self._key("delay", source)],
                        args=[_arg(now), _arg(SEND_DELAY_HALF_LIFE)],
                    )
                )
            )
        except redis.RedisError:
            # acquire() refuses anyway when Redis is down; keep the last value read.
            cached = self._delays.get(source)
            return cached[0] if cached else 0.0

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
        try:
            self._observe(
                keys=[self._key("srv", scope), self._key("log", scope)],
                args=[
                    _arg(now),
                    "" if limit is None else int(limit),
                    "" if remaining is None else int(remaining),
                    _arg(reset_at),
                    _arg(sent_at),
                    _arg(self.config.margin),
                    _arg(SERVER_WINDOW),
                    _arg(DEFAULT_FLIGHT),
                    _arg(self.server_keep),
                    _LEARNED_TTL,
                    _arg(EPOCH_FLOOR),
                    _arg(MAX_SERVER_WAIT),
                    _arg(SERVER_CLOCK_MARGIN),
                ],
            )
        except redis.RedisError as exc:
            logger.warning(
                "Rate limiter unavailable (%s): headers of %s lost", type(exc).__name__, source
            )

    def pause(
        self, source: str, seconds: float, *, reason: str = "429", now: float | None = None
    ) -> None:
        check_source(source)
        reason = clean_error_code(reason)
        try:
            self._pause(
                keys=[self._key("cd", source)],
                args=[_arg(now), _arg(seconds), reason, _arg(MAX_SERVER_WAIT)],
            )
        except redis.RedisError as exc:
            logger.error(
                "Rate limiter unavailable (%s): could not pause %s for %.1f s",
                type(exc).__name__,
                source,
                seconds,
            )
            return
        logger.warning("Source %s paused for %.1f s (%s)", source, seconds, reason)

    # --- Breaker ----------------------------------------------------------------------------

    def _window_keys(self, source: str) -> list[str]:
        return [self._key(kind, source) for kind in ("br", "fl", "ok", "al")]

    def record_success(self, source: str, *, subject: str = "", now: float | None = None) -> None:
        check_source(source)
        try:
            previous = _text(
                self._success(
                    keys=self._window_keys(source),
                    args=[
                        _arg(now),
                        _arg(self.config.failure_window),
                        subject_fingerprint(subject),
                    ],
                )
            )
        except redis.RedisError as exc:
            logger.warning(
                "Rate limiter unavailable (%s): success of %s lost", type(exc).__name__, source
            )
            return
        if previous == "open":
            logger.warning("Circuit breaker for %s closed: the source answers again", source)

    def record_failure(
        self, source: str, *, error: str, subject: str = "", now: float | None = None
    ) -> None:
        check_source(source)
        error = clean_error_code(error)
        config = self.config
        try:
            transition, failed, subjects, retry_in = self._failure(
                keys=self._window_keys(source),
                args=[
                    _arg(now),
                    error,
                    config.failure_threshold,
                    _arg(config.open_seconds),
                    _arg(config.max_open_seconds),
                    _arg(config.failure_window),
                    _arg(config.failure_share),
                    subject_fingerprint(subject),
                ],
            )
        except redis.RedisError as exc:
            logger.warning(
                "Rate limiter unavailable (%s): failure of %s lost", type(exc).__name__, source
            )
            return
        log_transition(
            source, _text(transition), int(failed), int(subjects), error, float(retry_in), config
        )

    def set_aside(self, source: str, *, subject: str, now: float | None = None) -> None:
        check_source(source)
        try:
            self._alone(
                keys=self._window_keys(source),
                args=[
                    _arg(now),
                    _arg(self.config.failure_window),
                    subject_fingerprint(subject),
                    _arg(self.config.set_aside_seconds),
                ],
            )
        except redis.RedisError as exc:
            logger.warning(
                "Rate limiter unavailable (%s): a request of %s failing alone not set aside",
                type(exc).__name__,
                source,
            )

    # --- Dashboard and admin ----------------------------------------------------------------

    def breaker(
        self, source: str, *, now: float | None = None, with_rates: bool = True
    ) -> BreakerState:
        check_source(source)
        try:
            return self._read_state(source, now, with_rates)
        except redis.RedisError as exc:
            raise LimiterUnavailable(str(exc)) from exc

    def _read_state(self, source: str, now: float | None, with_rates: bool) -> BreakerState:
        t = self._now(now)
        margin = self.config.margin
        br = {_text(k): _text(v) for k, v in self.client.hgetall(self._key("br", source)).items()}
        cd = {_text(k): _text(v) for k, v in self.client.hgetall(self._key("cd", source)).items()}
        state = br.get("state", "closed")
        retry_at = float(br["retry_at"]) if "retry_at" in br else None
        if state == "open" and retry_at is not None and t >= retry_at:
            state = "half_open"
        cooldown_until = float(cd["until"]) if "until" in cd else None
        if cooldown_until is not None and cooldown_until <= t:
            cooldown_until = None

        base = f"{PREFIX}{{{source}}}:"
        uses: list[RateUse] = []
        server_remaining: int | None = None
        server_reset: float | None = None
        log_keys = (
            sorted(_text(k) for k in self.client.scan_iter(match=f"{base}log:*", count=200))
            if with_rates
            else []
        )
        for key in log_keys:
            bucket = key[len(base) + len("log:") :]
            kind, _, ident = bucket.partition(":")
            if kind == "server":
                srv = self.client.hmget(f"{base}srv:{bucket}", "limit", "budget", "reset_at")
                limit, budget, reset = (None if v is None else float(v) for v in srv)
                rates: tuple[Rate, ...] = (Rate(int(limit), SERVER_WINDOW),) if limit else ()
                if (
                    budget is not None
                    and reset is not None
                    and t < reset
                    and (server_remaining is None or budget < server_remaining)
                ):
                    server_remaining, server_reset = max(int(budget), 0), reset
            else:
                rates = self.configured_rate(source, kind)
            for rate in rates:
                lower = t - rate.window - margin
                used = self.client.zcount(key, f"({lower!r}", "+inf")
                label = kind if kind == "source" else f"{kind}:{ident}"
                uses.append(RateUse(label, rate.limit, rate.window, int(used)))
        since = f"({t - self.config.failure_window!r}"
        failed = int(self.client.zcount(self._key("fl", source), since, "+inf"))
        answered = int(self.client.zcount(self._key("ok", source), since, "+inf"))
        alone = int(self.client.zcount(self._key("al", source), f"({t!r}", "+inf"))
        return BreakerState(
            source=source,
            state=state,
            failures=failed,
            subjects=failed + answered,
            failing_alone=alone,
            last_opened_at=float(br["last_opened_at"]) if "last_opened_at" in br else None,
            opened_at=float(br["opened_at"]) if "opened_at" in br else None,
            retry_at=retry_at if state != "closed" else None,
            last_error=br.get("last_error", ""),
            cooldown_until=cooldown_until,
            cooldown_reason=cd.get("reason", "") if cooldown_until else "",
            server_remaining=server_remaining,
            server_reset_at=server_reset,
            rates=tuple(uses),
        )

    def breakers(self, *, now: float | None = None) -> dict[str, BreakerState]:
        try:
            known = {
                _text(key)[len(PREFIX) + 1 : -len("}:br")]
                for key in self.client.scan_iter(match=f"{PREFIX}{{*}}:br", count=200)
            }
        except redis.RedisError as exc:
            raise LimiterUnavailable(str(exc)) from exc
        return {
            source: self.breaker(source, now=now) for source in sorted(set(self.sources()) | known)
        }

    def hold(self, key: str, seconds: float) -> bool:
        try:
            return bool(
                self.client.set(f"{PREFIX}hold:{key}", 1, nx=True, px=max(1, int(seconds * 1000)))
            )
        except redis.RedisError as exc:
            # Fail closed, as acquire does: better wait than risk a 409 or a ban.
            logger.warning("limiter unavailable, hold refused: %s", exc)
            return False

    def release(self, key: str) -> None:
        try:
            self.client.delete(f"{PREFIX}hold:{key}")
        except redis.RedisError as exc:
            logger.warning("limiter unavailable, hold kept until it expires: %s", exc)

    def reset(self, source: str | None = None) -> None:
        try:
            if source is None:
                keys = [
                    key
                    for kind in ("br", "cd", "fl", "ok", "al")
                    for key in self.client.scan_iter(match=f"{PREFIX}{{*}}:{kind}", count=200)
                ]
            else:
                check_source(source)
                keys = [self._key(kind, source) for kind in ("br", "cd", "fl", "ok", "al")]
            if keys:
                self.client.delete(*keys)
        except redis.RedisError as exc:
            raise LimiterUnavailable(str(exc)) from exc
        logger.warning("Circuit breaker and cooldown reset by an admin for %s", source or "all")
