"""Bench data, written the way the product writes it: applicants and claims through the CSV
import engine (``parse_import`` + ``import_commit``), people from the sandbox's generated
population so that every source has an answer. Runs in the bench driver (Django set up)."""

import csv
import io

from verifications.enums import ClaimKind


ALL_KINDS = tuple(ClaimKind)
SIRET = "13002526500013"


def people(start: int, count: int):
    """``count`` people of the population from number ``start`` on, skipping those whose
    scolarité always fails upstream (502 ``30999``): their bounded retries back off for tens
    of seconds before they end ``unavailable``, which would measure the retry policy, not the
    pace. (They no longer open the source's breaker: it counts distinct failing requests.)
    Yields (line number, person)."""
    from sandbox.population import POPULATION_SIZE, ScolariteOutcome, person

    n = start
    found = 0
    while found < count:
        p = person(n % POPULATION_SIZE)
        if p.scolarite != ScolariteOutcome.PROVIDER_ERROR and "," not in p.first_names[0]:
            yield n, p
            found += 1
        n += 1


def csv_row(n: int, p, tag: str, kinds=ALL_KINDS) -> list[str]:
    """Person ``p``'s import line, number ``n``, in ``COLUMNS`` order, with the claims of
    ``kinds`` only (the other claim columns left empty)."""
    first = [*p.first_names, "", ""][:3]
    claims = {
        ClaimKind.SCOLARITE: [p.uai, f"{p.school_year}-{p.school_year + 1}"],
        ClaimKind.CVEC: [p.cvec_code, str(p.cvec_campaign)],
        ClaimKind.CERTIFICATION: [p.certification_code, str(p.certification_min_level or "")],
        ClaimKind.COVOITURAGE: [p.covoiturage_uuid],
    }
    row = [
        f"{tag}-{n:06d}",
        p.birth_name,
        p.usage_name,
        *first,
        p.sex,
        p.birth_date.strftime("%d/%m/%Y"),
        p.ine,
        f"candidat{n}@example.org",
        f"06 {n % 100:02d} {n // 100 % 100:02d} 00 00",
    ]
    for kind, values in claims.items():
        row += values if kind in kinds else [""] * len(values)
    return row


def csv_bytes(start: int, count: int, tag: str, kinds=ALL_KINDS) -> bytes:
    """A CSV as French Excel writes it, one line per person (see ``people``), with the claims
    of ``kinds`` only (the other claim columns left empty)."""
    from verifications.imports import COLUMNS

    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for n, p in people(start, count):
        writer.writerow(csv_row(n, p, tag, kinds))
    return out.getvalue().encode("utf-8-sig")


def institution_and_clerk():
    from admissions.models import Institution, User

    institution, _ = Institution.objects.get_or_create(
        siret=SIRET, defaults={"name": "Université du banc d'essai"}
    )
    clerk, created = User.objects.get_or_create(
        username="bench-clerk", defaults={"institution": institution, "role": "clerk"}
    )
    if created:
        clerk.set_password("bench-password")
        clerk.save()
    return institution, clerk


def supervisor_of(institution):
    """The benchmark's supervisor (the analytics page is for supervisors and admins)."""
    from admissions.models import User

    supervisor, created = User.objects.get_or_create(
        username="bench-supervisor", defaults={"institution": institution, "role": "supervisor"}
    )
    if created:
        supervisor.set_password("bench-password")
        supervisor.save()
    return supervisor


def import_people(start: int, count: int, tag: str, kinds=ALL_KINDS):
    """Import ``count`` people with their claims; returns the import batch."""
    from django.conf import settings

    from verifications.imports import import_commit, parse_import

    institution, clerk = institution_and_clerk()
    settings.IMPORT_MAX_BYTES = 10**9
    settings.IMPORT_MAX_ROWS = 10**7
    report = parse_import(csv_bytes(start, count, tag, kinds), institution=institution)
    if not report.ok:
        raise SystemExit(f"the generated file has errors: {report.errors[:3]}")
    return import_commit(acting_user=clerk, report=report, filename=f"{tag}.csv")
