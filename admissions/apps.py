from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AdmissionsConfig(AppConfig):
    name = "admissions"
    verbose_name = _("Candidatures")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_login_failed
        from django.urls import register_converter

        # ``tasks``: registered in every process, as their beat ticks send them by name.
        from admissions import login_throttle, tasks  # noqa: F401
        from admissions.infra import session_security
        from admissions.infra.integers import IdConverter
        from admissions.ops import celery_signals

        # ``<id:...>`` in URL patterns (admissions/infra/integers.py): before any URLconf is loaded.
        register_converter(IdConverter, "id")

        user_login_failed.connect(login_throttle.on_login_failed, dispatch_uid="vigie-throttle")
        user_logged_in.connect(login_throttle.on_logged_in, dispatch_uid="vigie-throttle")
        user_logged_in.connect(
            session_security.mark_session_start, dispatch_uid="vigie-session-start"
        )
        celery_signals.connect()  # request ids into tasks, the dispatcher's heartbeat
