"""Input and output shapes of the costs API."""

from copy import copy
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from collectors.models import Deployment, Node
from costs.models import Budget, HostedAlternative, NodePrice, PriceBookEntry
from costs.report import FORMATS
from costs.selectors import ReportError, parse_grouping


class CleanModelSerializer(serializers.ModelSerializer):
    """Runs the model's clean() on the validated values, so each rule is written once
    for the admin's forms and the API; its errors come back as field errors."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        model: Any = self.Meta.model
        instance = copy(self.instance) if self.instance is not None else model()
        for name, value in attrs.items():
            setattr(instance, name, value)
        try:
            instance.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from None
        return attrs


class PriceBookEntrySerializer(CleanModelSerializer):
    class Meta:
        model = PriceBookEntry
        fields = ["id", "gpu_model", "kind", "usd_per_gpu_hour", "valid_from", "source"]


class NodePriceSerializer(CleanModelSerializer):
    node = serializers.SlugRelatedField(slug_field="name", queryset=Node.objects.all())

    class Meta:
        model = NodePrice
        fields = [
            "id",
            "node",
            "valid_from",
            "kind",
            "usd_per_gpu_hour",
            "purchase_usd_per_gpu",
            "amortize_years",
            "usd_per_kwh",
            "pue",
        ]


class BudgetSerializer(CleanModelSerializer):
    deployment = serializers.PrimaryKeyRelatedField(
        queryset=Deployment.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = Budget
        fields = [
            "id",
            "name",
            "deployment",
            "label_key",
            "label_value",
            "monthly_usd",
            "scope",
            "created_at",
        ]
        read_only_fields = ["scope", "created_at"]


class HostedAlternativeSerializer(CleanModelSerializer):
    class Meta:
        model = HostedAlternative
        fields = ["id", "deployment", "name", "usd_per_1m_input", "usd_per_1m_output"]


class ReportQuerySerializer(serializers.Serializer):
    """The report's query string: whole UTC days, the end day excluded."""

    start = serializers.DateField(input_formats=["iso-8601"])
    end = serializers.DateField(input_formats=["iso-8601"], help_text="the day after the last")
    by = serializers.CharField(default="deployment", max_length=200)
    format = serializers.ChoiceField(choices=FORMATS, default="json")

    def validate_by(self, value: str) -> str:
        try:
            parse_grouping(value)
        except ReportError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": "The end must be after the start."})
        return attrs


class BudgetStatusSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="budget.pk")
    name = serializers.CharField(source="budget.name")
    scope = serializers.CharField(source="budget.scope")
    monthly_usd = serializers.DecimalField(
        source="budget.monthly_usd", max_digits=20, decimal_places=2
    )
    month_start = serializers.DateField()
    spent_usd = serializers.DecimalField(source="spent", max_digits=20, decimal_places=2)
    forecast_usd = serializers.DecimalField(source="forecast", max_digits=20, decimal_places=2)
    used_fraction = serializers.FloatField()
    state = serializers.CharField()
    exceeded_on = serializers.DateField(allow_null=True)
