from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import re_path

from stations.monitoring.consumer import DashboardConsumer
from stations.ocpp.consumer import ChargePointConsumer

websocket_urlpatterns = [
    # Some chargers append the identity to a base URL that already ends with a slash.
    re_path(r"^ocpp/+(?P<identity>[^/]+)/?$", ChargePointConsumer.as_asgi()),
    # The admin's live dashboard: browsers with the admin's session cookie, from our own pages only.
    re_path(
        r"^monitoring/ws/dashboard/$",
        AllowedHostsOriginValidator(AuthMiddlewareStack(DashboardConsumer.as_asgi())),
    ),
]
