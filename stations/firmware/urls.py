from __future__ import annotations

from django.urls import URLPattern

app_name = "firmware"
urlpatterns: list[URLPattern] = []
