from __future__ import annotations

from django.urls import URLPattern, path

from stations.firmware import views

app_name = "firmware"
urlpatterns: list[URLPattern] = [
    path("download/<str:token>/", views.firmware_download, name="download"),
]
