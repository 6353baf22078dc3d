"""Input and output shapes of the costs API."""

from datetime import UTC, datetime
from typing import Any

from rest_framework import serializers

from collectors.models import Deployment, Node
from costs.economics.phases import BASIS_LABELS
from costs.fields import GroupingField
from costs.models import Budget, HostedAlternative, NodePrice, PriceBookEntry
from costs.report import FORMATS
from inferscope.lib.drf.errors import CleanModelSerializer
from inferscope.lib.drf.query import check_range
from inferscope.lib.timerange import MAX_SPAN


class PriceBookEntrySerializer(CleanModelSerializer):
    class Meta:
        model = PriceBookEntry
        fields = ["id", "gpu_model", "kind", "usd_per_gpu_hour", "valid_from", "source"]


class NodeNameField(serializers.SlugRelatedField):
    """A node by name. PostgreSQL cannot compare text holding NUL: refused before the query."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data.replace("\x00", ""))
        return super().to_internal_value(data)


class NodePriceSerializer(CleanModelSerializer):
    node = NodeNameField(slug_field="name", queryset=Node.objects.all())

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


class HourField(serializers.DateTimeField):
    """A UTC day (YYYY-MM-DD, its midnight) or an instant, floored to its hour."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(input_formats=["%Y-%m-%d", "iso-8601"], default_timezone=UTC, **kwargs)

    def to_internal_value(self, value: Any) -> datetime:
        parsed: datetime = super().to_internal_value(value)
        return parsed.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class ReportQuerySerializer(serializers.Serializer):
    """The report's query string: whole UTC days (the end day excluded) or hours."""

    start = HourField()
    end = HourField(help_text="the day after the last, or the hour after the last")
    by = GroupingField()
    format = serializers.ChoiceField(choices=FORMATS, default="json")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # At most 400 days, as the pages allow: the measured split reads every deployment-hour.
        check_range(attrs["start"], attrs["end"], MAX_SPAN)
        return attrs


class CostReportRowSerializer(serializers.Serializer):
    """One row of the report (documentation only: the rows are rendered by costs.report).
    Money is a string, as every $ figure of the API; a per-unit figure is null
    when its denominator is zero. active + idle-held + truly idle = cost_usd, and
    idle-held + truly idle = idle_usd."""

    group = serializers.CharField()
    gpu_hours = serializers.FloatField()
    cost_usd = serializers.CharField()
    idle_usd = serializers.CharField()
    requests = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    generation_tokens = serializers.IntegerField()
    usd_per_request = serializers.FloatField(allow_null=True)
    usd_per_1m_tokens = serializers.FloatField(allow_null=True)
    usd_per_1m_prompt_tokens = serializers.FloatField(allow_null=True)
    usd_per_1m_generated_tokens = serializers.FloatField(allow_null=True)
    usd_per_hour = serializers.FloatField(allow_null=True)
    usd_per_day = serializers.FloatField(allow_null=True)
    usd_per_month = serializers.FloatField(allow_null=True)
    energy_wh = serializers.FloatField()
    wh_per_1k_tokens = serializers.FloatField(allow_null=True)
    gco2e_per_1m_tokens = serializers.FloatField(allow_null=True)
    active_usd = serializers.CharField(help_text="of cost_usd, deployments' GPU time serving")
    idle_held_usd = serializers.CharField(
        help_text="of idle_usd, deployments' GPU time held while serving nothing"
    )
    truly_idle_usd = serializers.CharField(help_text="of idle_usd, GPU time no deployment held")
    active_hours = serializers.FloatField()
    idle_held_hours = serializers.FloatField()
    truly_idle_hours = serializers.FloatField()
    phase_basis = serializers.ChoiceField(
        choices=list(BASIS_LABELS),
        allow_null=True,
        help_text="what splits $ per 1M prompt and generated tokens: forward or request, "
        "the deployments' measured phase times; mixed, both; model, the token weighting; "
        "null: no tokens",
    )


class CostReportSerializer(serializers.Serializer):
    """The report as JSON (documentation only); the last row is the total."""

    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    by = serializers.CharField()
    rows = CostReportRowSerializer(many=True)


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
