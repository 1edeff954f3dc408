from django.urls import path

from api import views
from api.v1 import api


urlpatterns = [
    path("api/v1/", api.urls),
    path("api/v1/docs", views.api_docs, name="api_docs"),
    path("etablissement/cles-api/", views.api_keys, name="api_keys"),
    path(
        "etablissement/cles-api/<id:key_id>/revoquer/", views.api_key_revoke, name="api_key_revoke"
    ),
]
