"""No input answers 500: generated strings in every path parameter, query parameter and form
field of every route, as every role (issue 15).

The routes and how to build their URLs come from the route matrix
(tests/security/test_route_matrix.py), which fails when a route has no entry: so a new route is
walked here from the day it lands. For each route, hypothesis draws a method the route allows,
what to put in each path parameter (the real object's id, or a generated string), and values for
a few parameters: the fields of the form the page shows (read from its HTML, so that the other
fields are valid and the generated value reaches the domain's checks), the fields of every form
of ours, and the query parameters the views read. Each request is sent as anonymous, clerk,
supervisor, institution admin and back-office staff; any 500 (or exception) fails, with the
request that caused it: hypothesis then shrinks it to the smallest such input.

Each example runs in a savepoint rolled back after it, so examples do not see each other's
writes (and a database error does not poison the next). Examples are bounded per route
(``EXAMPLES``) to keep the test within tens of seconds in ``make test``.
"""

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from admissions.enums import Role
from tests.factories import UserFactory
from tests.security.test_route_matrix import (
    ADMIN,
    ANON,
    CLERK,
    ROLES,
    ROUTES,
    STAFF,
    SUPERVISOR,
    Tenant,
    discovered,
    make_tenant,
)
from verifications.enums import ClaimKind
from verifications.imports import COLUMNS


pytestmark = pytest.mark.django_db

EXAMPLES = 20
# Besides the generated examples, each parameter the page reads gets each of these, alone, as
# its institution admin (who may use every member's route): a number past every integer column,
# a superscript digit, which str.isdigit() accepts and int() refuses, and the first day of the
# calendar, which falls off it once a time zone is applied.
PROBES = ["9" * 25, "1.²", "0001-01-01"]

# Strings that broke something once, or that parsers trip over: digits of other scripts and
# superscripts, numbers past every integer column, signs and exponents, impossible dates,
# control, bidirectional and zero-width characters, markup, traversal, format specifiers.
HOSTILE = [
    "",
    " ",
    "0",
    "-1",
    "²",
    "1.²",
    "².1",
    "١٢",
    "1_000",
    "9" * 25,
    str(2**63),
    "1e400",
    "NaN",
    "31/02/2006",
    "2006-02-31",
    "99/99",
    "0000-00-00",
    "\x00",
    "a\x00b",
    "\u202e",
    "\x1b[31m",
    "\u200b",
    "\ufeff",
    "\u2028",
    "%s%n%(x)s",
    "{0}{x}",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../etc/passwd",
    "ą" * 300,
    "x" * 5000,
]

# Query parameters the views read that no form declares.
QUERY_NAMES = ["page", "apres", "batch", "next", "purpose", "source", "format", "sort", "q"]

# Short strings over an alphabet of what parsers trip over, so that "1.²" or "-0/9" come up.
_TRICKY = st.sampled_from(["0", "1", "9", ".", "-", "/", ":", "²", "٣", "\x00", "\u202e", "a", " "])
values = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(alphabet=_TRICKY, min_size=1, max_size=8),
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)


def _form_field_names() -> list[str]:
    """The fields of every form of ours (claim sections with and without their prefix)."""
    from tests.security.test_hostile_inputs import _our_form_classes
    from verifications.forms import claim_fields

    names = {name for cls in _our_form_classes() for name in getattr(cls, "base_fields", {})}
    for kind in ClaimKind:
        for name, _field in claim_fields(kind):
            names.update({name, f"{kind}-{name}"})
    return sorted(names)


class _FormFields(HTMLParser):
    """The data a page's forms would submit as shown: each field's current value."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        name = a.get("name")
        if tag == "input" and name and name != "csrfmiddlewaretoken":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a or name not in self.data:
                    self.data[name] = a.get("value", "on")
            elif kind not in ("submit", "button", "file", "image", "reset"):
                self.data.setdefault(name, a.get("value", ""))
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select:
            if "selected" in a or self._select not in self.data:
                self.data[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.data.setdefault(name, "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea and not self.data.get(self._textarea):
            self.data[self._textarea] = data.strip()


def _fields_shown(client: Client, url: str) -> dict[str, str]:
    response = client.get(url)
    if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
        return {}
    parser = _FormFields()
    parser.feed(response.content.decode("utf-8", "replace"))
    return parser.data


_CONVERTER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")


def _users(tenant: Tenant) -> dict[str, Any]:
    """Who sends each request: one person per role (``None``: anonymous)."""
    return {
        ANON: None,
        CLERK: UserFactory(institution=tenant.institution, role=Role.CLERK),
        SUPERVISOR: UserFactory(institution=tenant.institution, role=Role.SUPERVISOR),
        ADMIN: UserFactory(institution=tenant.institution, role=Role.INSTITUTION_ADMIN),
        STAFF: UserFactory(backoffice=True),
    }


def _client(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _methods(name: str) -> list[str]:
    return [
        method
        for method, by_role in ROUTES[name].expect.items()
        if any(status != 405 for status in by_role.values())
    ]


PATTERNS = {found.name: found.pattern for found in discovered()}


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_no_generated_input_answers_500(name):
    tenant = make_tenant()
    entry = ROUTES[name]
    real_kwargs = {k: str(v) for k, v in (entry.kwargs(tenant) if entry.kwargs else {}).items()}
    pattern = PATTERNS[name]
    params = [m["name"] for m in _CONVERTER.finditer(pattern)]
    # A role that may see the page shows its form: the baseline the generated values replace.
    users = _users(tenant)
    shown: dict[str, str] = {}
    if real_kwargs or not params:
        for role in (ADMIN, SUPERVISOR, CLERK):
            shown = _fields_shown(_client(users[role]), reverse(name, kwargs=real_kwargs))
            if shown:
                break
    # Mostly what this page reads (its form, the query parameters), sometimes any field of ours.
    own_names = sorted({*shown, *QUERY_NAMES})
    name_strategy = st.one_of(
        st.sampled_from(own_names), st.sampled_from(own_names), st.sampled_from(FORM_FIELDS)
    )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        method=st.sampled_from(_methods(name)),
        path=st.fixed_dictionaries(
            {p: st.one_of(st.just(real_kwargs.get(p, "1")), values) for p in params}
        ),
        fields=st.dictionaries(name_strategy, values, min_size=1, max_size=3),
        role=st.sampled_from(ROLES),
        htmx=st.booleans(),
    )
    def sends(
        method: str, path: dict[str, str], fields: dict[str, str], role: str, htmx: bool
    ) -> None:
        url = "/" + _CONVERTER.sub(lambda m: quote(path[m["name"]], safe=""), pattern)
        data = {**shown, **fields}
        headers = {"HX-Request": "true"} if htmx else {}
        sent = fields if method == "GET" else data
        label = f"{method} {url} as {role} with {sent!r}"
        with transaction.atomic():
            client = _client(users[role])
            try:
                if method == "GET":
                    response = client.get(url, fields, headers=headers)
                else:
                    response = client.generic(
                        method,
                        url,
                        urlencode(data),
                        content_type="application/x-www-form-urlencoded",
                        headers=headers,
                    )
            except Exception as exc:
                raise AssertionError(f"{label}: {type(exc).__name__}: {exc}") from exc
            # (/readyz answers 503 by design when a dependency is down: not an error.)
            assert response.status_code != 500, f"{label}: 500"
            transaction.set_rollback(True)

    methods = _methods(name)
    method = "POST" if "POST" in methods else methods[0]
    real_path = {p: real_kwargs.get(p, "1") for p in params}
    for field in own_names:
        for probe in PROBES:
            sends = example(
                method=method, path=real_path, fields={field: probe}, role=ADMIN, htmx=False
            )(sends)
    sends()


FORM_FIELDS = _form_field_names()


def test_every_route_of_the_urlconf_is_walked():
    assert set(PATTERNS) == set(ROUTES)
    assert len(PATTERNS) >= 30


# --- The CSV import: generated files, uploaded, previewed and imported -------------------------


def _valid_row(n: int) -> dict[str, str]:
    from tests.verifications.test_imports import _row

    return _row(n)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    changes=st.lists(
        st.tuples(st.integers(min_value=0, max_value=2), st.sampled_from(COLUMNS), values),
        min_size=1,
        max_size=4,
    ),
    delimiter=st.sampled_from([";", ","]),
    encoding=st.sampled_from(["utf-8-sig", "utf-8"]),
)
# The preview once called this line valid; the import then failed on PostgreSQL.
@example(changes=[(0, "courriel", "chloe\x00@example.org")], delimiter=";", encoding="utf-8-sig")
def test_no_generated_csv_answers_500(clerk, changes, delimiter, encoding):
    """Three valid lines, then generated values in a few cells: the upload, the preview and,
    when the preview offers it, the import itself answer without a 500 (the import is where a
    NUL the preview let through once failed on PostgreSQL)."""
    from tests.verifications.test_import_views import _upload
    from tests.verifications.test_imports import _csv

    rows = [_valid_row(n) for n in (1, 2, 3)]
    for line, column, value in changes:
        rows[line][column] = value
    try:
        data = _csv(rows, delimiter=delimiter, encoding=encoding)
    except UnicodeEncodeError:
        return
    with transaction.atomic():
        client = _client(clerk)
        response = _upload(client, data)
        assert response.status_code in (302, 400), (changes, response.status_code)
        if response.status_code == 302:
            preview = client.get(response["Location"])
            assert preview.status_code == 200, changes
            if 'id="import-confirm"' in preview.text:
                token = response["Location"].rstrip("/").rsplit("/", 1)[-1]
                confirmed = client.post(reverse("import_confirm", args=[token]))
                assert confirmed.status_code in (302, 409), (changes, confirmed.status_code)
        transaction.set_rollback(True)


# --- The back-office (Django admin): generated query strings on every list ----------------------
#
# The admin is apart from the route matrix (its own login, staff only), and its lists read any
# query parameter that names a field as a filter: ``?batch__id__exact=9999999999999999999999999``
# reached the database (SQLite: OverflowError). So each registered list gets, as staff, a filter
# on each of its model's fields (across relations too) with each probe, then generated ones, and
# each of its actions a generated selection.

_ADMIN_LOOKUPS = ["", "__exact", "__in", "__gt", "__lte", "__range", "__isnull", "__year"]


def _admin_lists() -> list[tuple[str, Any]]:
    from django.contrib import admin

    return sorted(
        (f"{model._meta.app_label}/{model._meta.model_name}", model_admin)
        for model, model_admin in admin.site._registry.items()
    )


def _admin_filter_keys(model: Any) -> list[str]:
    """A query parameter for each field of the model and lookup, and one across each relation
    to the related row's id (``batch__id__exact``, as the admin's own filters write it)."""
    keys = set()
    for field in model._meta.get_fields():
        names = [field.name, *([field.attname] if getattr(field, "attname", None) else [])]
        for name in names:
            keys.update(f"{name}{lookup}" for lookup in _ADMIN_LOOKUPS)
        if field.is_relation:
            keys.update({f"{field.name}__id__exact", f"{field.name}__pk__in"})
    return sorted(keys)


@pytest.fixture
def staff_client():
    return _client(UserFactory(backoffice=True, is_superuser=True))


@pytest.mark.parametrize("name", [name for name, _admin in _admin_lists()])
def test_no_admin_query_string_answers_500(staff_client, name):
    model_admin = dict(_admin_lists())[name]
    url = f"/back-office/{name}/"
    keys = [*_admin_filter_keys(model_admin.model), "q", "o", "p", "e", "_to_field"]

    def get(params: dict[str, str]) -> None:
        try:
            response = staff_client.get(url, params)
        except Exception as exc:
            raise AssertionError(f"GET {url} {params!r}: {type(exc).__name__}: {exc}") from exc
        assert response.status_code != 500, f"GET {url} {params!r}: 500"

    # Each field and lookup with a number past every integer column and a NUL, which
    # PostgreSQL's text, JSON and inet refuse (the other probes come with the generated values:
    # the walk over every field stays within a minute on PostgreSQL).
    for key in keys:
        for probe in ["9" * 25, "\x00"]:
            with transaction.atomic():
                get({key: probe})
                transaction.set_rollback(True)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(params=st.dictionaries(st.sampled_from(keys), values, min_size=1, max_size=3))
    def filters(params: dict[str, str]) -> None:
        with transaction.atomic():
            get(params)
            transaction.set_rollback(True)

    filters()


@pytest.mark.parametrize("name", [name for name, _admin in _admin_lists()])
def test_no_admin_action_on_a_generated_selection_answers_500(staff_client, name):
    model_admin = dict(_admin_lists())[name]
    url = f"/back-office/{name}/"
    request = staff_client.get(url).wsgi_request
    actions = sorted(model_admin.get_actions(request)) or ["delete_selected"]
    for action in actions:
        for selected in [*PROBES, "-1", "0", "١٢", "\x00"]:
            with transaction.atomic():
                data = {"action": action, "_selected_action": selected, "index": "0"}
                response = staff_client.post(url, data)
                assert response.status_code != 500, f"POST {url} {data!r}: 500"
                transaction.set_rollback(True)


def test_every_admin_list_bounds_its_filters(staff_client):
    """A list registered without ``BoundedLookupsMixin`` would reach the database with any
    number: each gets ``BoundedChangeList``, and a number past the columns is an invalid filter
    (the admin's ``?e=1``), whether the list shows that filter or not."""
    from admissions.admin import BoundedChangeList

    request = staff_client.get("/back-office/").wsgi_request
    for name, model_admin in _admin_lists():
        assert issubclass(model_admin.get_changelist(request), BoundedChangeList), name
    for params in (
        {"batch__id__exact": "9" * 25},
        {"batch": "9" * 25},
        {"institution__id__exact": "9" * 25},
        {"id__in": f"1,{'9' * 25}"},
        {"batch__id__exact": "²"},
    ):
        response = staff_client.get("/back-office/admissions/applicant/", params)
        assert response.status_code == 302, params
        assert response["Location"].endswith("?e=1"), params
    assert (
        staff_client.get("/back-office/admissions/applicant/", {"id__in": "-1,2"}).status_code
        == 200
    )
