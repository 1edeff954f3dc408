"""/api/v1/ verifications, results, evidence, batches and the audit trail: the pages' services
behind them (requests, batches), audited with the key as actor; the sources answered by the
sandbox over real HTTP."""

import datetime as dt

import pytest
from django.utils import timezone

from admissions.enums import AuditAction
from admissions.models import AuditEvent
from api.models import IdempotentAnswer
from api.services import EVIDENCE_READ_PURPOSE, idempotent_answers_purge
from tests.api.conftest import ApiClient, make_key
from tests.verifications.helpers import run_until_done, staging_claim
from verifications.enums import BatchKind, RequestState, Trigger
from verifications.models import Batch, VerificationRequest


pytestmark = pytest.mark.django_db


def _claim_url(claim) -> str:
    return f"/api/v1/applicants/{claim.applicant_id}/claims/{claim.pk}"


def test_asking_for_a_check_makes_one_request_audited_with_the_key(
    api, key, institution, sandbox_settings
):
    claim = staging_claim("MARTIN EMMA", institution)
    response = api.post(f"{_claim_url(claim)}/verifications")
    assert response.status_code == 202, response.content
    body = response.json()
    request = VerificationRequest.objects.get()
    assert body["id"] == request.pk
    assert body["state"] == "pending"
    assert body["result"] is None
    assert response["Location"] == f"/api/v1/verifications/{request.pk}"
    assert request.requested_by == key.api_key.user
    assert request.trigger == Trigger.MANUAL
    event = AuditEvent.objects.get(action=AuditAction.VERIFICATION_REQUESTED)
    assert event.actor == key.api_key.user
    # Asked again while under way: the same check, not a second one.
    again = api.post(f"{_claim_url(claim)}/verifications")
    assert again.json()["id"] == request.pk
    assert VerificationRequest.objects.count() == 1

    run_until_done(request)
    result = api.get(f"/api/v1/verifications/{request.pk}").json()
    assert result["state"] == "done"
    outcome = result["result"]
    assert outcome["verdict"] == "confirmed"
    assert outcome["current"] is True
    assert outcome["reason_code"]
    assert outcome["reason"]
    assert outcome["checked_at"]
    assert outcome["evidence_digest"] == request.evidence_hash
    assert len(request.evidence_hash) == 64
    assert "evidence" not in outcome
    english = api.get(f"/api/v1/verifications/{request.pk}", **{"Accept-Language": "en"}).json()
    assert english["result"]["reason"] != outcome["reason"]
    listed = api.get(f"{_claim_url(claim)}/verifications").json()
    assert [v["id"] for v in listed] == [request.pk]


def test_the_raw_evidence_needs_its_scope_and_every_read_is_audited(
    admin, institution, sandbox_settings
):
    claim = staging_claim("MARTIN EMMA", institution)
    reader = ApiClient(make_key(admin, name="lecture", scopes=["read", "verify"]).secret)
    request_id = reader.post(f"{_claim_url(claim)}/verifications").json()["id"]
    run_until_done(VerificationRequest.objects.get(pk=request_id))
    assert reader.get(f"/api/v1/verifications/{request_id}/evidence").status_code == 403
    created = make_key(admin, name="preuves", scopes=["evidence"])
    holder = ApiClient(created.secret)
    for _ in range(2):
        response = holder.get(f"/api/v1/verifications/{request_id}/evidence")
        assert response.status_code == 200, response.content
    body = response.json()
    request = VerificationRequest.objects.get(pk=request_id)
    assert body["evidence"] == request.evidence
    assert body["evidence"]
    assert body["evidence_digest"] == request.evidence_hash
    reads = AuditEvent.objects.filter(purpose=EVIDENCE_READ_PURPOSE)
    assert reads.count() == 2
    assert {e.actor_id for e in reads} == {created.api_key.user_id}
    assert reads.first().applicant_id == claim.applicant_id


def test_checking_all_of_an_applicants_claims(api, institution, sandbox_settings):
    claim = staging_claim("MARTIN EMMA", institution)
    url = f"/api/v1/applicants/{claim.applicant_id}/verifications"
    body = api.post(url).json()
    assert body["requested"] == 1
    assert [v["claim_id"] for v in body["verifications"]] == [claim.pk]
    assert api.post(url).json()["requested"] == 0


def test_a_batch_checks_named_claims_and_applicants_and_reports_progress_and_results(
    api, key, institution, sandbox_settings
):
    first = staging_claim("MARTIN EMMA", institution)
    second = staging_claim("ROBERT CLARA", institution)
    response = api.post(
        "/api/v1/batches",
        {"label": "Rentrée", "claim_ids": [first.pk], "applicant_ids": [second.applicant_id]},
        **{"Idempotency-Key": "lot-1"},
    )
    assert response.status_code == 202, response.content
    body = response.json()
    batch = Batch.objects.get(pk=body["id"])
    assert batch.kind == BatchKind.VERIFICATION
    assert batch.created_by == key.api_key.user
    assert body["total"] == 2
    assert body["pending"] == 2
    assert body["status"] == "running"
    assert response["Location"] == f"/api/v1/batches/{batch.pk}"
    replay = api.post(
        "/api/v1/batches",
        {"label": "Rentrée", "claim_ids": [first.pk], "applicant_ids": [second.applicant_id]},
        **{"Idempotency-Key": "lot-1"},
    )
    assert replay["Idempotent-Replayed"] == "true"
    assert Batch.objects.count() == 1
    for request in VerificationRequest.objects.filter(batch=batch):
        run_until_done(request)
    progress = api.get(f"/api/v1/batches/{batch.pk}").json()
    assert progress["done"] == 2
    assert progress["status"] == "done"
    assert progress["percent"] == 100
    page = api.get(f"/api/v1/batches/{batch.pk}/results", {"limit": 1}).json()
    assert len(page["items"]) == 1
    assert page["next_cursor"]
    rest = api.get(
        f"/api/v1/batches/{batch.pk}/results", {"limit": 1, "cursor": page["next_cursor"]}
    ).json()
    assert rest["next_cursor"] is None
    claims = {page["items"][0]["claim_id"], rest["items"][0]["claim_id"]}
    assert claims == {first.pk, second.pk}
    assert all(item["result"]["verdict"] for item in page["items"] + rest["items"])
    assert AuditEvent.objects.filter(action=AuditAction.EXPORTED, object_type="batch").count() == 2


def test_a_batch_refuses_unknown_ids_with_their_paths(api, institution):
    response = api.post("/api/v1/batches", {"claim_ids": [987654321], "applicant_ids": [5, 6]})
    assert response.status_code == 422
    paths = [e["path"] for e in response.json()["errors"]]
    assert paths == ["claim_ids.0", "applicant_ids.0", "applicant_ids.1"]
    empty = api.post("/api/v1/batches", {})
    assert empty.status_code == 422
    assert not Batch.objects.exists()


def test_the_audit_trail_pages_in_chain_order_and_filters(api, institution):
    staging_claim("MARTIN EMMA", institution)
    api.post("/api/v1/applicants", {**_identity(), "file_reference": "A-1"})
    api.post("/api/v1/applicants", {**_identity(), "file_reference": "A-2"})
    first = api.get("/api/v1/audit-events", {"limit": 1}).json()
    assert len(first["items"]) == 1
    seen = [first["items"][0]["seq"]]
    cursor = first["next_cursor"]
    while cursor:
        page = api.get("/api/v1/audit-events", {"limit": 1, "cursor": cursor}).json()
        seen += [e["seq"] for e in page["items"]]
        cursor = page["next_cursor"]
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen))
    assert len(seen) == AuditEvent.objects.filter(institution=institution).count()
    created = api.get("/api/v1/audit-events", {"action": "created"}).json()["items"]
    assert {e["action"] for e in created} == {"created"}
    applicants = [e for e in created if e["object_type"] == "applicant"]
    assert len(applicants) == 2
    assert all(e["actor"].startswith("apikey:") for e in applicants)
    bad = api.get("/api/v1/audit-events", {"cursor": "nope"})
    assert bad.status_code == 422


def _identity() -> dict:
    return {"birth_name": "Durand", "first_names": ["Léa"], "sex": "F", "birth_date": "2006-01-02"}


def test_old_idempotent_answers_are_purged(api):
    api.post(
        "/api/v1/applicants", {**_identity(), "file_reference": "P-1"}, **{"Idempotency-Key": "a"}
    )
    api.post(
        "/api/v1/applicants", {**_identity(), "file_reference": "P-2"}, **{"Idempotency-Key": "b"}
    )
    IdempotentAnswer.objects.filter(key="a").update(
        created_at=timezone.now() - dt.timedelta(hours=25)
    )
    assert idempotent_answers_purge(now=timezone.now()) == 1
    assert list(IdempotentAnswer.objects.values_list("key", flat=True)) == ["b"]


def test_a_pending_check_shows_when_it_may_go(api, institution):
    claim = staging_claim("MARTIN EMMA", institution)
    request_id = api.post(f"{_claim_url(claim)}/verifications").json()["id"]
    later = (timezone.now() + dt.timedelta(minutes=5)).replace(microsecond=0)
    VerificationRequest.objects.filter(pk=request_id).update(not_before=later)
    body = api.get(f"/api/v1/verifications/{request_id}").json()
    assert body["state"] == RequestState.PENDING
    assert dt.datetime.fromisoformat(body["not_before"]) == later


def test_purged_evidence_reads_as_null_with_its_digest_kept(admin, institution):
    claim = staging_claim("MARTIN EMMA", institution)
    holder = ApiClient(make_key(admin, scopes=["verify", "evidence"]).secret)
    request_id = holder.post(f"{_claim_url(claim)}/verifications").json()["id"]
    VerificationRequest.objects.filter(pk=request_id).update(
        state=RequestState.DONE,
        verdict="confirmed",
        evidence={},
        evidence_hash="a" * 64,
        evidence_purged_at=timezone.now(),
    )
    body = holder.get(f"/api/v1/verifications/{request_id}/evidence").json()
    assert body["evidence"] is None
    assert body["evidence_digest"] == "a" * 64
    assert body["evidence_purged_at"]


def test_a_batch_of_claims_all_being_checked_is_done_at_once(api, institution):
    claim = staging_claim("MARTIN EMMA", institution)
    api.post(f"{_claim_url(claim)}/verifications")
    body = api.post("/api/v1/batches", {"claim_ids": [claim.pk]}).json()
    assert body["total"] == 0
    assert body["status"] == "done"
    assert VerificationRequest.objects.count() == 1


def test_unknown_ids_are_named_in_english_on_request(api):
    response = api.post("/api/v1/batches", {"claim_ids": [987654321]}, **{"Accept-Language": "en"})
    assert response.json()["errors"] == [{"path": "claim_ids.0", "message": "Unknown claim."}]
