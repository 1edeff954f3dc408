from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = _("API d'intégration")

    def ready(self) -> None:
        # Beat sends the purge by name (admissions/celery.py): registered in every process.
        from api import tasks  # noqa: F401
