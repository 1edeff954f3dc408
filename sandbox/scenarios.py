"""Scenario cases: YAML files that map request parameters to an answer.

One folder per endpoint, ``scenarios/<api>/<endpoint>/*.yaml``, in the spirit of API
Particulier's public staging data (etalab/siade_staging_data): each file holds one case::

    title: "Élève boursier échelon 1"
    description: "Where the case comes from, and what is guessed."
    params:                  # the query parameters that select the case
      nomNaissance: "MARTIN"
      prenoms[]: ["EMMA"]
    status: 200
    payload: |-              # the body, sent as written (or a mapping, sent as JSON)
      {"data": {...}}

Each API module decides how a request matches a case's ``params`` (API Particulier compares
folded identities, CVEC the attestation number and name key, ...). Cases are read once.
"""

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml


ROOT = Path(__file__).resolve().parent / "scenarios"


class ScenarioError(ValueError):
    pass


@dataclass(frozen=True)
class Case:
    title: str
    params: dict[str, Any]
    status: int
    payload: str  # the exact body ("" for none)
    description: str = ""
    path: str = field(default="", compare=False)

    def json(self) -> Any:
        return json.loads(self.payload) if self.payload else None


def _parse(path: Path) -> Case:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: not a mapping")
    for key in ("title", "params", "status"):
        if key not in data:
            raise ScenarioError(f"{path}: missing {key!r}")
    payload = data.get("payload", "")
    if not isinstance(payload, str):
        payload = json.dumps(payload, ensure_ascii=False, indent=2)
    if payload:
        json.loads(payload)  # a case must carry valid JSON
    return Case(
        title=str(data["title"]),
        params=dict(data["params"] or {}),
        status=int(data["status"]),
        payload=payload,
        description=str(data.get("description", "")).strip(),
        path=str(path.relative_to(ROOT)),
    )


@cache
def load(api: str, endpoint: str) -> tuple[Case, ...]:
    """The cases of one endpoint, in file-name order."""
    folder = ROOT / api / endpoint
    if not folder.is_dir():
        return ()
    return tuple(_parse(path) for path in sorted(folder.glob("*.yaml")))


def all_cases() -> dict[str, tuple[Case, ...]]:
    """Every case, by ``api/endpoint`` (for tests and the README)."""
    return {
        f"{folder.parent.name}/{folder.name}": load(folder.parent.name, folder.name)
        for folder in sorted(ROOT.glob("*/*"))
        if folder.is_dir()
    }
