"""Firmware files and campaigns in the admin: start, pause, resume, stop and retry from the list or
the campaign's page, which shows each charger's progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse

from accounts.domain import ROLES_MANAGING
from csms.tenancy_admin import ReadOnlyInline, TenantAdmin, may_act
from stations.firmware import services
from stations.firmware.domain import ACTIVE, CampaignStatus, UpdateStatus
from stations.firmware.exceptions import FirmwareError
from stations.firmware.models import FirmwareCampaign, FirmwareFile, FirmwareUpdate

CampaignAction = Callable[..., Any]
ACTIONS: dict[str, tuple[str, CampaignAction]] = {
    "start": ("Started", services.firmware_campaign_start),
    "pause": ("Paused", services.firmware_campaign_pause),
    "resume": ("Resumed", services.firmware_campaign_resume),
    "stop": ("Stopped", services.firmware_campaign_stop),
    "retry": ("Retrying the failed chargers of", services.firmware_campaign_retry_failed),
}
# Which buttons a campaign's page offers in each state.
BUTTONS = {
    CampaignStatus.DRAFT: ("start", "stop"),
    CampaignStatus.RUNNING: ("pause", "stop", "retry"),
    CampaignStatus.PAUSED: ("resume", "stop", "retry"),
    CampaignStatus.STOPPED: (),
    CampaignStatus.DONE: ("retry",),
}


@admin.register(FirmwareFile)
class FirmwareFileAdmin(TenantAdmin):
    list_display = ["version", "vendor", "model", "source", "size_bytes", "signed", "created_at"]
    list_filter = ["vendor", "model"]
    search_fields = ["version", "vendor", "model"]
    readonly_fields = ["sha256", "size_bytes", "created_at"]
    fields = [
        "organization",
        "vendor",
        "model",
        "version",
        "file",
        "url",
        "sha256",
        "size_bytes",
        "signing_certificate",
        "signature",
        "created_at",
    ]

    @admin.display(description="Source")
    def source(self, firmware: FirmwareFile) -> str:
        return firmware.url or "Uploaded file"

    @admin.display(description="Signed", boolean=True)
    def signed(self, firmware: FirmwareFile) -> bool:
        return bool(firmware.signature)

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "file":  # the default widget links to the file's URL, which it has not
            kwargs["widget"] = forms.FileInput
        if db_field.name == "url":
            kwargs["assume_scheme"] = "https"
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: FirmwareFile, form: Any, change: bool) -> None:
        if "file" in form.changed_data or "url" in form.changed_data:
            services.firmware_file_record(firmware=obj)
        super().save_model(request, obj, form, change)


class FirmwareUpdateInline(ReadOnlyInline):
    """The per-charger progress table of a campaign."""

    model = FirmwareUpdate
    verbose_name_plural = "Progress per charger"
    fields: ClassVar[Any] = [
        "station",
        "status",
        "charger_status",
        "attempts",
        "last_error",
        "started_at",
        "last_progress_at",
        "downloaded_at",
        "finished_at",
        "reported_version",
    ]
    readonly_fields = fields


@admin.register(FirmwareCampaign)
class FirmwareCampaignAdmin(TenantAdmin):
    change_form_template = "admin/firmware/firmwarecampaign/change_form.html"
    list_display = ["name", "firmware", "status", "progress", "max_concurrent", "started_at", "finished_at"]
    list_filter = ["status"]
    search_fields = ["name", "firmware__version"]
    filter_horizontal = ["stations"]
    inlines = [FirmwareUpdateInline]
    actions = ["start_campaigns", "pause_campaigns", "resume_campaigns", "stop_campaigns", "retry_failed"]
    fields = [
        "organization",
        "name",
        "firmware",
        "stations",
        "max_concurrent",
        "retrieve_at",
        "retries",
        "stall_timeout_min",
        "status",
        "started_at",
        "finished_at",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        locked = ["status", "started_at", "finished_at"]
        if obj is not None and obj.status != CampaignStatus.DRAFT:
            locked += ["organization", "firmware", "stations"]  # the updates were made from them
        return locked

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .select_related("firmware")
            .annotate(
                updates_total=Count("updates"),
                updates_done=Count("updates", filter=Q(updates__status=UpdateStatus.SUCCEEDED)),
                updates_failed=Count("updates", filter=Q(updates__status=UpdateStatus.FAILED)),
                updates_active=Count("updates", filter=Q(updates__status__in=ACTIVE)),
            )
        )

    @admin.display(description="Progress")
    def progress(self, campaign: FirmwareCampaign) -> str:
        total = getattr(campaign, "updates_total", 0)
        if not total:
            return f"{campaign.stations.count()} chargers chosen" if campaign.pk else ""
        return (
            f"{campaign.updates_done}/{total} updated, {campaign.updates_active} updating, "  # type: ignore[attr-defined]
            f"{campaign.updates_failed} failed"  # type: ignore[attr-defined]
        )

    # --- actions and buttons ---------------------------------------------------------------------
    def _apply(self, request: HttpRequest, verb: str, campaigns: QuerySet[FirmwareCampaign]) -> None:
        done_label, action = ACTIONS[verb]
        for campaign in campaigns:
            if not may_act(request, ROLES_MANAGING, campaign):
                self.message_user(request, f"{campaign}: you may not change it.", messages.ERROR)
                continue
            try:
                outcome = action(campaign=campaign)
            except FirmwareError as error:
                self.message_user(request, f"{campaign}: {error}", messages.ERROR)
                continue
            extra = f" ({outcome} chargers)" if isinstance(outcome, int) else ""
            self.message_user(request, f"{done_label} {campaign}{extra}.", messages.SUCCESS)

    @admin.action(description="Start the selected campaigns")
    def start_campaigns(self, request: HttpRequest, queryset: QuerySet[FirmwareCampaign]) -> None:
        self._apply(request, "start", queryset)

    @admin.action(description="Pause the selected campaigns")
    def pause_campaigns(self, request: HttpRequest, queryset: QuerySet[FirmwareCampaign]) -> None:
        self._apply(request, "pause", queryset)

    @admin.action(description="Resume the selected campaigns")
    def resume_campaigns(self, request: HttpRequest, queryset: QuerySet[FirmwareCampaign]) -> None:
        self._apply(request, "resume", queryset)

    @admin.action(description="Stop the selected campaigns")
    def stop_campaigns(self, request: HttpRequest, queryset: QuerySet[FirmwareCampaign]) -> None:
        self._apply(request, "stop", queryset)

    @admin.action(description="Retry the failed chargers of the selected campaigns")
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[FirmwareCampaign]) -> None:
        self._apply(request, "retry", queryset)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:campaign_id>/do/<str:verb>/",
                self.admin_site.admin_view(self.campaign_action_view),
                name="firmware_firmwarecampaign_do",
            ),
            *super().get_urls(),
        ]

    def campaign_action_view(self, request: HttpRequest, campaign_id: int, verb: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        campaign = get_object_or_404(self.get_queryset(request), pk=campaign_id)
        if verb not in ACTIONS:
            self.message_user(request, f"Unknown action {verb!r}.", messages.ERROR)
        else:
            self._apply(request, verb, FirmwareCampaign.objects.filter(pk=campaign.pk))
        return HttpResponseRedirect(reverse("admin:firmware_firmwarecampaign_change", args=[campaign.pk]))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        campaign = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if campaign is not None and may_act(request, ROLES_MANAGING, campaign):
            context["campaign_buttons"] = [
                (verb, reverse("admin:firmware_firmwarecampaign_do", args=[campaign.pk, verb]))
                for verb in BUTTONS[CampaignStatus(campaign.status)]
                if verb != "retry" or campaign.updates.filter(status=UpdateStatus.FAILED).exists()
            ]
        return super().change_view(request, object_id, form_url, extra_context=context)
