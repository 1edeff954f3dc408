"""An institution admin registers a webhook endpoint, sees its secret once, follows its
deliveries and replays one; the pages pass axe under the CSP."""

import re

from tests.browser.test_api_pages import CSP_WATCH
from webhooks.enums import EventType
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services.deliveries import webhook_delivery_send
from webhooks.services.events import webhook_event_emit


def test_an_admin_registers_an_endpoint_and_follows_its_deliveries(
    institution_admin_page, institution, sandbox_settings, axe
):
    page = institution_admin_page
    page.add_init_script(CSP_WATCH)
    sandbox_settings.receiver_mode("browser", "500")
    page.goto("/etablissement/parametres/")
    page.get_by_role("link", name="Gérer les webhooks").click()
    page.get_by_label("Adresse de réception").fill(sandbox_settings.receiver_url("browser"))
    page.get_by_label("Description").fill("SI scolarité")
    page.get_by_label("Lot de vérifications terminé").check()
    page.get_by_role("button", name="Créer le point de réception").click()
    secret = page.locator("#webhook-secret").input_value()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret)
    axe(page)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == [EventType.BATCH_FINISHED]

    event = webhook_event_emit(
        institution_id=institution.pk, type=EventType.BATCH_FINISHED, data={"batch_id": 1}
    )
    delivery = WebhookDelivery.objects.get(event=event)
    webhook_delivery_send(delivery_id=delivery.pk)  # the worker's part: the receiver answers 500

    page.goto("/etablissement/webhooks/")
    assert secret not in page.content()
    page.get_by_role("link", name=endpoint.url).click()
    row = page.locator(f'tr[data-delivery="{delivery.pk}"]')
    row.get_by_text("(500)").wait_for()
    assert row.get_by_text("receiver failing on demand").is_visible()
    axe(page)
    sandbox_settings.receiver_mode("browser", "200")
    row.get_by_role("button", name="Renvoyer").click()
    page.get_by_text("Événement renvoyé.").wait_for()
    webhook_delivery_send(delivery_id=delivery.pk)
    page.reload()
    page.locator(f'tr[data-delivery="{delivery.pk}"]').get_by_text("Livré").wait_for()
    assert [r["status"] for r in sandbox_settings.receiver_received("browser")] == [500, 200]
    assert page.evaluate("window.__csp") == []
