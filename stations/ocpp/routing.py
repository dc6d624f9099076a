from __future__ import annotations

from django.urls import re_path

from stations.ocpp.consumer import ChargePointConsumer

websocket_urlpatterns = [
    # Some chargers append the identity to a base URL that already ends with a slash.
    re_path(r"^ocpp/+(?P<identity>[^/]+)/?$", ChargePointConsumer.as_asgi()),
]
