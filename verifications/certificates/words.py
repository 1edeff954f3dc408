"""A certificate's payload in words, in one language: what the PDF prints (pure: no database)."""

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from django.utils import formats, timezone
from django.utils.translation import gettext as _

from admissions.infra.choices import choice_label
from verifications.enums import ClaimKind, Source, Verdict


def _when(iso: str) -> str:
    if not iso:
        return "—"
    moment = timezone.localtime(datetime.fromisoformat(iso))
    return formats.date_format(moment, "d/m/Y H:i")


def statement(payload: dict[str, Any], language: str) -> dict[str, Any]:
    """Every text of the certificate, in the active language (the caller sets ``language``)."""
    from verifications.templatetags.verifications import declared_items

    check = payload["check"]
    claim = payload["claim"]
    institution = payload["institution"]
    reason = check.get(f"reason_{language}") or check.get("reason_fr") or ""
    verdict = choice_label(Verdict, check["verdict"])
    check_rows = [
        (_("Source"), choice_label(Source, check["source"])),
        (
            _("Décision d'une personne") if check.get("decided_by") else _("Source interrogée le"),
            _("%(who)s, le %(when)s") % {"who": check["decided_by"], "when": _when(check["at"])}
            if check.get("decided_by")
            else _when(check["at"]),
        ),
        (_("Motif"), reason or "—"),
        (_("Demandée par"), check.get("requested_by") or _("Vigie (vérification automatique)")),
        (_("Empreinte des preuves (SHA-256)"), check.get("evidence_digest") or "—"),
        (_("Délivré le"), _when(payload["issued_at"])),
        (_("Clé de signature"), payload["key_id"]),
    ]
    declared = declared_items(SimpleNamespace(declared=claim.get("declared") or {}))
    return {
        "institution": _("%(name)s (SIRET %(siret)s)")
        % {"name": institution.get("name", ""), "siret": institution.get("siret", "")},
        "applicant": [
            (_("Nom"), payload["applicant"].get("name", "")),
            (_("Référence du dossier"), payload["applicant"].get("file_reference", "")),
        ],
        "claim": [(_("Type"), choice_label(ClaimKind, claim["kind"])), *declared],
        "verdict": _("Verdict : %(verdict)s") % {"verdict": verdict},
        "check": check_rows,
        "verify_online": _(
            "Scannez le code QR, ou ouvrez %(url)s et saisissez le numéro et le code de contrôle : "
            "la page dit si ce certificat est authentique et s'il vaut toujours."
        )
        % {"url": payload["verify_url"]},
        "verify_offline": _(
            "Hors ligne : ce PDF contient le texte signé (%(payload)s) et sa signature Ed25519 "
            "(%(signature)s), vérifiables avec la clé publique %(key)s publiée par "
            "l'établissement (manage.py certificate_verify, ou tout outil Ed25519)."
        )
        % {
            "payload": "vigie-certificate.json",
            "signature": "vigie-certificate.sig",
            "key": payload["key_id"],
        },
        "scope": _scope(claim["kind"]),
    }


def _scope(kind: str) -> str:
    base = _(
        "Ce certificat atteste la réponse de la source (ou la décision d'une personne) à la date "
        "indiquée, rien de plus ; il ne remplace pas la pièce elle-même."
    )
    if kind == ClaimKind.CERTIFICATION:
        return (
            base
            + " "
            + _("Certif Info décrit la certification ; il ne dit pas si la personne la détient.")
        )
    return base
