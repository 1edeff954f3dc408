import dataclasses
import datetime as dt

import pytest

from tests.verdicts.conftest import at, found, not_found
from verifications.claims import CovoiturageDeclared
from verifications.enums import Source, Verdict
from verifications.providers.base import CovoiturageRecord
from verifications.verdicts import decide


NOW = at(2025, 11, 20, 10, 0)
UUID = "9415300a-7a51-4296-96d1-68636e46485d"
RECORD = CovoiturageRecord(
    uuid=UUID,
    type="ok",
    start_at=dt.datetime(2019, 12, 31, 23, tzinfo=dt.UTC),
    end_at=dt.datetime(2020, 12, 30, 23, tzinfo=dt.UTC),
    created_at=dt.datetime(2021, 3, 14, 10, 12, 2, tzinfo=dt.UTC),
    operator_name="Opérateur",
)


def run(record=RECORD, uuid=UUID):
    result = (
        found(Source.COVOITURAGE, record) if record else not_found(Source.COVOITURAGE, "-32504")
    )
    return decide(
        "covoiturage",
        declared=CovoiturageDeclared(uuid=uuid),
        identity=None,
        result=result,
        error=None,
        now=NOW,
    )


def test_ok_confirms():
    decision = run(uuid=UUID.upper())

    assert decision.verdict == Verdict.CONFIRMED
    assert decision.reason_code == "covoiturage.confirmed"
    assert decision.diff == [
        {"field": "uuid", "declared": UUID, "source": UUID, "match": True},
        {"field": "type", "declared": "ok", "source": "ok", "match": True},
    ]
    assert decision.evidence == {
        "type": "ok",
        "start_at": "2019-12-31T23:00:00+00:00",
        "end_at": "2020-12-30T23:00:00+00:00",
        "created_at": "2021-03-14T10:12:02+00:00",
    }
    assert decision.note_codes == ["covoiturage.deprecated"]
    assert decision.valid_until is None  # frozen


def test_expired_contradicts():
    decision = run(dataclasses.replace(RECORD, type="expired"))

    assert decision.verdict == Verdict.CONTRADICTED
    assert decision.reason_code == "covoiturage.expired"
    assert decision.valid_until is None


@pytest.mark.parametrize("kind", ["ok", "expired"])
def test_another_uuid_is_for_a_clerk(kind):
    other = "1b37ff76-dac6-44b0-ba78-9015a8a198fc"
    decision = run(dataclasses.replace(RECORD, uuid=other, type=kind))

    # Even "expired": it is said of another attestation than the one declared.
    assert decision.verdict == Verdict.MISMATCH
    assert decision.reason_code == "covoiturage.uuid_differs"
    assert decision.diff[0] == {"field": "uuid", "declared": UUID, "source": other, "match": False}


@pytest.mark.parametrize(
    "echoed",
    [
        UUID.upper(),
        UUID.replace("-", ""),
        "{" + UUID + "}",
        "urn:uuid:" + UUID,
        " " + UUID.upper().replace("-", "") + " ",
    ],
)
def test_the_same_uuid_written_otherwise_confirms_with_a_note(echoed):
    decision = run(dataclasses.replace(RECORD, uuid=echoed))

    assert decision.verdict == Verdict.CONFIRMED
    assert decision.diff[0] == {"field": "uuid", "declared": UUID, "source": echoed, "match": True}
    assert decision.note_codes == ["covoiturage.deprecated", "covoiturage.uuid_format"]


@pytest.mark.parametrize("declared", [UUID.upper(), UUID.replace("-", ""), f" {{{UUID}}} "])
def test_the_declared_uuid_is_compared_in_its_canonical_form(declared):
    decision = run(uuid=declared)

    assert decision.verdict == Verdict.CONFIRMED
    assert decision.note_codes == ["covoiturage.deprecated"]


def test_the_same_uuid_written_otherwise_stays_expired():
    decision = run(dataclasses.replace(RECORD, uuid=UUID.upper(), type="expired"))

    assert decision.verdict == Verdict.CONTRADICTED
    assert decision.reason_code == "covoiturage.expired"


def test_answer_without_uuid_compares_the_type_only():
    decision = run(dataclasses.replace(RECORD, uuid=None))

    assert decision.verdict == Verdict.CONFIRMED
    assert [r["field"] for r in decision.diff] == ["type"]


@pytest.mark.parametrize("kind", [None, "revoked", ""])
def test_unknown_type_is_an_unexpected_answer(kind):
    decision = run(dataclasses.replace(RECORD, type=kind))

    assert decision.verdict == Verdict.UNAVAILABLE
    assert decision.reason_code == "source.unexpected_answer"


def test_not_found_is_never_a_false_claim():
    decision = run(None)

    assert decision.verdict == Verdict.NOT_FOUND
    assert decision.reason_code == "covoiturage.not_found"
    assert decision.evidence == {"found": False, "error_code": "-32504"}
    assert decision.note_codes == ["covoiturage.deprecated"]
    assert decision.valid_until is None
