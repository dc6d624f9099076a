from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("healthz", healthz),
    path("billing/", include("billing.urls")),
    path("diagnostics/", include("stations.diagnostics.urls")),
    path("firmware/", include("stations.firmware.urls")),
    path("", include("stations.portal.urls")),  # the driver portal
]
