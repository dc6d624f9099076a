"""Form pieces the admin's pages share."""

from __future__ import annotations

from typing import Any

from django import forms

from stations.services.windows import WEEKDAY_NAMES, weekdays_parse


class WeekdaysForm(forms.ModelForm):
    """A model form whose `weekdays` ("0123456", Monday 0) is edited as a row of checkboxes."""

    weekdays = forms.TypedMultipleChoiceField(
        choices=list(enumerate(WEEKDAY_NAMES)),
        coerce=int,
        initial=list(range(7)),
        widget=forms.CheckboxSelectMultiple(attrs={"class": "csms-weekdays"}),
        label="Days",
        help_text="The days the window opens on.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["weekdays"] = sorted(weekdays_parse(self.instance.weekdays))

    def clean_weekdays(self) -> str:
        return "".join(str(day) for day in sorted(self.cleaned_data["weekdays"]))
