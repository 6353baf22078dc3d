"""Shapes of the fleet and time-series API: the rows each list gives.

A time-series row has the same fields, in the same order, as its CSV export's header
(the column maps in api.selectors), so a page and an export of it agree.
"""

from rest_framework import serializers

from api.selectors import (
    GPU_ROLLUP_COLUMNS,
    GPU_SAMPLE_COLUMNS,
    INFERENCE_ROLLUP_COLUMNS,
    INFERENCE_SAMPLE_COLUMNS,
)
from collectors.models import Agent, Deployment, Gpu, GpuSample, InferenceSample, Node
from inferscope.lib.drf.fields import UtcDateTimeField
from telemetry.models import GpuRollup, InferenceRollup

# Fleet ------------------------------------------------------------------------------


class NodeSerializer(serializers.ModelSerializer):
    created_at = UtcDateTimeField(read_only=True)
    agent_name = serializers.CharField(read_only=True, allow_null=True)
    agent_last_seen_at = UtcDateTimeField(read_only=True, allow_null=True)
    gpu_count = serializers.IntegerField(read_only=True)
    deployment_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Node
        fields = [
            "id",
            "name",
            "hostname",
            "simulated",
            "labels",
            "agent",
            "agent_name",
            "agent_last_seen_at",
            "gpu_count",
            "deployment_count",
            "created_at",
        ]
        read_only_fields = fields


class GpuSerializer(serializers.ModelSerializer):
    node_name = serializers.CharField(source="node.name", read_only=True)
    created_at = UtcDateTimeField(read_only=True)
    last_sample_at = UtcDateTimeField(source="last_ts", read_only=True, allow_null=True)
    last_util_gpu = serializers.FloatField(source="last_util", read_only=True, allow_null=True)
    last_power_w = serializers.FloatField(source="last_power", read_only=True, allow_null=True)
    last_mem_used_bytes = serializers.IntegerField(
        source="last_mem_used", read_only=True, allow_null=True
    )
    last_temp_c = serializers.FloatField(source="last_temp", read_only=True, allow_null=True)

    class Meta:
        model = Gpu
        fields = [
            "id",
            "uuid",
            "node",
            "node_name",
            "index",
            "model_name",
            "memory_total_bytes",
            "mig_profile",
            "gpu_fraction",
            "util_from",
            "deployments",
            "created_at",
            "last_sample_at",
            "last_util_gpu",
            "last_power_w",
            "last_mem_used_bytes",
            "last_temp_c",
        ]
        read_only_fields = fields


class DeploymentSerializer(serializers.ModelSerializer):
    node_name = serializers.CharField(source="node.name", read_only=True)
    created_at = UtcDateTimeField(read_only=True)
    last_sample_at = UtcDateTimeField(source="last_ts", read_only=True, allow_null=True)

    class Meta:
        model = Deployment
        fields = [
            "id",
            "name",
            "node",
            "node_name",
            "model",
            "server_kind",
            "endpoint",
            "labels",
            "gpus",
            "created_at",
            "last_sample_at",
        ]
        read_only_fields = fields


class AgentSerializer(serializers.ModelSerializer):
    """No token hash. The token's first characters tell tokens apart, and are part of
    the secret: only people who may manage agents see them (null for the others)."""

    token_prefix = serializers.SerializerMethodField()
    created_at = UtcDateTimeField(read_only=True)
    last_seen_at = UtcDateTimeField(read_only=True, allow_null=True)
    revoked_at = UtcDateTimeField(read_only=True, allow_null=True)
    active = serializers.SerializerMethodField()

    class Meta:
        model = Agent
        fields = [
            "id",
            "name",
            "token_prefix",
            "version",
            "dropped_samples",
            "nodes",
            "created_at",
            "last_seen_at",
            "revoked_at",
            "active",
        ]
        read_only_fields = fields

    def get_active(self, agent: Agent) -> bool:
        return agent.revoked_at is None

    def get_token_prefix(self, agent: Agent) -> str | None:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return agent.token_prefix if user and user.has_perm("collectors.change_agent") else None


# Time series ------------------------------------------------------------------------


class GpuSampleSerializer(serializers.ModelSerializer):
    gpu_uuid = serializers.CharField(source="gpu.uuid", read_only=True)
    ts = UtcDateTimeField(read_only=True)

    class Meta:
        model = GpuSample
        # The export's columns, in order: a page and a CSV row read the same fields.
        fields = list(GPU_SAMPLE_COLUMNS)
        read_only_fields = fields


class InferenceSampleSerializer(serializers.ModelSerializer):
    deployment_name = serializers.CharField(source="deployment.name", read_only=True)
    ts = UtcDateTimeField(read_only=True)

    class Meta:
        model = InferenceSample
        # The export's columns, in order: a page and a CSV row read the same fields.
        fields = list(INFERENCE_SAMPLE_COLUMNS)
        read_only_fields = fields


def _avg_field(annotation: str) -> serializers.FloatField:
    # The selector's SQL average, so a page and its CSV export give the same digits.
    return serializers.FloatField(source=annotation, read_only=True, allow_null=True)


class GpuRollupSerializer(serializers.ModelSerializer):
    gpu_uuid = serializers.CharField(source="gpu.uuid", read_only=True)
    resolution_s = serializers.IntegerField(source="resolution", read_only=True)
    bucket = UtcDateTimeField(read_only=True)
    util_avg = _avg_field("avg_util")
    power_avg = _avg_field("avg_power")
    temp_avg = _avg_field("avg_temp")
    mem_used_avg = _avg_field("avg_mem_used")
    sm_clock_avg = _avg_field("avg_sm_clock")

    class Meta:
        model = GpuRollup
        # The export's columns, in order: a page and a CSV row read the same fields.
        fields = list(GPU_ROLLUP_COLUMNS)
        read_only_fields = fields


class InferenceRollupSerializer(serializers.ModelSerializer):
    deployment_name = serializers.CharField(source="deployment.name", read_only=True)
    resolution_s = serializers.IntegerField(source="resolution", read_only=True)
    bucket = UtcDateTimeField(read_only=True)
    kv_cache_avg = _avg_field("avg_kv_cache")

    class Meta:
        model = InferenceRollup
        # The export's columns, in order: a page and a CSV row read the same fields.
        fields = list(INFERENCE_ROLLUP_COLUMNS)
        read_only_fields = fields
