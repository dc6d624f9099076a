from __future__ import annotations

from django.urls import path

from stations.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("sites/<int:site_id>/", views.site_detail, name="site_detail"),
    path("sites/<int:site_id>/status/", views.site_status, name="site_status"),
    path("sessions/", views.session_list, name="sessions"),
    path("cards/", views.card_list, name="cards"),
    path("cards/<int:token_id>/block/", views.card_block, name="card_block"),
    path("cards/<int:token_id>/unblock/", views.card_unblock, name="card_unblock"),
]
