"""Query and answer shapes of the economics API.

Every $ amount is a string to the micro-dollar, as cost records give it; a
per-unit figure or share is a float, and null where its denominator is zero or
nothing was measured.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from collectors.models import Deployment, DeploymentSettings
from costs.economics.figures import Figures
from costs.economics.idle import IdleStep
from costs.economics.phases import BASIS_LABELS
from costs.fields import GroupingField
from costs.selectors import CostRow
from inferscope.lib.drf.fields import UtcDateTimeField
from inferscope.lib.drf.query import BoundedQuerySerializer, ListQuerySerializer
from inferscope.lib.timerange import hour_ceil, hour_floor
from telemetry.models.capacity import CapacityBasis, CapacityEstimate

# The period a query gets when it gives none: the costs page's default range.
DEFAULT_WINDOW = timedelta(days=30)
STEPS = {"hour": 3600, "day": 86400}
HOUR = timedelta(hours=1)


class Money(serializers.DecimalField):
    """Dollars as a string to the micro-dollar."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_digits=20, decimal_places=6, read_only=True, **kwargs)


# -- queries ------------------------------------------------------------------------


class WindowQuerySerializer(BoundedQuerySerializer):
    """A period of whole UTC hours: `start` floored to its hour, `end` raised to the end
    of its hour (costs are attributed per hour). Without them, the last 30 days to the
    end of the current hour; at most 400 days, as the pages allow."""

    def window(self, attrs: dict[str, Any]) -> timedelta:
        return DEFAULT_WINDOW

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        attrs.update(start=hour_floor(attrs["start"]), end=hour_ceil(attrs["end"]))
        return attrs


class DeploymentsQuerySerializer(WindowQuerySerializer):
    """The period, and which deployments: by id or name, node, GPU or label."""


class CapacityQuerySerializer(ListQuerySerializer):
    """Which deployments' estimates; an estimate covers its own window, not a range."""

    # None takes a parent's field off (DRF): these queries have no such parameter.
    start = None  # type: ignore[assignment]
    end = None  # type: ignore[assignment]


def _refuse(serializer: serializers.Serializer, names: tuple[str, ...]) -> None:
    """A filter another list takes is refused here, not dropped: dropping it would
    answer with the whole fleet's bill as if it had been applied."""
    given = getattr(serializer, "initial_data", {}) or {}
    refused = {name: "This endpoint does not filter by this." for name in names if name in given}
    if refused:
        raise serializers.ValidationError(refused)


class IdleSeriesQuerySerializer(WindowQuerySerializer):
    """The period and its step; `deployment`, `node` and `label` keep their deployments'
    shares, and a node's or label's GPUs' truly idle time (not a deployment's)."""

    gpu = None  # type: ignore[assignment]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _refuse(self, ("gpu",))
        return super().validate(attrs)

    step = serializers.ChoiceField(
        choices=list(STEPS), default="hour", help_text="hour (default) or day (UTC days)"
    )


class IdleReportQuerySerializer(WindowQuerySerializer):
    """The period and the grouping of the three-way split (the whole bill, no filters)."""

    node = None  # type: ignore[assignment]
    gpu = None  # type: ignore[assignment]
    deployment = None  # type: ignore[assignment]
    label = None  # type: ignore[assignment]
    by = GroupingField(help_text="deployment (default), node, gpu or label:KEY")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _refuse(self, ("node", "gpu", "deployment", "label"))
        return super().validate(attrs)


# -- deployments' figures -----------------------------------------------------------


@dataclass(frozen=True)
class DeploymentEconomics:
    """One deployment's figures over the period, with its names and SLO targets."""

    deployment: Deployment
    figures: Figures
    slo: DeploymentSettings

    def _split(self, usd: float) -> float | None:
        return usd if self.figures.split_known else None

    @property
    def active_usd(self) -> Decimal:
        return self.figures.cost_usd - self.figures.idle_held_usd

    @property
    def prefill_usd(self) -> float | None:
        return self._split(self.figures.prefill_usd)

    @property
    def decode_usd(self) -> float | None:
        return self._split(self.figures.decode_usd)

    @property
    def ttft_met_share(self) -> float | None:
        return self.figures.met_share("ttft")

    @property
    def itl_met_share(self) -> float | None:
        return self.figures.met_share("itl")

    @property
    def e2e_met_share(self) -> float | None:
        return self.figures.met_share("e2e")


def _share(help_text: str, source: str | None = None) -> serializers.FloatField:
    return serializers.FloatField(
        allow_null=True, read_only=True, help_text=help_text, source=source
    )


class DeploymentEconomicsSerializer(serializers.Serializer):
    deployment = serializers.IntegerField(source="deployment.pk", read_only=True)
    deployment_name = serializers.CharField(source="deployment.name", read_only=True)
    node_name = serializers.CharField(source="deployment.node.name", read_only=True)
    labels = serializers.JSONField(source="deployment.labels", read_only=True)
    cost_usd = Money(source="figures.cost_usd", help_text="what attribution charged it")
    active_usd = Money(help_text="of cost_usd, the part of its hours it was serving")
    idle_held_usd = Money(
        source="figures.idle_held_usd", help_text="of cost_usd, held while serving nothing"
    )
    prefill_usd = Money(allow_null=True, help_text="of cost_usd, prefill's part of its GPU time")
    decode_usd = Money(allow_null=True, help_text="of cost_usd, decode's part")
    phase_basis = serializers.ChoiceField(
        source="figures.basis",
        choices=list(BASIS_LABELS),
        allow_null=True,
        read_only=True,
        help_text="forward or request: measured phase times; mixed: hours measured both "
        "ways; model: a token weighting; null: nothing to split by",
    )
    usd_per_1m_prompt = _share("prefill $ per million prompt tokens", "figures.usd_per_1m_prompt")
    usd_per_1m_generated = _share(
        "decode $ per million generated tokens", "figures.usd_per_1m_generated"
    )
    requests = serializers.IntegerField(source="figures.requests", read_only=True)
    prompt_tokens = serializers.IntegerField(source="figures.prompt_tokens", read_only=True)
    generation_tokens = serializers.IntegerField(source="figures.generation_tokens", read_only=True)
    cache_hits = serializers.IntegerField(source="figures.cache_hits", read_only=True)
    cache_queries = serializers.IntegerField(source="figures.cache_queries", read_only=True)
    hit_rate = _share("prefix-cache hits / queries (tokens)", "figures.hit_rate")
    preemptions = serializers.IntegerField(source="figures.preemptions", read_only=True)
    cache_saved_usd = Money(
        source="figures.cache_saved_usd", help_text="prefill $ the cache hits did not spend"
    )
    recompute_usd = Money(
        source="figures.recompute_usd", help_text="prefill $ spent again after preemptions"
    )
    cache_net_usd = Money(source="figures.cache_net_usd", help_text="saved less recomputed")
    good_requests = serializers.FloatField(
        source="figures.good_requests",
        read_only=True,
        help_text="finished requests within every SLO target (estimate: the worst metric's share)",
    )
    good_requests_min = serializers.FloatField(
        source="figures.good_requests_min", read_only=True, help_text="a lower bound of the same"
    )
    goodput = _share("good requests / requests", "figures.goodput")
    goodput_min = _share("good_requests_min / requests", "figures.goodput_min")
    ttft_met_share = _share("share of requests whose time to first token met its target")
    itl_met_share = _share("share of generated tokens whose inter-token gap met its target")
    e2e_met_share = _share("share of requests whose end-to-end latency met its target")
    slo_ttft_ms = serializers.FloatField(source="slo.slo_ttft_ms", read_only=True)
    slo_itl_ms = serializers.FloatField(source="slo.slo_itl_ms", read_only=True)
    slo_e2e_ms = serializers.FloatField(source="slo.slo_e2e_ms", read_only=True)
    usd_per_good_request = _share("cost_usd / good_requests", "figures.usd_per_good_request")
    usd_per_request = _share("cost_usd / requests", "figures.usd_per_request")


# -- the three kinds of GPU time ----------------------------------------------------


class IdleSplitSerializer(serializers.Serializer):
    """active + idle-held + truly idle = usd, the bill of what it covers."""

    usd = Money()
    active_usd = Money(help_text="deployments' GPU time while they served")
    idle_held_usd = Money(help_text="deployments' GPU time while they held it serving nothing")
    truly_idle_usd = Money(help_text="GPU time no deployment held")
    active_hours = serializers.FloatField(read_only=True)
    idle_held_hours = serializers.FloatField(read_only=True)
    truly_idle_hours = serializers.FloatField(read_only=True)


class IdleStepSerializer(IdleSplitSerializer):
    at = UtcDateTimeField(read_only=True, help_text="the step's start (UTC midnight for days)")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        return {"at": fields.pop("at"), **fields}


IDLE_USD = ("usd", "active_usd", "idle_held_usd", "truly_idle_usd")
IDLE_HOURS = ("active_hours", "idle_held_hours", "truly_idle_hours")


def idle_totals(steps: Iterable[IdleStep]) -> dict[str, Any]:
    """The steps added up: the period's split."""
    totals: dict[str, Any] = {name: Decimal(0) for name in IDLE_USD}
    totals.update({name: 0.0 for name in IDLE_HOURS})
    for step in steps:
        for name in totals:
            totals[name] += getattr(step, name)
    return totals


class IdleSeriesSerializer(serializers.Serializer):
    start = UtcDateTimeField(read_only=True)
    end = UtcDateTimeField(read_only=True)
    step = serializers.ChoiceField(choices=list(STEPS), read_only=True)
    totals = IdleSplitSerializer(read_only=True)
    results = IdleStepSerializer(many=True, read_only=True)


class IdleGroupSerializer(IdleSplitSerializer):
    """One group of the report: a costs.selectors.CostRow."""

    group = serializers.CharField(source="key", read_only=True)
    usd = Money(source="cost_usd")
    gpu_hours = serializers.FloatField(read_only=True)
    idle_held_share = serializers.SerializerMethodField(help_text="idle-held $ / $")
    truly_idle_share = serializers.SerializerMethodField(help_text="truly idle $ / $")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        return {"group": fields.pop("group"), "gpu_hours": fields.pop("gpu_hours"), **fields}

    @staticmethod
    def _share(usd: Decimal, row: CostRow) -> float | None:
        return float(usd / row.cost_usd) if row.cost_usd else None

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_idle_held_share(self, row: CostRow) -> float | None:
        return self._share(row.idle_held_usd, row)

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_truly_idle_share(self, row: CostRow) -> float | None:
        return self._share(row.truly_idle_usd, row)


class IdleReportSerializer(serializers.Serializer):
    start = UtcDateTimeField(read_only=True)
    end = UtcDateTimeField(read_only=True)
    by = serializers.CharField(read_only=True)
    rows = IdleGroupSerializer(many=True, read_only=True, help_text="the groups, most $ first")
    total = IdleGroupSerializer(read_only=True, help_text="every group: the whole bill")


# -- capacity -----------------------------------------------------------------------


class CapacityEstimateSerializer(serializers.ModelSerializer):
    deployment_name = serializers.CharField(source="deployment.name", read_only=True)
    node_name = serializers.CharField(source="deployment.node.name", read_only=True)
    basis = serializers.ChoiceField(choices=CapacityBasis.choices, read_only=True)
    binding_metric = serializers.ChoiceField(
        choices=["ttft", "itl", "e2e"],
        allow_blank=True,
        read_only=True,
        help_text="the SLO metric reached first; empty when none bounds it",
    )
    headroom = _share("share of the capacity left at the current load; negative past it")
    replicas_needed = serializers.IntegerField(
        allow_null=True, read_only=True, help_text="replicas like this one the current load needs"
    )
    replicas_needed_peak = serializers.IntegerField(
        allow_null=True, read_only=True, help_text="the same at the window's busiest hour"
    )
    is_lower_bound = serializers.BooleanField(
        read_only=True, help_text="the load seen never reached the knee: at least this much"
    )
    computed_at = UtcDateTimeField(read_only=True)
    window_start = UtcDateTimeField(read_only=True)
    window_end = UtcDateTimeField(read_only=True)

    class Meta:
        model = CapacityEstimate
        fields = [
            "deployment",
            "deployment_name",
            "node_name",
            "capacity_rps",
            "capacity_tokens_s",
            "basis",
            "binding_metric",
            "current_rps",
            "peak_rps",
            "headroom",
            "replicas_needed",
            "replicas_needed_peak",
            "is_lower_bound",
            "computed_at",
            "window_start",
            "window_end",
        ]
        read_only_fields = fields


class CapacityEstimateDetailSerializer(CapacityEstimateSerializer):
    detail = serializers.JSONField(
        read_only=True,
        help_text="the knee's workings: targets_s, bins (p95 per rate), per_metric fits",
    )

    class Meta(CapacityEstimateSerializer.Meta):
        fields = [*CapacityEstimateSerializer.Meta.fields, "detail"]
        read_only_fields = fields
