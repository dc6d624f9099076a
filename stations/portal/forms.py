from __future__ import annotations

from django import forms


class SiteSearchForm(forms.Form):
    q = forms.CharField(
        label="Search sites",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or address"}),
    )


class CardAddForm(forms.Form):
    id_tag = forms.CharField(
        label="Card number",
        max_length=36,
        help_text="As printed on the card or shown by the charger when you present it.",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )
    label = forms.CharField(
        label="Name",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "e.g. Blue key fob"}),
    )
