from django.utils import translation

from admissions.enums import AuditAction
from admissions.infra.choices import choice_label
from verifications.enums import Verdict


def test_a_choice_is_labelled_in_the_active_language_and_an_unknown_value_is_kept():
    assert choice_label(Verdict, "confirmed") == "Confirmé"
    with translation.override("en"):
        assert choice_label(Verdict, "confirmed") == "Confirmed"
    assert choice_label(Verdict, "") == ""
    assert choice_label(AuditAction, "no-such-action") == "no-such-action"
