"""Assisted re-matching after "not found": the plausible variants of what a source matches on.

The sources match exactly (API Particulier forwards the identity to the ministry, which
searches the school's pupil record; the CVEC API searches on the attestation number and the
first five letters of the birth name; Certif Info on the code). A record typed one way and
known to the source another way comes back "not found" although the person is there.
:func:`variants_for` lists the variants worth trying, each a small set of field changes
(docs/REMATCHING.md gives the list, the reasons and the rules):

========================  ====================================================  ==============
key                       what changes                                          kinds
========================  ====================================================  ==============
``ascii``                 names in capitals, without accents                    scolarité
``usage_name``            the usage name sent as the birth name                 scolarité, CVEC
``birth_name_part_<n>``   one part of a compound birth name                     scolarité, CVEC
``birth_name_joined``     a compound birth name with a hyphen / a space         scolarité
``first_names_swapped``   the second given name first                           scolarité
``first_name_joined``     a compound given name with a hyphen / a space         scolarité
``day_month_swapped``     day and month of birth swapped (both ≤ 12)            scolarité
``code_<form>``           the code in another form (RNCP ↔ RS ↔ Certif Info)    certification
========================  ====================================================  ==============

A person always chooses which variants to try (each query sends personal data and needs a
reason): nothing here runs by itself. A variant's check asks the source the variant's
question; :func:`claim_decision` then says what the answer means for the claim as recorded:
a variant that differs from the record only in how it is written (accents, case, hyphens,
spaces) stands as the source's answer; any other variant that the source finds is a
``mismatch`` for the record (the source knows someone *like* the applicant), until a person
corrects the record from it (``services.rematch.applicant_correct_from_variant``) and a new
check confirms it.

Pure functions: no ORM, no settings, no HTTP. What each variant does, in words, is
``verifications.claims.VARIANT_LABELS`` (the audit trail names variants too).
"""

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from verifications.claims import CertificationDeclared, CvecDeclared, Declared
from verifications.enums import ClaimKind, Verdict
from verifications.names import fold_name, fold_to_ascii
from verifications.providers.base import Identity
from verifications.providers.cvec import etudiant_key
from verifications.verdicts.common import Decision, decision, row


# The reason codes of a source's "not found" that a variant may turn into an answer
# (``certification.level_unknown`` is a not_found verdict too, but about a level, not a match).
REMATCHABLE_REASONS = frozenset(
    {"scolarite.not_found", "cvec.not_found", "certification.not_found"}
)
# How long a "found with a variant" mismatch stands before a scheduled re-check.
MISMATCH_RECHECK = dt.timedelta(days=30)
# Words of a compound surname that are not a surname on their own.
_PARTICLES = frozenset(
    {"D", "DA", "DAS", "DE", "DEL", "DES", "DI", "DO", "DOS", "DU", "L", "LA", "LE", "LES"}
    | {"VAN", "VON", "DER", "DEN", "TER", "EL", "AL", "BEN", "BIN", "MAC", "MC", "O", "SAINT"}
)
_WORDS = re.compile(r"[\s\-]+")
_CODE = re.compile(r"^(RNCP|RS)?(\d+)$")
NAME_FIELDS = ("birth_name", "usage_name", "first_names")
# The fields a variant may change on the applicant (the others are the claim's declaration).
IDENTITY_CHANGES = frozenset({*NAME_FIELDS, "birth_date"})
# The reason of a variant the source found that differs from the record in substance.
FOUND_WITH_VARIANT = "variant.found"


@dataclass(frozen=True)
class Variant:
    """One alternative question: ``changes`` maps identity fields (``birth_name``,
    ``first_names`` as a list, ``birth_date`` as ``YYYY-MM-DD``) or declared fields (``code``)
    to the value to send instead of the record's."""

    key: str
    changes: Mapping[str, Any] = field(default_factory=dict)
    # The digest of the record the variant varies (``Claim.question_digest``), once a request
    # stores it: a variant of a record since changed is history.
    record: str = ""

    def as_json(self) -> dict[str, Any]:
        data = {"key": self.key, "changes": dict(self.changes)}
        return {**data, "record": self.record} if self.record else data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Variant":
        return cls(
            key=str(data["key"]),
            changes=dict(data.get("changes") or {}),
            record=str(data.get("record") or ""),
        )

    @property
    def fields(self) -> list[str]:
        return list(self.changes)


def rematchable(reason_code: str) -> bool:
    return reason_code in REMATCHABLE_REASONS


def variants_for(kind: str, identity: Identity, declared: Declared) -> list[Variant]:
    """The variants worth trying for a claim the source did not find, most plausible first,
    each asking a question different from the record's and from the others'."""
    same: Callable[[Identity], Hashable]
    match ClaimKind(kind):
        case ClaimKind.SCOLARITE:
            candidates = _scolarite_variants(identity)
            same = _scolarite_question
        case ClaimKind.CVEC:
            candidates = _cvec_variants(identity)
            same = _cvec_question
        case ClaimKind.CERTIFICATION:
            assert isinstance(declared, CertificationDeclared)
            return _code_variants(declared.code)
        case _:
            return []
    seen = {same(identity)}
    found = []
    for variant in candidates:
        question = same(apply_identity(identity, variant))
        if question not in seen:
            seen.add(question)
            found.append(variant)
    return found


def apply_identity(identity: Identity, variant: Variant | None) -> Identity:
    """The identity to send for ``variant`` (the record's when ``None``)."""
    if variant is None:
        return identity
    changes: dict[str, Any] = {}
    for name, value in variant.changes.items():
        if name == "first_names":
            changes[name] = tuple(value)
        elif name == "birth_date":
            changes[name] = dt.date.fromisoformat(value)
        elif name in ("birth_name", "usage_name"):
            changes[name] = str(value)
    return dataclasses.replace(identity, **changes)


def apply_declared(declared: Declared, variant: Variant | None) -> Declared:
    """The declaration to send for ``variant`` (the record's when ``None``)."""
    if variant is None or "code" not in variant.changes:
        return declared
    if isinstance(declared, CertificationDeclared | CvecDeclared):
        return dataclasses.replace(declared, code=str(variant.changes["code"]))
    return declared


def format_only(identity: Identity, variant: Variant) -> bool:
    """Whether the variant writes the same names differently (accents, case, hyphens, spaces)
    and changes nothing else: the sources' answer to it is an answer about the record."""
    for name, value in variant.changes.items():
        if name not in NAME_FIELDS:
            return False
        before = getattr(identity, name)
        if name == "first_names":
            if [fold_name(v) for v in before] != [fold_name(v) for v in value]:
                return False
        elif fold_name(before) != fold_name(value):
            return False
    return True


def claim_decision(
    result: Decision,
    variant: Variant,
    *,
    identity: Identity,
    declared: Declared,
    now: dt.datetime,
) -> Decision:
    """What the source's answer to a variant's question means for the claim as recorded.

    A source that did not find the variant either, or could not answer, says nothing new: the
    decision stands as it is (the pipeline leaves the claim's verdict alone then). A variant
    written differently only stands as the source's answer, with a note. Any other variant the
    source found (confirmed or contradicted for the variant's person) is a ``mismatch``: the
    diff shows each field the record and the variant differ in."""
    if not found(result):
        return dataclasses.replace(result, evidence={**result.evidence, "variant": variant.key})
    if format_only(identity, variant):
        return decision(
            result.verdict,
            result.reason_code,
            params=result.reason_params,
            diff=result.diff,
            notes=[*result.note_codes, "variant.format_only"],
            evidence={**result.evidence, "variant": variant.key},
            valid_until=result.valid_until,
        )
    changed = [
        row(name, _record_value(name, identity, declared), value, False)
        for name, value in variant.changes.items()
    ]
    listed = {r["field"] for r in result.diff}
    return decision(
        Verdict.MISMATCH,
        FOUND_WITH_VARIANT,
        params={
            "variant": variant.key,
            "source_verdict": str(result.verdict),
            "source_reason": result.reason_code,
        },
        diff=[*[r for r in changed if r["field"] not in listed], *result.diff],
        notes=[*result.note_codes, "variant.correct_record"],
        evidence={**result.evidence, "variant": variant.key, "source_verdict": str(result.verdict)},
        valid_until=now + MISMATCH_RECHECK,
    )


def found(result: Decision) -> bool:
    """Whether the source found someone (a verdict about a person or a certification), rather
    than not knowing them or not answering."""
    return found_verdict(result.verdict)


def found_verdict(verdict: str) -> bool:
    return verdict not in (Verdict.NOT_FOUND, Verdict.UNAVAILABLE, Verdict.REJECTED, "")


def _record_value(name: str, identity: Identity, declared: Declared) -> Any:
    if hasattr(identity, name):
        value = getattr(identity, name)
        return list(value) if isinstance(value, tuple) else value
    return getattr(declared, name, None)


# --- Scolarité --------------------------------------------------------------------------------


def _scolarite_question(identity: Identity) -> tuple:
    """What API Particulier sends to the ministry: the birth name, the first given name (the
    only one forwarded), sex and birth date, as typed."""
    first = identity.first_names[0] if identity.first_names else ""
    return (" ".join(identity.birth_name.split()), " ".join(first.split()), identity.birth_date)


def _upper_ascii(value: str) -> str:
    return " ".join(fold_to_ascii(value).upper().split())


def _scolarite_variants(identity: Identity) -> list[Variant]:
    variants = [
        Variant(
            "ascii",
            {
                "birth_name": _upper_ascii(identity.birth_name),
                "first_names": [_upper_ascii(name) for name in identity.first_names],
            },
        )
    ]
    variants += _surname_variants(identity)
    names = list(identity.first_names)
    if len(names) >= 2:
        variants.append(
            Variant("first_names_swapped", {"first_names": [names[1], names[0], *names[2:]]})
        )
    if names:
        joined = _rejoined(names[0])
        if joined:
            variants.append(Variant("first_name_joined", {"first_names": [joined, *names[1:]]}))
    birth = identity.birth_date
    if birth is not None and birth.day <= 12 and birth.day != birth.month:
        swapped = dt.date(birth.year, birth.day, birth.month)
        variants.append(Variant("day_month_swapped", {"birth_date": swapped.isoformat()}))
    return variants


def _surname_variants(identity: Identity) -> list[Variant]:
    variants = []
    usage = identity.usage_name.strip()
    if usage and fold_name(usage) != fold_name(identity.birth_name):
        variants.append(Variant("usage_name", {"birth_name": usage}))
    parts = [p for p in _WORDS.split(identity.birth_name.strip()) if p]
    if len(parts) >= 2:
        for n, part in enumerate(parts, start=1):
            if fold_to_ascii(part).upper() not in _PARTICLES and len(part) >= 2:
                variants.append(Variant(f"birth_name_part_{n}", {"birth_name": part}))
    joined = _rejoined(identity.birth_name)
    if joined:
        variants.append(Variant("birth_name_joined", {"birth_name": joined}))
    return variants


def _rejoined(name: str) -> str:
    """A compound name with its hyphens as spaces, or its spaces as hyphens ("" if simple)."""
    name = " ".join(name.split())
    if "-" in name:
        return " ".join(p for p in name.split("-") if p.strip())
    if " " in name:
        return name.replace(" ", "-")
    return ""


# --- CVEC -------------------------------------------------------------------------------------


def _cvec_question(identity: Identity) -> str:
    return etudiant_key(identity.birth_name)


def _cvec_variants(identity: Identity) -> list[Variant]:
    return _surname_variants(identity)


# --- Certification ----------------------------------------------------------------------------


def _code_variants(code: str) -> list[Variant]:
    """Another form of the code: a bare number read as an RNCP or RS code (rather than a Certif
    Info id), an RNCP code read as RS and the reverse (the two repertoires are often confused);
    leading zeros dropped."""
    text = "".join((code or "").split()).upper()
    match = _CODE.match(text)
    if not match:
        return []
    prefix, digits = match.group(1) or "", str(int(match.group(2)))
    forms = {
        "": [f"RNCP{digits}", f"RS{digits}"],
        "RNCP": [f"RS{digits}", f"RNCP{digits}"],
        "RS": [f"RNCP{digits}", f"RS{digits}"],
    }[prefix]
    variants: list[Variant] = []
    for form in forms:
        if form != text:
            key = "code_" + ("rncp" if form.startswith("RNCP") else "rs")
            if not any(v.key == key for v in variants):
                variants.append(Variant(key, {"code": form}))
    return variants
