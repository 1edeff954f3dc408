from django.urls import path

from verifications import views


urlpatterns = [
    path("", views.dashboard, name="home"),
    path("candidats/<int:applicant_id>/", views.applicant_detail, name="applicant_detail"),
    path("declarations/<int:claim_id>/carte/", views.claim_card, name="claim_card"),
    path("declarations/<int:claim_id>/verifier/", views.claim_verify, name="claim_verify"),
    path("declarations/<int:claim_id>/manuelle/", views.claim_manual, name="claim_manual"),
    path("declarations/<int:claim_id>/verdict/", views.claim_override, name="claim_override"),
]
