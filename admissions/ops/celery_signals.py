"""The log context in Celery tasks, and the dispatcher's heartbeat.

* A task sent while handling a web request (or inside another task) carries the request id in
  its message headers (``vigie_request_id``), not in its arguments: the task signatures do not
  change. The dispatcher's sends are the exception: it sends work on behalf of many requests, so
  what it sends carries no request id of its own.
* Around each task, the log context holds the task's id and name, the request id it carries,
  and for ``verifications.verification_run`` the verification request's id.
* Each successful run of ``verifications.dispatch`` (beat's 2-second tick) records its time
  (``admissions.ops.heartbeat``), which ``/readyz`` and ``/metrics`` read.

Connected once by ``AdmissionsConfig.ready`` (web, workers and beat all set up Django).
"""

from typing import Any

from celery.signals import before_task_publish, task_postrun, task_prerun

from admissions.ops import context


HEADER = "vigie_request_id"
DISPATCH_TASK = "verifications.dispatch"
RUN_TASK = "verifications.verification_run"
# Tasks whose sends are not on behalf of the request that started them.
_NO_PROPAGATION = {DISPATCH_TASK}
_TOKENS = "_vigie_log_tokens"


def add_request_id(headers: dict | None = None, **kwargs: Any) -> None:
    request_id = context.get("request_id")
    if headers is None or not request_id or context.get("task") in _NO_PROPAGATION:
        return
    headers.setdefault(HEADER, request_id)


def _request_id_of(task: Any) -> str | None:
    request = task.request
    value = getattr(request, HEADER, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(HEADER)
    return context.valid_request_id(value if isinstance(value, str) else None)


def bind_task(
    task_id: str | None = None,
    task: Any = None,
    args: tuple | None = None,
    kwargs: dict | None = None,
    **extra: Any,
) -> None:
    if task is None:
        return
    verification_request_id = None
    if task.name == RUN_TASK:
        verification_request_id = (kwargs or {}).get("request_id") or (args or [None])[0]
    tokens = context.bind(
        request_id=_request_id_of(task),
        task_id=task_id,
        task=task.name,
        verification_request_id=verification_request_id,
        user_id=None,
        institution_id=None,
    )
    setattr(task.request, _TOKENS, tokens)


def unbind_task(task: Any = None, state: str | None = None, **extra: Any) -> None:
    if task is None:
        return
    if task.name == DISPATCH_TASK and state == "SUCCESS":
        from admissions.ops import heartbeat

        heartbeat.record(heartbeat.DISPATCH_TICK)
    tokens = getattr(task.request, _TOKENS, None)
    if tokens:
        context.unbind(tokens)
        setattr(task.request, _TOKENS, None)


def connect() -> None:
    before_task_publish.connect(add_request_id, weak=False, dispatch_uid="vigie-request-id")
    task_prerun.connect(bind_task, weak=False, dispatch_uid="vigie-log-context")
    task_postrun.connect(unbind_task, weak=False, dispatch_uid="vigie-log-context")
