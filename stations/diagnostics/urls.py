from __future__ import annotations

from django.urls import path

from stations.diagnostics import views

app_name = "diagnostics"
urlpatterns = [
    path("upload/<str:token>/", views.upload, name="upload"),
    path("upload/<str:token>/<str:filename>", views.upload, name="upload-named"),
]
