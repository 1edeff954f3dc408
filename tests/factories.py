"""Factories for test setup. They write rows directly; tests of behaviour go through services."""

import datetime as dt
import random

import factory

from admissions.enums import Role, Sex
from admissions.models import Applicant, Institution, User
from admissions.validators import luhn_is_valid
from verifications.enums import ClaimKind
from verifications.models import Claim


def make_siret(seed: int) -> str:
    """A 14-digit SIRET that passes the Luhn check."""
    base = f"{(seed * 7919 + 130025265) % 10**13:013d}"
    for last in "0123456789":
        if luhn_is_valid(base + last):
            return base + last
    raise AssertionError("unreachable: one check digit always fits")


class InstitutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Institution

    name = factory.Sequence(lambda n: f"Établissement {n}")
    siret = factory.Sequence(make_siret)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    institution = factory.SubFactory(InstitutionFactory)
    role = Role.CLERK
    password = factory.PostGenerationMethodCall("set_password", "un mot de passe solide")

    class Params:
        supervisor = factory.Trait(role=Role.SUPERVISOR)
        institution_admin = factory.Trait(role=Role.INSTITUTION_ADMIN)
        backoffice = factory.Trait(institution=None, is_staff=True, is_superuser=True)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class ApplicantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Applicant

    institution = factory.SubFactory(InstitutionFactory)
    file_reference = factory.Sequence(lambda n: f"DOS-{n:05d}")
    birth_name = factory.Iterator(["MARTIN", "DURAND", "LEFÈVRE", "N'DIAYE", "LE GALL"])
    first_names = factory.Iterator([["EMMA"], ["LÉO", "PAUL"], ["MARIE DAVIDA"]])
    sex = Sex.FEMALE
    birth_date = factory.LazyFunction(
        lambda: dt.date(2005, 1, 1) + dt.timedelta(days=random.randint(0, 1500))
    )


class ClaimFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Claim

    applicant = factory.SubFactory(ApplicantFactory)
    institution = factory.SelfAttribute("applicant.institution")
    kind = ClaimKind.SCOLARITE
    declared = factory.LazyFunction(lambda: {"uai": "0132733A", "school_year": 2025})
