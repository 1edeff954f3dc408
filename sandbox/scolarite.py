"""Who the MEN scolarités endpoint finds, and what it answers about them.

A pupil is found on nom + first ``prenoms[]`` item + sexe + birth date + establishment +
school year, as API Particulier forwards them to the ministry
(docs/api/api-particulier.md §Matching). Names are compared folded (``population.fold``: case,
accents, hyphens, apostrophes and spaces); the real service's tolerance is not documented
[guessed], see the scenario README.
"""

from dataclasses import dataclass
from datetime import date
from functools import cache, cached_property
from typing import Any

from sandbox import scenarios
from sandbox.particulier_errors import error
from sandbox.people import ScolariteKey
from sandbox.population import (
    ESTABLISHMENTS,
    Person,
    ScolariteOutcome,
    fold,
)
from sandbox.state import Context


# Invented MEF codes and labels for the generated population (shapes as in the staging data).
_MEFS = (
    ("24721006110", "TERMINALE GENERALE"),
    ("24721005110", "PREMIERE GENERALE"),
    ("24631012110", "TERMINALE TECHNO STMG"),
    ("24024003210", "TERMINALE PRO COMMERCE"),
    ("25021001110", "1CAP2 PATISSIER"),
)


@dataclass(frozen=True)
class Query:
    nom: str
    prenoms: tuple[str, ...]
    sexe: str
    birth_date: date
    uai: str  # "" for a perimeter search (v4)
    departments: tuple[str, ...]
    any_establishment: bool  # a region perimeter: matched on any establishment [guessed]
    year: int

    @cached_property
    def _folded(self) -> tuple[str, str]:
        return fold(self.nom), fold(self.prenoms[0])

    def key(self, uai: str) -> ScolariteKey:
        return (*self._folded, self.sexe, self.birth_date, uai, self.year)

    def establishments(self, known: tuple[str, ...]) -> list[str]:
        """The establishments to look in: the UAI, or those of the perimeter."""
        if self.uai:
            return [self.uai]
        if self.any_establishment:
            return list(known)
        # A UAI starts with its département's BCN code (3 characters).
        return [uai for uai in known if uai[:3] in self.departments]


def _case_key(params: dict[str, Any]) -> ScolariteKey:
    if "nomNaissance" not in params:  # a v2 case: nom, prenom, sexe (m/f), dateNaissance
        year, month, day = str(params["dateNaissance"]).split("-")
        params = {
            "nomNaissance": params["nom"],
            "prenoms[]": [params["prenom"]],
            "sexeEtatCivil": str(params["sexe"]).upper(),
            "anneeDateNaissance": year,
            "moisDateNaissance": month,
            "jourDateNaissance": day,
            "codeEtablissement": params["codeEtablissement"],
            "anneeScolaire": params["anneeScolaire"],
        }
    prenoms = params.get("prenoms[]") or params.get("prenoms") or [""]
    if isinstance(prenoms, str):
        prenoms = [prenoms]
    return (
        fold(str(params["nomNaissance"])),
        fold(str(prenoms[0])),
        str(params["sexeEtatCivil"]),
        date(
            int(params["anneeDateNaissance"]),
            int(params["moisDateNaissance"]),
            int(params["jourDateNaissance"]),
        ),
        str(params["codeEtablissement"]).upper(),
        int(str(params["anneeScolaire"])[:4]),
    )


@cache
def cases(folder: str = "scolarites") -> dict[ScolariteKey, scenarios.Case]:
    return {_case_key(case.params): case for case in scenarios.load("particulier", folder)}


@cache
def _case_establishments(folder: str) -> tuple[str, ...]:
    return tuple(sorted({key[4] for key in cases(folder)}))


def find_case(query: Query, folder: str = "scolarites") -> scenarios.Case | None:
    table = cases(folder)
    for uai in query.establishments(_case_establishments(folder)):
        case = table.get(query.key(uai))
        if case is not None:
            return case
    return None


def find_person(ctx: Context, query: Query) -> Person | None:
    for uai in query.establishments(ESTABLISHMENTS):
        found = ctx.state.people.by_scolarite(query.key(uai))
        if found is not None:
            return found
    return None


def person_document(p: Person) -> tuple[int, dict[str, Any]]:
    """What API Particulier answers for person ``p`` (their outcome decides)."""
    if p.scolarite == ScolariteOutcome.UNKNOWN:
        return 404, {"errors": [error("30003")]}
    if p.scolarite == ScolariteOutcome.PROVIDER_ERROR:
        return 502, {"errors": [error("30999")]}
    enrolled = p.scolarite == ScolariteOutcome.ENROLLED
    boursier = enrolled and p.index % 10 < 3
    mef = _MEFS[p.index % len(_MEFS)] if enrolled else (None, None)
    data = {
        "identite": {
            "nom": p.birth_name,
            "prenom": p.first_names[0],
            "sexe": p.sex,
            "date_naissance": p.birth_date.isoformat(),
        },
        "module_elementaire_formation": {"code_mef_stat": mef[0], "libelle": mef[1]},
        "annee_scolaire": f"{p.school_year}-{p.school_year + 1}",
        "est_scolarise": enrolled,
        "statut_eleve": {"code": "ST", "libelle": "Scolaire"}
        if enrolled
        else {"code": "NS", "libelle": "Non scolarisé"},
        "etablissement": {"code_uai": p.uai, "code_ministere_tutelle": "06"},
        "est_boursier": boursier,
        "echelon_bourse": 1 + p.index % 6 if boursier else None,
    }
    return 200, {"data": data, "links": {}, "meta": {}}


def answer(ctx: Context, query: Query) -> tuple[int, str | dict[str, Any]]:
    """(status, body): a case's body is the exact text of its file."""
    if "," in query.prenoms[0]:
        # The ministry rejects a given name holding a comma
        # (docs/api/api-particulier.md §Matching); API Particulier then reports an unknown
        # provider answer [guessed].
        return 502, {"errors": [error("30999")]}
    case = find_case(query)
    if case is not None:
        return case.status, case.payload
    found = find_person(ctx, query)
    if found is not None:
        return person_document(found)
    return 404, {"errors": [error("30003")]}
