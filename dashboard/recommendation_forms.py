"""The Recommendations pages' forms: the list's filters and a status change.

The form checks the shape of the input (which action, a snooze's length); whether
the change applies to this recommendation is the service's call (`ActionError`).
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from recommendations.choices import RecommendationStatus
from recommendations.rules import RULES

ACTIONS = [("dismiss", "Dismiss"), ("snooze", "Snooze"), ("done", "Done"), ("reopen", "Reopen")]
SNOOZE_DAYS = [("1", "1 day"), ("7", "7 days"), ("30", "30 days")]


class RecommendationFilterForm(forms.Form):
    status = forms.ChoiceField(choices=RecommendationStatus.choices, required=False)
    rule = forms.ChoiceField(required=False)

    def __init__(self, data: Any) -> None:
        super().__init__(data)
        rule = self.fields["rule"]
        assert isinstance(rule, forms.ChoiceField)
        rule.choices = [("", "any"), *((name, name.replace("_", " ")) for name in sorted(RULES))]

    def filters(self) -> dict[str, str]:
        """What recommendations_list takes; open when no status is asked for."""
        data = self.cleaned_data
        return {"status": data["status"] or RecommendationStatus.OPEN, "rule": data["rule"]}


class RecommendationActionForm(forms.Form):
    """A snooze takes `days` (1, 7 or 30) or `until` (a date, reopening at its start, UTC)."""

    action = forms.ChoiceField(choices=ACTIONS)
    days = forms.TypedChoiceField(choices=SNOOZE_DAYS, coerce=int, required=False, empty_value=None)
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") != "snooze":
            return data
        days, until = data.get("days"), data.get("until")
        if (days is None) == (until is None) and not self.errors:
            raise forms.ValidationError("Snooze for 1, 7 or 30 days, or until a date: one of them.")
        if until is not None and until <= timezone.now().date():
            self.add_error("until", "Pick a date after today.")
        return data

    def snooze_until(self, now: datetime | None = None) -> datetime:
        days, until = self.cleaned_data.get("days"), self.cleaned_data.get("until")
        if isinstance(until, date):
            return datetime(until.year, until.month, until.day, tzinfo=UTC)
        return (now or timezone.now()) + timedelta(days=int(days or 0))
