"""The purposes Vigie itself writes into the audit trail, in the reader's language.

An audit event's purpose is stored as written, in French: the trail's hash chain covers it, and
an inspector reads what was recorded. The purposes Vigie writes by itself are a fixed set of
constants (``VIEW_PURPOSE``, ``REQUEUE_PURPOSE``...); at display, ``purpose_text`` gives each
in the current language. A person's own words (a justification, a reason) stay as typed.
``tests/admissions/test_audit_purposes.py`` finds every purpose the code writes and checks it
is here, so a new one is translated from the start.
"""

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _


if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


SYSTEM_PURPOSES: dict[str, "StrOrPromise"] = {
    "instruction du dossier d'admission": _("instruction du dossier d'admission"),
    "contrôle du journal d'audit": _("contrôle du journal d'audit"),
    "consultation depuis le back-office": _("consultation depuis le back-office"),
    "back-office": _("back-office"),
    "remise en file depuis le back-office": _("remise en file depuis le back-office"),
    "réinitialisation du disjoncteur depuis le back-office": _(
        "réinitialisation du disjoncteur depuis le back-office"
    ),
    "alerte de configuration résolue depuis le back-office": _(
        "alerte de configuration résolue depuis le back-office"
    ),
    "re-vérification planifiée": _("re-vérification planifiée"),
    "correction du dossier d'après une variante trouvée par la source": _(
        "correction du dossier d'après une variante trouvée par la source"
    ),
    "droit à l'effacement (RGPD art. 17)": _("droit à l'effacement (RGPD art. 17)"),
    "droit d'accès (RGPD art. 15)": _("droit d'accès (RGPD art. 15)"),
    "résultats d'une vérification groupée": _("résultats d'une vérification groupée"),
    "changement de verdict vu": _("changement de verdict vu"),
    "vérification en ligne de commande": _("vérification en ligne de commande"),
    "certificat de vérification": _("certificat de vérification"),
    "contrôle public d'un certificat": _("contrôle public d'un certificat"),
    "certificats de vérification d'un lot": _("certificats de vérification d'un lot"),
    # The integration API's (api/operations.py, api/services.py).
    "échange avec le système d'information de l'établissement (API)": _(
        "échange avec le système d'information de l'établissement (API)"
    ),
    "lecture des preuves brutes par le système d'information (API)": _(
        "lecture des preuves brutes par le système d'information (API)"
    ),
}


def purpose_text(purpose: str) -> str:
    """A stored purpose in the current language: Vigie's own translated, a person's as typed."""
    return str(SYSTEM_PURPOSES.get(purpose, purpose))
