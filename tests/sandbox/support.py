"""Helpers shared by the sandbox contract tests."""

from datetime import date
from typing import Any

import requests

from sandbox import tokens
from sandbox.population import STAGING_RECIPIENT, Person


TIMEOUT = 10


def scolarite_params(
    nom: str,
    prenoms: list[str],
    sexe: str,
    born: date,
    uai: str | None,
    annee: str | int,
    **extra: Any,
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "recipient": STAGING_RECIPIENT,
        "nomNaissance": nom,
        "prenoms[]": prenoms,
        "sexeEtatCivil": sexe,
        "anneeDateNaissance": born.year,
        "moisDateNaissance": born.month,
        "jourDateNaissance": born.day,
        "anneeScolaire": str(annee),
    }
    if uai is not None:
        params["codeEtablissement"] = uai
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}


def person_params(p: Person, **extra: Any) -> dict[str, Any]:
    return scolarite_params(
        p.birth_name, list(p.first_names), p.sex, p.birth_date, p.uai, p.school_year, **extra
    )


def get_scolarite(
    base: str,
    params: dict[str, Any],
    *,
    token: str | None = tokens.DEFAULT_TOKEN,
    version: str = "v4",
    **kwargs: Any,
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(kwargs.pop("headers", {}))
    return requests.get(
        f"{base}/particulier/{version}/men/scolarites/identite",
        params=params,
        headers=headers,
        timeout=kwargs.pop("timeout", TIMEOUT),
        **kwargs,
    )


def first(population_filter: Any, start: int = 0) -> Person:
    """The first generated person matching a predicate."""
    from sandbox.population import POPULATION_SIZE, person

    for i in range(start, POPULATION_SIZE):
        p = person(i)
        if population_filter(p):
            return p
    raise LookupError("nobody matches")
