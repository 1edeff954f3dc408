"""Reads of the verification pipeline, scoped to the user's institution."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.db.models import (
    Count,
    Exists,
    F,
    Model,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Window,
)
from django.db.models.functions import RowNumber
from django.shortcuts import get_object_or_404
from django.utils import timezone

from admissions.models import Applicant, Institution, User
from admissions.selectors import applicant_search
from verifications import rematch
from verifications.access import import_verification_allowed
from verifications.certificates.rules import certifiable
from verifications.enums import (
    OPEN_STATES,
    PERSON_TRIGGERS,
    VERDICTS_NEEDING_ATTENTION,
    AttemptOutcome,
    BatchKind,
    BatchStatus,
    ClaimKind,
    RequestState,
    Source,
    Trigger,
    Verdict,
    claim_kind_order,
)
from verifications.freshness import EXPIRY_WARNING_DAYS, expiry_threshold
from verifications.models import (
    Batch,
    BatchExport,
    CertificateArchive,
    Claim,
    InstitutionCredential,
    SourceAlert,
    VerdictChange,
    VerificationAttempt,
    VerificationRequest,
)
from verifications.pipeline.questions import question_for
from verifications.rates import source_rate
from verifications.rematch import Variant
from verifications.verdicts.common import academic_year


# What "failed" means in a batch (its progress, and "Relancer les échecs",
# ``services.batches.batch_rerun_failed``): the source gave no answer about the person.
# ``unavailable``: it could not answer after the bounded retries (timeouts, 5xx, breaker open);
# ``rejected``: it refused the request itself (token, rights, parameters), which an admin may
# since have fixed. Every other verdict is an answer (``not_found`` included) and is kept.
RERUNNABLE_VERDICTS = frozenset({Verdict.UNAVAILABLE, Verdict.REJECTED})


if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def _institution_id(user: User) -> int | None:
    if not user.is_authenticated:
        return None
    return user.institution_id


def claims_for_user(user: User) -> QuerySet[Claim]:
    institution_id = _institution_id(user)
    if institution_id is None:
        return Claim.objects.none()
    return Claim.objects.filter(institution_id=institution_id)


def claim_get_for_user(*, user: User, claim_id: int) -> Claim:
    return get_object_or_404(claims_for_user(user).select_related("applicant"), pk=claim_id)


def claims_for_applicant(*, user: User, applicant: Applicant) -> QuerySet[Claim]:
    return claims_for_user(user).filter(applicant=applicant).order_by(claim_kind_order(), "id")


def batches_for_user(user: User) -> QuerySet[Batch]:
    institution_id = _institution_id(user)
    if institution_id is None:
        return Batch.objects.none()
    return Batch.objects.filter(institution_id=institution_id)


def batch_get_for_user(*, user: User, batch_id: int) -> Batch:
    return get_object_or_404(batches_for_user(user), pk=batch_id)


def import_has_unchecked_claims(*, user: User, batch: Batch) -> bool:
    """Whether an import still has claims never checked: "Vérifier les déclarations
    importées" is offered only then (a click with nothing left to check was a dead end)."""
    return claims_for_user(user).filter(applicant__batch=batch, verdict="").exists()


def import_verification_latest(*, user: User, batch: Batch) -> Batch | None:
    """The latest verification of an import's claims ("Vérifier les déclarations importées",
    or the checks of an institution that verifies claims as soon as they are recorded)."""
    return (
        batches_for_user(user)
        .filter(kind=BatchKind.VERIFICATION, import_batch=batch)
        .order_by("-created_at", "-pk")
        .first()
    )


def applicant_list_search(
    *,
    user: User,
    q: str = "",
    verdict: str = "",
    kind: str = "",
    batch_id: int | None = None,
    needs_me: bool = False,
    order_by: tuple[str, ...] = ("birth_name", "id"),
) -> QuerySet[Applicant]:
    """The applicant list: the applicant domain's search (``admissions.selectors
    .applicant_search``: names, INE, file reference, import batch), filtered by a claim's verdict
    and kind or on what needs a person, each applicant with the kind and verdict of its claims."""
    applicants = applicant_search(user=user, q=q, batch_id=batch_id, order_by=order_by)
    claims = Claim.objects.filter(applicant=OuterRef("pk"))
    if kind:
        claims = claims.filter(kind=kind)
    if verdict:
        claims = claims.filter(verdict="" if verdict == "unchecked" else verdict)
    if needs_me:
        claims = claims.filter(verdict__in=VERDICTS_NEEDING_ATTENTION)
    if kind or verdict or needs_me:
        applicants = applicants.filter(Exists(claims))
    # The list shows each claim's kind and verdict only: no declared data (JSON) read for it.
    claims_shown = Claim.objects.only("id", "applicant_id", "kind", "verdict")
    return applicants.prefetch_related(
        Prefetch("claims", queryset=claims_shown.order_by(claim_kind_order(), "id"))
    )


def requests_for_user(user: User) -> QuerySet[VerificationRequest]:
    if not user.is_authenticated or user.institution_id is None:
        return VerificationRequest.objects.none()
    return VerificationRequest.objects.filter(institution_id=user.institution_id)


def _of_institution[M: Model](
    user: User, queryset: QuerySet[M], lookup: str = "institution_id"
) -> QuerySet[M]:
    """The rows of ``queryset`` that belong to the user's institution (``lookup`` names the
    institution's id); none for a user without one, as ``requests_for_user``."""
    if user.institution_id is None:
        return queryset.none()
    return queryset.filter(**{lookup: user.institution_id})


@dataclass
class ClaimCard:
    """Everything one claim's card shows, each part for what it is (docs/REMATCHING.md):

    * ``answer``: the source's last answer to the claim's own question (verdict, reason,
      evidence, diff, the calls it took), always reachable; ``answer_current`` says whether it
      is about the declaration and identity as they stand now (after an edit it is about the
      previous ones, until a new check runs);
    * ``decision``: a person's decision (a manual verification or a supervisor's override)
      that stands on top of the source's answer, when it is the claim's current verdict;
    * ``variants``: the identity variants tried after a "not found", each with its outcome;
      ``proposals``: those a clerk may still try;
    * ``running``: the check under way, if any (``in_progress``, ``waiting_until``).
    """

    claim: Claim
    requests: list[VerificationRequest] = field(default_factory=list)  # newest first
    attempts_by_request: dict[int, list[VerificationAttempt]] = field(default_factory=dict)
    # The institution checks claims as soon as they are recorded, and this one was just typed,
    # edited or reset: its check is on its way (``ON_RECORD_WAIT``), the card follows it.
    check_expected: bool = False
    # The card's ETag (``claim_card_etags``), computed before the card was read: what its
    # polls send back (``If-None-Match``).
    etag: str = ""

    @property
    def polling(self) -> bool:
        return self.in_progress or self.check_expected

    @property
    def poll_backoff(self) -> bool:
        """Whether the card's polls may slow down while it stays the same: its check waits its
        turn (queued, or until ``not_before``), or has yet to arrive; not while a worker calls
        the source, whose answer comes within seconds."""
        running = self.running
        return running is None or running.state != RequestState.RUNNING

    @cached_property
    def running(self) -> VerificationRequest | None:
        return next((r for r in self.requests if r.state in OPEN_STATES), None)

    @property
    def in_progress(self) -> bool:
        return self.running is not None

    @property
    def waiting_until(self) -> datetime | None:
        running = self.running
        if running is None or running.state != RequestState.PENDING:
            return None
        nb = running.not_before
        return nb if nb is not None and nb > timezone.now() else None

    @cached_property
    def answer(self) -> VerificationRequest | None:
        return next(
            (
                r
                for r in self.requests
                if r.state == RequestState.DONE
                and not r.variant_key
                and r.trigger not in PERSON_TRIGGERS
            ),
            None,
        )

    @cached_property
    def answer_current(self) -> bool:
        return self.answer is not None and self._current(self.answer)

    @cached_property
    def decision(self) -> VerificationRequest | None:
        """The person's decision that gives the claim its verdict now, if one does."""
        for request in self.requests:
            if request.state != RequestState.DONE or request.variant_key:
                continue
            if request.trigger not in PERSON_TRIGGERS:
                return None  # a source answered after any decision: the decision is history
            if self._current(request) and request.verdict == self.claim.verdict:
                return request
            return None
        return None

    @cached_property
    def variant_verdict(self) -> VerificationRequest | None:
        """The variant whose answer gives the claim its verdict now: the source found it after
        the claim's own question went unanswered, and no answer or decision came since."""
        if self.decision is not None:
            return None
        answer = self.answer
        for request in self.variants:
            if (
                request.state == RequestState.DONE
                and rematch.found_verdict(request.verdict)
                and request.verdict == self.claim.verdict
                and request.finished_at is not None  # a done request has finished
                and (
                    answer is None
                    or answer.finished_at is None
                    or request.finished_at >= answer.finished_at
                )
            ):
                return request
        return None

    @property
    def request(self) -> VerificationRequest | None:
        """What gave the claim its current verdict: a person's decision, a variant the source
        found, else the source's answer."""
        return self.decision or self.variant_verdict or self.answer

    @property
    def certifiable(self) -> VerificationRequest | None:
        """The check a certificate may vouch for now (docs/CERTIFICATES.md): the one that gives
        the claim its verdict, finished, about the declaration as it stands."""
        request = self.request
        if self.in_progress or request is None or not certifiable(request, self.claim):
            return None
        return request

    @property
    def attempts(self) -> list[VerificationAttempt]:
        """The calls of the check under way, else those of the source's last answer."""
        shown = self.running or self.answer
        return self.attempts_by_request.get(shown.pk, []) if shown else []

    @cached_property
    def variants(self) -> list[VerificationRequest]:
        """The latest check of each variant tried for the record as it stands, newest first."""
        seen: set[str] = set()
        found = []
        for request in self.requests:
            if not request.variant_key or request.variant_key in seen:
                continue
            if request.variant.get("record") != self.claim.question_digest:
                continue
            seen.add(request.variant_key)
            found.append(request)
        return found

    @cached_property
    def proposals(self) -> list[Variant]:
        """The variants a clerk may try: the source's current answer is a "not found" a
        variant may turn into an answer, and these variants were not tried yet."""
        answer = self.answer
        if (
            answer is None
            or not self.answer_current
            or self.claim.verdict != Verdict.NOT_FOUND
            or not rematch.rematchable(answer.reason_code)
        ):
            return []
        tried = {request.variant_key for request in self.variants}
        identity, declared = question_for(self.claim)
        return [
            v
            for v in rematch.variants_for(self.claim.kind, identity, declared)
            if v.key not in tried
        ]

    @cached_property
    def corrections(self) -> list[VerificationRequest]:
        """Variants the source found that differ from the record in substance: each may
        correct it."""
        return [
            request
            for request in self.variants
            if request.state == RequestState.DONE and request.reason_code == "variant.found"
        ]

    def _current(self, request: VerificationRequest) -> bool:
        if request.question_digest:
            return request.question_digest == self.claim.question_digest
        # Checks recorded before questions had digests: about the current declaration unless
        # an edit has since reset the claim's verdict.
        return bool(self.claim.verdict)


_CLAIM_STATE = (
    "pk",
    "verdict",
    "verdict_reason",
    "verified_at",
    "valid_until",
    "question_digest",
    "updated_at",
)
# How long after a claim is typed, edited or reset its card waits for the check its
# institution asks for as soon as claims are recorded (sent by a task once the write commits:
# the page that follows the write may come first). A broker down longer leaves it "not
# checked", as ``admissions.verify_on_record`` says, and the card stops asking.
ON_RECORD_WAIT = timedelta(seconds=60)


def claim_cards(*, user: User, claims: list[Claim]) -> list[ClaimCard]:
    """Cards for these claims in three queries, whatever their number."""
    if not claims:
        return []
    by_claim: dict[int, list[VerificationRequest]] = {claim.pk: [] for claim in claims}
    requests = (
        requests_for_user(user)
        .filter(claim__in=claims)
        .select_related("requested_by")
        .order_by("claim_id", "-created_at", "-id")
    )
    for request in requests:
        by_claim[request.claim_id].append(request)
    # The claims' verdicts read again, after their requests: a check that ended in between
    # wrote its request and its claim in one transaction, so a request seen done has its
    # verdict on the claim read now (read before, the card would show the new answer under
    # the old verdict, and stop polling).
    by_pk = {claim.pk: claim for claim in claims}
    for row in Claim.objects.filter(pk__in=list(by_pk)).values(*_CLAIM_STATE):
        claim = by_pk[row["pk"]]
        for name in _CLAIM_STATE[1:]:
            setattr(claim, name, row[name])
    cards = [ClaimCard(claim=claim, requests=by_claim[claim.pk]) for claim in claims]
    since = timezone.now() - ON_RECORD_WAIT
    waiting = [
        card
        for card in cards
        if not card.in_progress
        and not card.claim.verdict
        and card.claim.updated_at is not None
        and card.claim.updated_at >= since
    ]
    institution_id = user.institution_id
    if (
        waiting
        and institution_id is not None
        and Institution.objects.filter(pk=institution_id, verify_on_record=True).exists()
    ):
        for card in waiting:
            card.check_expected = True
    shown = [card.running or card.answer for card in cards]
    attempts: dict[int, list[VerificationAttempt]] = {}
    ids = [request.pk for request in shown if request is not None]
    if ids:
        for attempt in VerificationAttempt.objects.filter(request__in=ids).order_by(
            "created_at", "id"
        ):
            attempts.setdefault(attempt.request_id, []).append(attempt)
    for card in cards:
        card.attempts_by_request = attempts
    return cards


def claim_cards_for_applicant(*, user: User, applicant: Applicant) -> list[ClaimCard]:
    claims = list(
        claims_for_user(user).filter(applicant=applicant).order_by(claim_kind_order(), "id")
    )
    for claim in claims:
        claim.applicant = applicant
    return claim_cards(user=user, claims=claims)


def claim_card(*, user: User, claim: Claim) -> ClaimCard:
    return claim_cards(user=user, claims=[claim])[0]


# Bump when the card's template changes what it shows for the same state: every open page's
# cards then load again once, after a deployment.
CARD_ETAG_VERSION = "1"


# Read for what they say now (waiting, a check expected), not hashed as they are.
_NOT_HASHED = frozenset({"wait", "verify_on_record"})


def claim_card_etag(*, user: User, claim_id: int, extra: str = "") -> str:
    """The ETag of one claim's card as ``user`` sees it now (``claim_card_etags``); raises
    ``Http404`` for a claim the user may not see, as ``claim_get_for_user``."""
    from django.http import Http404

    etag = claim_card_etags(user=user, claim_ids=[claim_id], extra=extra).get(claim_id)
    if etag is None:
        raise Http404
    return etag


def claim_card_etags(
    *,
    user: User,
    claim_ids: list[int] | None = None,
    applicant_id: int | None = None,
    extra: str = "",
) -> dict[int, str]:
    """The ETag of each of these claims' cards (or of the applicant's) as ``user`` sees them
    now, from one aggregate query (the claims and their requests, grouped), without loading
    the cards: what a card's poll compares to the one it already shows before anything is rendered
    (``views.claims.claim_card``, ``static/js/poll.js``). Claims the user may not see are left
    out.

    It covers everything the card shows that can change:

    * the claim: its declaration and verdict (``updated_at``, ``verdict``, ``valid_until``,
      ``verified_at``), the question it asks now (``question_digest``: an identity edit
      changes it, and with it whether the source's answer is current and which variants to
      propose);
    * its requests, the variants' included: how many and the newest (a check, a person's
      decision, a variant asked), how many are pending or running, the calls made and failed
      (``attempt_count``, ``failure_count``: an attempt row comes with each call), the latest
      end (a verdict recorded), the latest wait (``not_before``), the latest evidence purge;
    * what changes with time alone: whether the open check is waiting (its ``not_before``
      still ahead) and whether the card still expects the check its institution asks as soon
      as a claim is recorded (``ON_RECORD_WAIT``);
    * who looks, and how: the user and their role (the supervisor's forms), the language, and
      ``extra`` (the view passes the session's CSRF secret, which the card's forms carry).

    Not covered: the names of the people shown (who asked a check, who decided), which a
    rename changes on the card's next change only."""
    import hashlib

    from django.db.models import Max, Sum
    from django.utils.translation import get_language

    claims = claims_for_user(user)
    if claim_ids is not None:
        claims = claims.filter(pk__in=claim_ids)
    if applicant_id is not None:
        claims = claims.filter(applicant_id=applicant_id)
    open_filter = Q(requests__state__in=OPEN_STATES)
    rows = (
        claims.values(
            "pk", "updated_at", "verdict", "valid_until", "verified_at", "question_digest"
        )
        .annotate(
            verify_on_record=F("institution__verify_on_record"),
            n=Count("requests"),
            newest=Max("requests__id"),
            pending=Count("requests", filter=Q(requests__state=RequestState.PENDING)),
            running=Count("requests", filter=Q(requests__state=RequestState.RUNNING)),
            calls=Sum("requests__attempt_count"),
            failures=Sum("requests__failure_count"),
            finished=Max("requests__finished_at"),
            wait=Max("requests__not_before", filter=open_filter),
            purged=Max("requests__evidence_purged_at"),
        )
        .order_by()
    )
    now = timezone.now()
    reader = [CARD_ETAG_VERSION, str(user.pk), str(user.role), get_language() or "", extra]
    etags = {}
    for row in rows:
        in_progress = bool(row["pending"] or row["running"])
        # ``ClaimCard.waiting_until`` and ``ClaimCard.check_expected``, from the same row.
        waiting = bool(row["pending"]) and row["wait"] is not None and row["wait"] > now
        expected = (
            not in_progress
            and not row["verdict"]
            and row["verify_on_record"]
            and row["updated_at"] >= now - ON_RECORD_WAIT
        )
        parts = [
            *reader,
            *(str(value) for name, value in sorted(row.items()) if name not in _NOT_HASHED),
            str(row["wait"]) if waiting else "",
            str(waiting),
            str(expected),
        ]
        digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
        etags[row["pk"]] = f'"{digest}"'
    return etags


def batch_current_requests(batch: Batch) -> QuerySet[VerificationRequest]:
    """The batch's current request for each of its claims (re-running a batch's failures adds
    new requests to it and marks those they replace ``superseded``; those stay, as history)."""
    return VerificationRequest.objects.filter(batch=batch, superseded=False)


@dataclass
class BatchProgress:
    """Where a verification batch stands, from its current requests (one per claim)."""

    batch: Batch
    total: int
    done: int
    by_verdict: dict[str, int]
    pending: int
    running: int
    # Open requests of this batch, and of others ahead of it, per source (for the ETA).
    remaining_by_source: dict[str, int] = field(default_factory=dict)
    ahead_by_source: dict[str, int] = field(default_factory=dict)
    eta: float = 0.0
    # Sources of the remaining requests that are down (breaker open): the ETA is unknown.
    down_sources: tuple[str, ...] = ()

    @property
    def percent(self) -> int:
        if self.preparing:
            return 0  # its checks are still being written: none done yet, whatever is
        return int(100 * self.done / self.total) if self.total else 100

    @property
    def preparing(self) -> bool:
        """Its checks are still being written (``services.batches.batch_prepare``)."""
        return self.batch.status == BatchStatus.PREPARING

    @property
    def prepared(self) -> int:
        """Claims gone through so far while preparing, at most those to prepare."""
        return min(self.batch.prepared, self.batch.to_prepare)

    @property
    def finished(self) -> bool:
        """Nothing left to wait for (the batch row says so, or its requests do)."""
        if self.preparing:
            return False
        return (
            self.batch.status in (BatchStatus.DONE, BatchStatus.FAILED)
            or self.pending + self.running == 0
        )

    @property
    def paused(self) -> bool:
        return self.batch.status == BatchStatus.PAUSED and not self.finished

    @property
    def not_found(self) -> int:
        return self.by_verdict.get(Verdict.NOT_FOUND, 0)

    @property
    def failed(self) -> int:
        return sum(n for verdict, n in self.by_verdict.items() if verdict in RERUNNABLE_VERDICTS)

    @property
    def verdict_rows(self) -> list[tuple[str, "StrOrPromise", int]]:
        """(verdict, label, count) for every verdict, in the catalogue's order."""
        return [(v.value, v.label, self.by_verdict.get(v.value, 0)) for v in Verdict]

    @property
    def eta_text(self) -> str:
        from verifications.eta import eta_text

        return eta_text(self.eta, [Source(s).label for s in self.down_sources])


def _progress_from_rows(batch: Batch, rows) -> BatchProgress:
    by_verdict: dict[str, int] = {}
    counts = {RequestState.PENDING: 0, RequestState.RUNNING: 0, RequestState.DONE: 0}
    remaining: dict[str, int] = {}
    for row in rows:
        counts[row["state"]] += row["n"]
        if row["state"] == RequestState.DONE:
            by_verdict[row["verdict"]] = by_verdict.get(row["verdict"], 0) + row["n"]
        else:
            remaining[row["source"]] = remaining.get(row["source"], 0) + row["n"]
    return BatchProgress(
        batch=batch,
        total=sum(counts.values()),
        done=counts[RequestState.DONE],
        by_verdict=by_verdict,
        pending=counts[RequestState.PENDING],
        running=counts[RequestState.RUNNING],
        remaining_by_source=remaining,
    )


def open_requests_ahead(*, before=None, exclude_batch: Batch | None = None) -> dict[str, int]:
    """Open requests per source that the dispatcher will send first: every institution's (the
    sources' limits are shared), except those of paused batches. Counts only, no rows."""
    ahead = VerificationRequest.objects.filter(state__in=OPEN_STATES).exclude(
        batch_id__in=Batch.objects.filter(status=BatchStatus.PAUSED).values("id")
    )
    if before is not None:
        ahead = ahead.filter(created_at__lt=before)
    if exclude_batch is not None:
        ahead = ahead.exclude(batch=exclude_batch)
    rows = ahead.order_by().values("source").annotate(n=Count("id"))
    return {row["source"]: row["n"] for row in rows}


def source_rates() -> dict[str, float]:
    return {source.value: source_rate(source) for source in Source}


@dataclass(frozen=True)
class SourceCondition:
    """A source that cannot be called normally right now: its breaker is open (``open``: the
    source fails for many requests; ``half_open``: a test call is under way), or a 429 paused
    it (``paused``)."""

    source: str
    state: str  # "open", "half_open" or "paused"
    until: datetime | None  # the next test call, or the end of the pause
    last_error: str  # the breaker's last error code ("" for a pause)

    @property
    def label(self) -> str:
        return str(Source(self.source).label)

    @property
    def down(self) -> bool:
        """Down for an unknown time (a pause ends at a known time)."""
        return self.state != "paused"

    @property
    def error_words(self) -> str:
        from verifications.providers.error_codes import describe

        return describe(self.last_error, source=self.source) if self.last_error else ""


def degraded_sources(sources: set[str] | None = None) -> dict[str, SourceCondition]:
    """The sources (all, or those of ``sources``) whose breaker is not closed or that are
    paused, as the shared limiter sees them now; none when it cannot be read."""
    import time

    from verifications.providers.limits import LimiterUnavailable, get_limiter

    limiter = get_limiter()
    try:
        states = {
            source: limiter.breaker(source, with_rates=False)
            for source in Source.values
            if sources is None or source in sources
        }
    except LimiterUnavailable:
        return {}
    now = time.time()
    found = {}
    for source, state in states.items():
        if state.down:
            until = state.retry_at if state.state == "open" else None
            condition, error = state.state, state.last_error
        elif state.cooldown_until is not None:
            until, condition, error = state.cooldown_until, "paused", ""
        else:
            continue
        found[source] = SourceCondition(
            source=source,
            state=condition,
            until=datetime.fromtimestamp(until, tz=UTC) if until and until > now else None,
            last_error=error,
        )
    return found


def _delays(conditions: dict[str, SourceCondition]) -> dict[str, float]:
    """Seconds before each degraded source can be called again, as far as anyone knows."""
    now = timezone.now()
    return {source: (c.until - now).total_seconds() for source, c in conditions.items() if c.until}


def batch_progress(*, user: User, batch: Batch, with_eta: bool = False) -> BatchProgress:
    """Counts per state and verdict (one query), and with ``with_eta`` the remaining time (one
    more query): the same number of queries whatever the batch's size."""
    rows = (
        _of_institution(user, batch_current_requests(batch))
        .order_by()
        .values("source", "state", "verdict")
        .annotate(n=Count("id"))
    )
    progress = _progress_from_rows(batch, rows)
    if (
        with_eta
        and not progress.finished
        and progress.batch.status not in (BatchStatus.PAUSED, BatchStatus.PREPARING)
    ):
        from verifications.eta import eta_seconds

        progress.ahead_by_source = open_requests_ahead(before=batch.created_at, exclude_batch=batch)
        remaining = {s for s, n in progress.remaining_by_source.items() if n}
        conditions = degraded_sources(remaining)
        progress.eta = eta_seconds(
            progress.remaining_by_source,
            progress.ahead_by_source,
            source_rates(),
            delays=_delays(conditions),
        )
        progress.down_sources = tuple(
            s for s in Source.values if s in conditions and conditions[s].down
        )
    return progress


def batch_progress_etag(*, user: User, progress: BatchProgress, extra: str = "") -> str:
    """The ETag of a batch's progress panel as ``user`` sees it: everything it shows (counts
    per state and verdict, the preparation, the status, the remaining time as worded), who
    looks and how (``extra``: the session's CSRF secret, which its forms carry). The panel's
    poll is answered 304 when it would be the same (``views.batches.batch_progress``): the
    counts are read, the panel is not rendered."""
    import hashlib

    from django.utils.translation import get_language

    batch = progress.batch
    parts = [
        CARD_ETAG_VERSION,
        str(user.pk),
        str(user.role),
        get_language() or "",
        extra,
        batch.status,
        str(batch.prepared),
        str(batch.to_prepare),
        str(progress.total),
        str(progress.done),
        str(progress.pending),
        str(progress.running),
        repr(sorted(progress.by_verdict.items())),
        ",".join(progress.down_sources),
        progress.eta_text if progress.eta else "",
    ]
    return '"{}"'.format(hashlib.sha256("|".join(parts).encode()).hexdigest()[:32])


def batch_progress_many(*, user: User, batches: list[Batch]) -> dict[int, BatchProgress]:
    """Progress of several batches in one query (the batch list)."""
    ids = [b.pk for b in batches if b.kind == BatchKind.VERIFICATION]
    grouped: dict[int, list[Mapping[str, Any]]] = {pk: [] for pk in ids}
    if ids:
        rows = (
            requests_for_user(user)
            .filter(batch_id__in=ids, superseded=False)
            .order_by()
            .values("batch_id", "source", "state", "verdict")
            .annotate(n=Count("id"))
        )
        for row in rows:
            grouped[row["batch_id"]].append(row)
    return {b.pk: _progress_from_rows(b, grouped[b.pk]) for b in batches if b.pk in grouped}


def batches_in_progress(user: User) -> QuerySet[Batch]:
    return (
        batches_for_user(user)
        .filter(
            kind=BatchKind.VERIFICATION,
            status__in=[BatchStatus.PREPARING, BatchStatus.RUNNING, BatchStatus.PAUSED],
        )
        .select_related("import_batch")
    )


def open_alerts(user: User) -> QuerySet[SourceAlert]:
    if user.institution_id is None:
        return SourceAlert.objects.none()
    return SourceAlert.objects.filter(institution_id=user.institution_id, resolved_at__isnull=True)


def pending_by_source(user: User) -> dict[str, int]:
    rows = (
        requests_for_user(user)
        .filter(state__in=OPEN_STATES)
        .order_by()
        .values("source")
        .annotate(n=Count("id"))
    )
    return {row["source"]: row["n"] for row in rows}


@dataclass(frozen=True)
class LastFailure:
    """A source's last failed call for an institution: when, and what went wrong."""

    source: str
    at: datetime
    code: str  # the source's code, else what Vigie recorded ("timeout"), else ""
    status: int | None
    outcome: str = ""  # the attempt's outcome: what is left to say without a code or status

    @property
    def words(self) -> str:
        """The error in words (``providers.error_codes``); without a code or an HTTP status
        (a call that got no answer), the attempt's outcome, never nothing."""
        from verifications.providers.error_codes import describe

        described = describe(self.code, status=self.status, source=self.source)
        if described or not self.outcome:
            return described
        return str(AttemptOutcome(self.outcome).label)


def last_error_by_source(user: User) -> dict[str, LastFailure]:
    """The last failed call of each source for the user's institution in the last 24 hours,
    with its error (one query)."""
    latest = Window(
        RowNumber(),
        partition_by=F("source"),
        order_by=(F("created_at").desc(), F("id").desc()),
    )
    rows = (
        _of_institution(
            user,
            VerificationAttempt.objects.filter(
                outcome__in=["unavailable", "rate_limited", "rejected"],
                created_at__gte=timezone.now() - timedelta(days=1),
            ),
            "request__institution_id",
        )
        .order_by()
        .annotate(rank=latest)
        .filter(rank=1)
        .values("source", "created_at", "provider_error_code", "http_status", "payload", "outcome")
    )
    return {
        row["source"]: LastFailure(
            source=row["source"],
            at=row["created_at"],
            code=row["provider_error_code"] or _recorded_error(row["payload"]),
            status=row["http_status"],
            outcome=row["outcome"],
        )
        for row in rows
    }


def _recorded_error(payload: object) -> str:
    """What Vigie recorded of a failure without a code of the source's (its redacted trace)."""
    return str(payload.get("error") or "") if isinstance(payload, dict) else ""


# --- Scheduled re-verification, notifications, credentials (retention area) -----------------

# Verdicts the scheduler leaves alone: "rejected" waits for an admin (a re-check would only
# raise the same alert again), "manual" is a person's decision.
NOT_RESCHEDULED = (Verdict.REJECTED, Verdict.MANUAL)


def claims_due_for_recheck(
    *, institution_id: int, kind: str, cutoff: datetime | None, now: datetime
) -> QuerySet[Claim]:
    """Claims of one kind of one institution that a scheduled re-check should look at, oldest
    check first: checked before (verdict given), not waiting for a person, no check under way,
    and either stale by their own ``valid_until`` or checked before the policy's ``cutoff``.

    Scolarité claims about a school year that is over are history (their verdict no longer
    changes: ``verdicts.scolarite``) and are never due."""
    stale = Q(valid_until__lte=now)
    if cutoff is not None:
        stale |= Q(verified_at__lt=cutoff)
    last_trigger = (
        VerificationRequest.objects.filter(claim=OuterRef("pk"))
        .order_by("-created_at", "-id")
        .values("trigger")[:1]
    )
    open_request = VerificationRequest.objects.filter(claim=OuterRef("pk"), state__in=OPEN_STATES)
    claims = (
        Claim.objects.filter(institution_id=institution_id, kind=kind, verified_at__isnull=False)
        .exclude(verdict="")
        .exclude(verdict__in=NOT_RESCHEDULED)
        .filter(stale)
        .annotate(last_trigger=Subquery(last_trigger))
        .filter(Q(last_trigger__isnull=True) | ~Q(last_trigger__in=PERSON_TRIGGERS))
        .exclude(Exists(open_request))
    )
    if kind == ClaimKind.SCOLARITE:
        claims = claims.exclude(declared__school_year__lt=academic_year(now))
    return claims.order_by("verified_at", "id")


def open_scheduled_by_source() -> dict[str, int]:
    """Scheduled re-checks not finished yet, per source, all institutions together."""
    rows = (
        VerificationRequest.objects.filter(trigger=Trigger.SCHEDULED, state__in=OPEN_STATES)
        .order_by()
        .values("source")
        .annotate(n=Count("id"))
    )
    return {row["source"]: row["n"] for row in rows}


def verdict_changes_for_user(user: User) -> QuerySet[VerdictChange]:
    """The dashboard's "Changements de verdict": not dismissed, addressed to this user (and,
    for supervisors and admins, those nobody in particular is addressed)."""
    if not user.is_authenticated or user.institution_id is None:
        return VerdictChange.objects.none()
    mine = Q(recipient=user)
    if user.is_supervisor:
        mine |= Q(recipient__isnull=True)
    return (
        VerdictChange.objects.filter(institution_id=user.institution_id, dismissed_at__isnull=True)
        .filter(mine)
        .select_related("claim__applicant")
        .order_by("-created_at", "-id")
    )


def verdict_change_get_for_user(*, user: User, change_id: int) -> VerdictChange:
    return get_object_or_404(verdict_changes_for_user(user), pk=change_id)


def credentials_expiring_for_user(user: User, *, now: datetime) -> list[dict]:
    """Tokens of the user's institution within 90 days of their expiry (institution admins
    only: they are the ones who renew them)."""
    if not user.is_authenticated or user.institution_id is None or not user.is_institution_admin:
        return []
    horizon = now + timedelta(days=max(EXPIRY_WARNING_DAYS))
    rows = InstitutionCredential.objects.filter(
        institution_id=user.institution_id, expires_at__isnull=False, expires_at__lte=horizon
    ).order_by("expires_at")
    return [
        {
            "credential": row,
            "expired": row.expires_at <= now,
            "days_left": max(0, (row.expires_at - now).days),
            "threshold": expiry_threshold(row.expires_at, now),
        }
        for row in rows
        if row.expires_at is not None  # excluded by the query; says so to the type checker
    ]


# --- Batch verification: choosing a cohort, and its results ----------------------------------


def cohort_claims(
    *,
    user: User,
    q: str = "",
    verdict: str = "",
    kind: str = "",
    batch_id: int | None = None,
    needs_me: bool = False,
    kinds: list[str] | None = None,
) -> QuerySet[Claim]:
    """The claims a batch verification of this cohort checks.

    The applicants are those of the applicant list with the same search and import batch.
    Then the claims themselves must match: of kind ``kind`` (the list's filter) and among
    ``kinds`` (when given), with verdict ``verdict`` ("unchecked": never checked), and needing
    a person when ``needs_me``. So "Vérifier" on the list filtered on "Source indisponible"
    checks those claims again, not the applicants' confirmed ones.
    """
    if not user.is_authenticated or user.institution_id is None:
        return Claim.objects.none()
    # Scoped through the applicant's institution (always the claim's own). Right after an
    # import, before PostgreSQL has statistics on the new rows, filtering on the claim's
    # institution and the applicant's batch together makes it loop over the institution's
    # index (12 s for 10,000 applicants); this join takes 70 ms.
    claims = Claim.objects.filter(applicant__institution_id=user.institution_id)
    if batch_id is not None:
        claims = claims.filter(applicant__batch_id=batch_id)
    if q.strip():
        applicants = applicant_search(user=user, q=q).order_by().values("pk")
        claims = claims.filter(applicant_id__in=applicants)
    if kind:
        claims = claims.filter(kind=kind)
    if kinds:
        claims = claims.filter(kind__in=kinds)
    if verdict:
        claims = claims.filter(verdict="" if verdict == "unchecked" else verdict)
    if needs_me:
        claims = claims.filter(verdict__in=VERDICTS_NEEDING_ATTENTION)
    return claims


def import_claims_to_verify(*, user: User, batch: Batch) -> QuerySet[Claim]:
    """The claims "Vérifier les déclarations importées" checks: those of the import's
    applicants never checked yet, and not being checked now (a second click verifies nothing
    twice)."""
    if not import_verification_allowed(user, batch):
        return Claim.objects.none()
    being_checked = VerificationRequest.objects.filter(
        claim_id=OuterRef("pk"), state__in=OPEN_STATES
    )
    return cohort_claims(user=user, batch_id=batch.pk, verdict="unchecked").exclude(
        Exists(being_checked)
    )


@dataclass
class CohortSummary:
    """What launching a batch on a cohort would do: checks to send per source (claims already
    being checked apart), how many are already being checked, what is queued ahead, the ETA."""

    by_source: dict[str, int]
    busy: int
    ahead_by_source: dict[str, int]
    eta: float
    # Sources of these checks that cannot be called normally now (breaker open, paused).
    degraded: list[SourceCondition] = field(default_factory=list)

    @property
    def to_send(self) -> int:
        return sum(self.by_source.values())

    @property
    def rows(self) -> list[tuple["StrOrPromise", int, int]]:
        """(source label, checks to send, queued ahead) for each source with checks."""
        return [
            (source.label, self.by_source[source], self.ahead_by_source.get(source, 0))
            for source in Source
            if self.by_source.get(source)
        ]

    @property
    def eta_text(self) -> str:
        from verifications.eta import eta_text

        return eta_text(self.eta, [c.label for c in self.degraded if c.down])

    @property
    def degraded_rows(self) -> list[tuple[SourceCondition, int]]:
        """(condition, checks to send to that source) for each degraded source."""
        return [(c, self.by_source.get(c.source, 0)) for c in self.degraded]


def cohort_summary(*, user: User, claims: QuerySet[Claim]) -> CohortSummary:
    """Three aggregate queries, whatever the cohort's size. A claim already being checked is
    not sent again: its open request is counted among those queued ahead."""
    from verifications.enums import CLAIM_KIND_SOURCE
    from verifications.eta import eta_seconds

    by_kind = claims.order_by().values("kind").annotate(n=Count("id"))
    by_source: dict[str, int] = {}
    for row in by_kind:
        source = CLAIM_KIND_SOURCE[ClaimKind(row["kind"])].value
        by_source[source] = by_source.get(source, 0) + row["n"]
    busy_rows = (
        requests_for_user(user)
        # The claims' own questions: a variant being tried does not stop a batch's check.
        .filter(state__in=OPEN_STATES, variant_key="", claim_id__in=claims.order_by().values("pk"))
        .order_by()
        .values("source")
        .annotate(n=Count("id"))
    )
    busy = 0
    for busy_row in busy_rows:
        by_source[busy_row["source"]] -= busy_row["n"]
        busy += busy_row["n"]
    by_source = {source: n for source, n in by_source.items() if n > 0}
    ahead = open_requests_ahead()
    conditions = degraded_sources(set(by_source))
    return CohortSummary(
        by_source=by_source,
        busy=busy,
        ahead_by_source=ahead,
        eta=eta_seconds(by_source, ahead, source_rates(), delays=_delays(conditions)),
        degraded=[conditions[s] for s in Source.values if s in conditions],
    )


def batch_result_requests(*, user: User, batch: Batch) -> QuerySet[VerificationRequest]:
    """The batch's current requests with their claim and applicant, for the results file."""
    return (
        _of_institution(user, batch_current_requests(batch))
        .select_related("claim__applicant")
        .order_by("claim__applicant__birth_name", "claim__applicant_id", "claim__kind", "id")
    )


# --- Assisted re-matching ----------------------------------------------------------------------


def variant_proposals(*, user: User, claims: list[Claim]) -> dict[int, list[Variant]]:
    """The variants still to try for each of these claims (``ClaimCard.proposals``), for those
    that have some; the claims' applicants are loaded with them."""
    proposals: dict[int, list[Variant]] = {}
    for start in range(0, len(claims), 500):
        for card in claim_cards(user=user, claims=claims[start : start + 500]):
            if card.proposals:
                proposals[card.claim.pk] = card.proposals
    return proposals


def batch_variant_proposals(*, user: User, batch: Batch) -> list[tuple[Claim, list[Variant]]]:
    """The claims a batch's sources did not find, with the variants still to try for each."""
    not_found = _of_institution(user, batch_current_requests(batch)).filter(
        state=RequestState.DONE,
        verdict=Verdict.NOT_FOUND,
        reason_code__in=rematch.REMATCHABLE_REASONS,
    )
    claims = list(
        claims_for_user(user)
        .filter(pk__in=not_found.values("claim_id"), verdict=Verdict.NOT_FOUND)
        .select_related("applicant", "institution")
        .order_by("applicant__birth_name", "applicant_id", "kind", "id")
    )
    found = variant_proposals(user=user, claims=claims)
    return [(claim, found[claim.pk]) for claim in claims if claim.pk in found]


# --- Certificates ------------------------------------------------------------------------------


def batch_certifiable_requests(*, batch: Batch) -> list[VerificationRequest]:
    """The batch's checks a certificate may vouch for now (``certificates.rules``): each gives
    its claim the verdict it has, in the results file's order."""
    requests = (
        batch_current_requests(batch)
        .filter(state=RequestState.DONE)
        .exclude(verdict="")
        .select_related("claim__applicant")
        .order_by("claim__applicant__birth_name", "claim__applicant_id", "claim__kind", "id")
    )
    return [request for request in requests if certifiable(request, request.claim)]


def certificate_archives_of_batch(*, user: User, batch: Batch) -> QuerySet[CertificateArchive]:
    return _of_institution(user, CertificateArchive.objects.filter(batch=batch)).order_by(
        "-created_at", "-id"
    )


def certificate_archives_for_batch(*, user: User, batch: Batch) -> list[CertificateArchive]:
    """The batch's latest archives, for its page."""
    return list(certificate_archives_of_batch(user=user, batch=batch)[:5])


# --- Results files written in the background ----------------------------------------------------


def batch_exports_of_batch(*, user: User, batch: Batch) -> QuerySet[BatchExport]:
    return _of_institution(user, BatchExport.objects.filter(batch=batch)).order_by(
        "-created_at", "-id"
    )


def batch_exports_for_batch(*, user: User, batch: Batch) -> list[BatchExport]:
    """The batch's latest results files, for its page."""
    return list(batch_exports_of_batch(user=user, batch=batch)[:5])
