from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self) -> None:
        # Every process registers the delivery tasks before one is sent by name.
        from webhooks import tasks  # noqa: F401
