"""The admin's CSV import of ID tokens: a form on the card list that hands the file to the import service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.templatetags.admin_urls import admin_urlname
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from accounts.domain import ROLES_MANAGING
from accounts.models import Organization
from accounts.tenancy import organizations_of
from accounts.token_import import COLUMNS, EXAMPLE_CSV, id_tokens_import

# A file of thousands of wrong rows would make a page nobody reads; the first ones show what to fix.
ERRORS_SHOWN = 500


class TokenImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8, with a header row, separated by commas or semicolons.",
    )
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.none(), help_text="The organization that issues and manages the cards."
    )
    check_only = forms.BooleanField(
        required=False, label="Check only", help_text="Check the file and count the changes, without saving."
    )

    def __init__(self, *args: Any, organizations: QuerySet[Organization], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["organization"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = organizations
        if len(choices := list(organizations[:2])) == 1:
            field.initial = choices[0]


def token_import_urls(model_admin: admin.ModelAdmin) -> list[URLPattern]:
    """Return the import page and its example file, to put before the model admin's own URLs."""
    prefix = f"{model_admin.opts.app_label}_{model_admin.opts.model_name}"

    def import_view(request: HttpRequest) -> HttpResponse:
        return token_import_view(model_admin, request)

    site = model_admin.admin_site
    return [
        path("import/", site.admin_view(import_view), name=f"{prefix}_import"),
        path(
            "import/example.csv", site.admin_view(token_import_example_view), name=f"{prefix}_import_example"
        ),
    ]


def token_import_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """Show the import form; import the posted file, or show the rows it refused."""
    # Who may add cards may import them (superusers, and staff managing an organization), into the
    # organizations they manage.
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    organizations = organizations_of(request.user, roles=ROLES_MANAGING)
    form = TokenImportForm(request.POST or None, request.FILES or None, organizations=organizations)
    result = None
    if request.method == "POST" and form.is_valid():
        result = id_tokens_import(
            file=form.cleaned_data["file"],
            organization=form.cleaned_data["organization"],
            dry_run=form.cleaned_data["check_only"],
        )
        if result.ok and not result.dry_run:
            organization = form.cleaned_data["organization"]
            model_admin.message_user(
                request, f"Imported into {organization}: {result.counts()}.", messages.SUCCESS
            )
            changelist = admin_urlname(model_admin.opts, "changelist")  # type: ignore[arg-type]  # stubs: SafeString
            return HttpResponseRedirect(reverse(changelist))
        if result.ok:
            model_admin.message_user(
                request, f"The file is fine; importing it would give: {result.counts()}.", messages.INFO
            )
    opts = model_admin.opts
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": f"Import {opts.verbose_name_plural} from CSV",
        "form": form,
        "columns": COLUMNS,
        "errors": result.errors[:ERRORS_SHOWN] if result else (),
        "errors_hidden": max(0, len(result.errors) - ERRORS_SHOWN) if result else 0,
        "media": model_admin.media + form.media,
    }
    return TemplateResponse(request, "admin/accounts/idtoken/import.html", context)


def token_import_example_view(request: HttpRequest) -> HttpResponse:
    """Serve a small CSV file with every column, to start from."""
    return HttpResponse(
        EXAMPLE_CSV,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="id-tokens-example.csv"'},
    )
