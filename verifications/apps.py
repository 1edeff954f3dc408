from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VerificationsConfig(AppConfig):
    name = "verifications"
    verbose_name = _("Vérifications")

    def ready(self) -> None:
        # The services send the pipeline's tasks by name (``verifications/enqueue.py``): every
        # process registers them at start, not only the workers that autodiscover them.
        from verifications import tasks  # noqa: F401
