"""Audit events in words (admissions/audit_words.py): every action and every detail key the
code writes has words, and the journal page, the timeline and the exports say them, never a
Python repr or an internal name."""

import ast
import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

from admissions import audit_words
from admissions.audit import audit_record
from admissions.enums import AuditAction
from admissions.forms import AUDIT_OBJECT_TYPES
from tests.factories import ApplicantFactory, ClaimFactory, UserFactory
from verifications.enums import ClaimKind
from verifications.services.batches import batch_pause, batch_resume, batch_verification_launch


ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("admissions", "verifications", "webhooks")
# The calls that write an event's details, and how: ``details=`` of audit_record and
# AuditEntry; the keyword arguments of a batch's status change (with its ``change``).
DETAILS_CALLS = {"audit_record", "AuditEntry"}
BATCH_STATUS_CALL = "_audit_status"
BATCH_STATUS_PARAMS = {"batch", "acting_user", "change", "ip"}


def _product_files() -> list[Path]:
    return [
        path
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def _name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


class _Keys:
    """The detail keys one module writes, read from its syntax tree."""

    def __init__(self, tree: ast.Module, where: str) -> None:
        self.tree, self.where = tree, where
        self.constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        self.keys: set[str] = set()
        self.unread: list[str] = []

    def key(self, node: ast.expr | None) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            self.keys.add(node.value)
        elif isinstance(node, ast.Name) and node.id in self.constants:
            self.keys.add(self.constants[node.id])
        else:
            self.unread.append(f"{self.where}:{getattr(node, 'lineno', '?')}")

    def expr(self, node: ast.expr, scope: ast.AST) -> None:
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if key is None:  # **other
                    self.expr(value, scope)
                else:
                    self.key(key)
        elif isinstance(node, ast.Name):
            self.variable(node.id, scope)
        elif isinstance(node, ast.BoolOp):  # details or {}
            for value in node.values:
                self.expr(value, scope)
        elif isinstance(node, ast.IfExp):  # {...} if variant else {}
            self.expr(node.body, scope)
            self.expr(node.orelse, scope)
        else:
            self.unread.append(f"{self.where}:{node.lineno}")

    def variable(self, name: str, scope: ast.AST) -> None:
        """Every key a local variable gets: its dict literal, ``x[k] = ``, ``x |= {...}``. A
        function's ``**kwargs`` are read at its call sites."""
        if isinstance(scope, ast.FunctionDef) and scope.args.kwarg and scope.args.kwarg.arg == name:
            return
        found = False
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name) and target.id == name:
                        found = True
                        self.expr(node.value, scope)
                    elif (
                        isinstance(target, ast.Subscript)
                        and isinstance(target.value, ast.Name)
                        and target.value.id == name
                    ):
                        self.key(target.slice)
            elif (
                isinstance(node, ast.AugAssign)
                and isinstance(node.target, ast.Name)
                and node.target.id == name
            ):
                self.expr(node.value, scope)
        if not found:
            self.unread.append(f"{self.where}: {name}")


def _functions(tree: ast.Module) -> Iterator[ast.AST]:
    yield tree
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _written() -> tuple[set[str], set[str], list[str]]:
    """(detail keys, batch ``change`` values, places the test could not read)."""
    keys: set[str] = set()
    changes: set[str] = set()
    unread: list[str] = []
    for path in _product_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        reader = _Keys(tree, str(path.relative_to(ROOT)))
        for scope in _functions(tree):
            body = scope.body if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef) else []
            calls = [n for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Call)]
            for call in calls:
                name = _name(call)
                if name in DETAILS_CALLS:
                    for keyword in call.keywords:
                        if keyword.arg == "details":
                            reader.expr(keyword.value, scope)
                elif name == BATCH_STATUS_CALL:
                    reader.keys.add("change")
                    for keyword in call.keywords:
                        if keyword.arg is not None and keyword.arg not in BATCH_STATUS_PARAMS:
                            reader.keys.add(keyword.arg)
                    third = call.args[2] if len(call.args) > 2 else None
                    if isinstance(third, ast.Constant):
                        changes.add(third.value)
                elif name == "_transition":
                    changes.update(
                        k.value.value
                        for k in call.keywords
                        if k.arg == "action" and isinstance(k.value, ast.Constant)
                    )
        keys |= reader.keys
        unread += reader.unread
    return keys, changes, unread


def test_every_detail_key_the_code_writes_has_words():
    keys, changes, unread = _written()
    assert not unread, f"details the test cannot read (write them as a dict literal): {unread}"
    assert len(keys) > 30  # the reader found them
    assert sorted(keys - set(audit_words.DETAIL_WORDS)) == []
    assert changes == {"paused", "resumed", "rerun_failed"}
    assert changes <= set(audit_words.BATCH_CHANGES)


def test_every_action_and_object_type_has_words():
    for action in AuditAction:
        assert str(action.label) != action.value
    written = set()
    for path in _product_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.keyword) and node.arg == "object_type"):
                continue
            value = node.value
            values = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
            written |= {v.value for v in values if isinstance(v, ast.Constant) and v.value}
    assert written
    # The models whose rows are passed as ``obj`` (their model name is the object type).
    written |= {
        "applicant",
        "claim",
        "batch",
        "user",
        "institution",
        "institutionpolicy",
        "sourcealert",
        "verdictchange",
        "verificationrequest",
    }
    assert sorted(written - set(AUDIT_OBJECT_TYPES)) == []
    # In the clerks' words, not the models' names.
    assert "Groupe de déclarations" not in {str(v) for v in AUDIT_OBJECT_TYPES.values()}
    assert "Règle de fraîcheur" not in {str(v) for v in AUDIT_OBJECT_TYPES.values()}


@pytest.mark.parametrize(
    ("details", "expected", "absent"),
    [
        (
            {"format": "csv", "filters": {"file_reference": "DOS-42", "action": "viewed"}},
            "Format : CSV ; Filtres : Dossier : DOS-42, Action : Consultation",
            ["{", "file_reference", "viewed"],
        ),
        (
            {"kind": "scolarite", "verdict": "confirmed", "reason": "scolarite.confirmed"},
            "Déclaration : Scolarité",
            ["scolarite.confirmed", "confirmed", "="],
        ),
        (
            {"changes": {"night_start": ["22:00", "23:00"], "cvec.interval_days": [30, 60]}},
            "22:00 → 23:00",
            ["[", "night_start", "interval_days"],
        ),
        ({"claims": {"scolarite": 3, "cvec": 2}}, "Déclarations : Scolarité : 3", ["{"]),
        ({"expires_at": "2027-01-31T10:00:00+00:00"}, "Expire le : 31/01/2027", ["T10"]),
        ({"change": "paused"}, "Lot mis en pause", ["paused"]),
        ({"lockout_seconds": 900, "locked_out": True}, "15 minutes", ["True"]),
    ],
)
def test_details_are_written_in_words(details, expected, absent):
    text = audit_words.details_text(details)
    assert expected in text
    for raw in absent:
        assert raw not in text, text


def test_in_english_details_are_punctuated_as_english():
    """ "Maximum lines : 100,000 ; Format : CSV" was French punctuation in English exports."""
    details = {"format": "csv", "row_limit": 100000, "claims": {"scolarite": 3}}
    with translation.override("en"):
        text = audit_words.details_text(details)
    assert text == "Claims: Enrolment: 3; Maximum lines: 100,000; Format: CSV", text
    with translation.override("fr"):
        text = audit_words.details_text(details)
    assert text == "Déclarations : Scolarité : 3 ; Lignes au plus : 100\u202f000 ; Format : CSV", (
        text
    )


def test_a_reason_is_its_sentence():
    from verifications.verdicts import REASONS

    code = next(iter(REASONS))
    text = audit_words.details_text({"reason": code})
    assert text.startswith("Motif : ")
    assert code not in text


def test_a_reason_says_the_values_its_decision_gave_it():
    text = audit_words.details_text(
        {
            "reason": "scolarite.confirmed",
            "reason_params": {"uai": "0751234A", "school_year": "2025-2026"},
        }
    )
    assert "l'établissement 0751234A pour l'année scolaire 2025-2026" in text
    assert "—" not in text
    assert "Valeurs du motif" not in text  # said within the sentence, not again
    # Without its reason, the values are still said.
    assert "uai = 0751234A" in audit_words.details_text({"reason_params": {"uai": "0751234A"}})


@pytest.mark.django_db
def test_people_by_name_and_vigie_by_its_name():
    named = UserFactory(first_name="Marie", last_name="Dupont", username="mdupont")
    bare = UserFactory(username="agent7")
    inst = named.institution
    events = [
        audit_record(action=AuditAction.CREATED, actor=named, institution=inst),
        audit_record(action=AuditAction.CREATED, actor=bare, institution=inst),
        audit_record(action=AuditAction.VERDICT_RECORDED, actor=None, institution=inst),
        audit_record(
            action=AuditAction.PURGED, actor=None, actor_label="retention", institution=inst
        ),
    ]
    names = [audit_words.actor_name(event) for event in events]
    assert names == ["Marie Dupont", "agent7", "Vigie", "Vigie (durée de conservation)"]


@pytest.mark.django_db
def test_pause_and_resume_say_so_on_the_journal_and_in_the_export(supervisor, supervisor_client):
    supervisor.first_name, supervisor.last_name = "Paul", "Martin"
    supervisor.save()
    claims = [
        ClaimFactory(applicant=ApplicantFactory(institution=supervisor.institution))
        for _ in range(2)
    ]
    batch = batch_verification_launch(acting_user=supervisor, claims=claims, label="Lot test")
    assert batch_pause(batch=batch, acting_user=supervisor)
    assert batch_resume(batch=batch, acting_user=supervisor)
    page = supervisor_client.get(reverse("audit_list"), {"object_type": "batch"}).text
    # Their own actions (tests/admissions/test_audit_view.py), not "Modification".
    assert "<td>Mise en pause" in page
    assert "<td>Reprise" in page
    assert "<td>Modification" not in page
    assert "Paul Martin" in page
    response = supervisor_client.get(reverse("audit_export", args=["csv"]))
    rows = list(
        csv.reader(
            io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")), delimiter=";"
        )
    )
    details = {row[9 - 1] for row in rows[1:]}
    assert "Changement : Lot mis en pause" in details
    assert "Changement : Lot repris" in details
    for text in details:
        assert not {"=", "{", "'"} & set(text), text
    assert {row[1] for row in rows[1:]} == {"Paul Martin"}
    assert {"Mise en pause", "Reprise"} <= {row[2] for row in rows[1:]}


@pytest.mark.django_db
def test_the_actor_filter_lists_people_by_name(supervisor, supervisor_client):
    UserFactory(institution=supervisor.institution, first_name="Zoé", last_name="Abel")
    page = supervisor_client.get(reverse("audit_list")).text
    assert "Zoé Abel" in page


def test_claim_kinds_have_words():
    for kind in ClaimKind:
        assert audit_words.details_text({"kind": kind.value}) == f"Déclaration : {kind.label}"


@pytest.mark.django_db
def test_the_gdpr_page_names_people_and_says_what_they_did(supervisor, supervisor_client):
    clerk = UserFactory(
        institution=supervisor.institution, first_name="Marie", last_name="Dupont", username="md7"
    )
    claim = ClaimFactory(applicant=ApplicantFactory(institution=supervisor.institution))
    audit_record(
        action=AuditAction.CREATED,
        actor=clerk,
        institution=supervisor.institution,
        obj=claim,
        applicant_id=claim.applicant_id,
        details={"kind": ClaimKind.SCOLARITE},
    )
    page = supervisor_client.get(reverse("applicant_export_page", args=[claim.applicant_id])).text
    assert "Marie Dupont" in page
    assert "md7" not in page
    assert "Scolarité" in page


@pytest.mark.django_db
def test_an_export_made_in_english_writes_its_details_in_english(supervisor, client):
    """The details follow the language of the export's request (the words translated in the
    English catalogue show; the lead fills the new ones)."""
    applicant = ApplicantFactory(institution=supervisor.institution)
    audit_record(
        action=AuditAction.VERDICT_RECORDED,
        actor=None,
        institution=supervisor.institution,
        applicant_id=applicant.pk,
        details={"kind": "scolarite", "verdict": "confirmed"},
    )
    client.force_login(supervisor)
    client.cookies["django_language"] = "en"
    response = client.get(reverse("audit_export", args=["csv"]), {"action": "verdict_recorded"})
    rows = list(
        csv.reader(
            io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")), delimiter=";"
        )
    )
    assert rows[0][1] == "Actor"
    [row] = rows[1:]
    assert "Enrolment" in row[8]
    assert "Confirmed" in row[8]
    assert "Scolarité" not in row[8]


@pytest.mark.django_db
def test_batches_name_who_launched_them(supervisor, supervisor_client):
    supervisor.first_name, supervisor.last_name, supervisor.username = "Paul", "Martin", "pm42"
    supervisor.save()
    claim = ClaimFactory(applicant=ApplicantFactory(institution=supervisor.institution))
    batch = batch_verification_launch(acting_user=supervisor, claims=[claim], label="Lot test")
    for url in (reverse("batch_list"), reverse("batch_detail", args=[batch.pk])):
        page = supervisor_client.get(url).text
        assert "Paul Martin" in page
        assert "pm42" not in page
