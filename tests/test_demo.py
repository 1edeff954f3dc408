import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from admissions.audit import audit_chains_verify
from admissions.enums import Role
from admissions.models import Applicant, Institution, User
from sandbox.population import STAGING_PUPILS, person
from verifications.enums import BatchKind, ClaimKind
from verifications.models import Batch, Claim, VerificationRequest


pytestmark = pytest.mark.django_db


def test_demo_seeds_roles_applicants_and_claims_of_every_kind(settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    settings.DEBUG = True
    call_command("demo", applicants=40)
    assert VerificationRequest.objects.filter(state="pending").count() == Claim.objects.count()
    for batch in Batch.objects.all():  # one verification batch per institution, every claim
        assert batch.kind == BatchKind.VERIFICATION
        assert batch.total == Claim.objects.filter(institution=batch.institution).count()
        assert batch.requests.count() == batch.total
    assert Batch.objects.count() == Institution.objects.count()
    out = capsys.readouterr().out
    main = Institution.objects.get(siret="13002526500013")
    assert {u.role for u in User.objects.filter(institution=main)} == set(Role)
    assert User.objects.get(username="backoffice").is_superuser
    for username in ("agent", "superviseur", "admin-etab", "backoffice"):
        assert username in out
    assert (tmp_path / "demo-logins.txt").stat().st_mode & 0o777 == 0o600
    assert Applicant.objects.filter(institution=main).count() == 40
    assert set(Claim.objects.filter(institution=main).values_list("kind", flat=True)) == set(
        ClaimKind
    )
    # The published staging identities and the generated population, as the sandbox knows them.
    emma = Applicant.objects.get(institution=main, birth_name="MARTIN", first_names=["EMMA"])
    assert emma.claims.get().declared == {"uai": "0132733A", "school_year": 2025}
    first = person(0)
    generated = Applicant.objects.get(file_reference=first.file_reference, institution=main)
    assert generated.birth_name == first.birth_name
    assert generated.claims.get(kind=ClaimKind.CVEC).declared["code"] == first.cvec_code
    assert Applicant.objects.filter(file_reference__startswith="STG-").count() == len(
        STAGING_PUPILS
    )
    assert all(not r.breaks for r in audit_chains_verify())

    call_command("demo", if_empty=True)
    assert Applicant.objects.filter(institution=main).count() == 40
    with pytest.raises(CommandError):
        call_command("demo")


def test_demo_refuses_to_run_in_production(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("demo")
