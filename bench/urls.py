"""The product's URLconf plus the benchmark's baseline routes (bench/baseline.py)."""

from django.urls import path

from admissions.urls import urlpatterns as product_urlpatterns
from bench import baseline


urlpatterns = [
    path("__bench__/bare/", baseline.bare),
    path("__bench__/one-query/<int:applicant_id>/", baseline.one_query),
    *product_urlpatterns,
]
