"""The pages benchmark's baseline routes (bench/baseline.py): served only under bench.urls, through
the product's middleware and role checks, the one-query route costing exactly one query more than
the bare one and seeing only the member's institution."""

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, Resolver404, resolve

from bench import settings as bench_settings
from tests.factories import ApplicantFactory


pytestmark = pytest.mark.django_db

BENCH = override_settings(ROOT_URLCONF="bench.urls", TEMPLATES=bench_settings.TEMPLATES)


def test_the_product_does_not_serve_them():
    with pytest.raises((Resolver404, NoReverseMatch)):
        resolve("/__bench__/bare/")


@BENCH
def test_a_visitor_is_sent_to_the_login_page(client):
    assert client.get("/__bench__/bare/").status_code == 302


@BENCH
def test_one_query_costs_one_query_more_than_bare(clerk_client, clerk):
    applicant = ApplicantFactory(institution=clerk.institution)
    clerk_client.get("/__bench__/bare/")  # warm-up: the session's first read, caches
    with CaptureQueriesContext(connection) as bare:
        assert clerk_client.get("/__bench__/bare/").status_code == 200
    with CaptureQueriesContext(connection) as one:
        answer = clerk_client.get(f"/__bench__/one-query/{applicant.pk}/")
    assert answer.status_code == 200
    assert applicant.file_reference in answer.text
    assert len(one) == len(bare) + 1


@BENCH
def test_one_query_sees_only_the_members_institution(clerk_client):
    elsewhere = ApplicantFactory()
    answer = clerk_client.get(f"/__bench__/one-query/{elsewhere.pk}/")
    assert answer.status_code == 200
    assert elsewhere.file_reference not in answer.text
