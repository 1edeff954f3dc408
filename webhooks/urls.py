from django.urls import path

from webhooks import views


urlpatterns = [
    path("etablissement/webhooks/", views.webhook_endpoints, name="webhook_endpoints"),
    path(
        "etablissement/webhooks/<id:endpoint_id>/", views.webhook_endpoint, name="webhook_endpoint"
    ),
    path(
        "etablissement/webhooks/<id:endpoint_id>/reactiver/",
        views.webhook_endpoint_enable,
        name="webhook_endpoint_enable",
    ),
    path(
        "etablissement/webhooks/<id:endpoint_id>/supprimer/",
        views.webhook_endpoint_delete,
        name="webhook_endpoint_delete",
    ),
    path(
        "etablissement/webhooks/<id:endpoint_id>/livraisons/<id:delivery_id>/renvoyer/",
        views.webhook_delivery_replay,
        name="webhook_delivery_replay",
    ),
]
