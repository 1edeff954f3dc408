from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VerificationsConfig(AppConfig):
    name = "verifications"
    verbose_name = _("Vérifications")

    def ready(self) -> None:
        # The services send the pipeline's tasks by name (``verifications/enqueue.py``): every
        # process registers them at start, not only the workers that autodiscover them.
        from verifications import tasks  # noqa: F401
        from verifications.audit_words import audit_words_install
        from verifications.services.claims import claim_hooks_install

        # The applicant domain records claims and follows identity edits through these
        # (admissions/claim_hooks.py): it never imports verifications.
        claim_hooks_install()
        # The audit trail says claim kinds, verdicts and reasons in words through these
        # (admissions/audit_words.py): it never imports verifications either.
        audit_words_install()
