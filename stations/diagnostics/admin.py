"""Requested logs: read-only rows with their uploaded file, downloadable by staff of the charger's
organization (anyone else gets a 404, as if the row did not exist)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin
from django.http import FileResponse, Http404, HttpRequest
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from csms.tenancy_admin import ReadOnlyMixin, TenantAdmin, related_only
from stations.diagnostics.models import DiagnosticsRequest


@admin.register(DiagnosticsRequest)
class DiagnosticsRequestAdmin(ReadOnlyMixin, TenantAdmin):
    list_display = ["requested_at", "station", "kind", "status", "download", "size_bytes", "requested_by"]
    list_filter = ["status", "kind", related_only("station")]
    search_fields = ["station__identity", "file_name", "charger_file_name"]
    list_select_related = ["station"]
    date_hierarchy = "requested_at"
    fields: ClassVar[Any] = [
        "station",
        "kind",
        "status",
        "status_info",
        "request_id",
        ("since", "until"),
        "retries",
        "charger_file_name",
        "download",
        "size_bytes",
        "sha256",
        "requested_by",
        ("requested_at", "answered_at", "uploaded_at", "expires_at"),
    ]
    readonly_fields = [f for entry in fields for f in (entry if isinstance(entry, tuple) else (entry,))]

    def get_urls(self) -> list[URLPattern]:
        download = self.admin_site.admin_view(self.download_view)
        return [
            path("<int:pk>/download/", download, name="diagnostics_diagnosticsrequest_download"),
            *super().get_urls(),
        ]

    @admin.display(description="file")
    def download(self, request: DiagnosticsRequest) -> str:
        if not request.has_file:
            return "—"
        url = reverse("admin:diagnostics_diagnosticsrequest_download", args=[request.pk])
        return format_html('<a href="{}">{}</a>', url, request.file_name)

    def download_view(self, request: HttpRequest, pk: int, *args: Any) -> FileResponse:
        row = self.get_queryset(request).filter(pk=pk).first()  # scoped to the user's organizations
        if row is None or not self.has_view_permission(request, row) or not row.has_file:
            raise Http404("No such diagnostics file.")
        return FileResponse(
            row.file.open("rb"),
            as_attachment=True,
            filename=row.file_name,
            content_type="application/octet-stream",
        )
