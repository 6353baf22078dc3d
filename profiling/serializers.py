import math
from typing import Any

from rest_framework import serializers

from collectors.models import Deployment, Node
from profiling.choices import JobStatus, PointStatus
from profiling.constants import MAX_POINTS_PER_REPORT, MAX_TIME_LIMIT_S
from profiling.models import ProfilingJob, ProfilingResult
from vocab.sweeps import ATTENTIONS, DTYPES, QUANTS

MEASURES = (
    "ttft_ms", "ttft_ms_min", "ttft_ms_max", "itl_ms", "itl_ms_min", "itl_ms_max",
    "request_ms", "prefill_tokens_per_s", "decode_tokens_per_s", "tokens_per_s",
    "prefill_tflops", "decode_tflops", "mfu", "decode_gb_per_s", "mbu", "avg_power_w",
    "energy_j_per_token", "gpu_util_pct",
)  # fmt: skip


class Measure(serializers.FloatField):
    """A measured figure: finite and not negative, or null when not measured."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_null=True, required=False, min_value=0, max_value=1e18, **kwargs)

    def to_internal_value(self, data: Any) -> float:
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            raise serializers.ValidationError("Must be a finite number.")
        return value


class PointSerializer(serializers.Serializer):
    """One point as the runner emits it."""

    index = serializers.IntegerField(min_value=0, max_value=MAX_POINTS_PER_REPORT - 1)
    batch_size = serializers.IntegerField(min_value=1, max_value=4096)
    prompt_len = serializers.IntegerField(min_value=1, max_value=32768)
    gen_len = serializers.IntegerField(min_value=2, max_value=8192)
    dtype = serializers.ChoiceField(DTYPES)
    quant = serializers.ChoiceField(QUANTS)
    attention = serializers.ChoiceField(ATTENTIONS)
    compile = serializers.BooleanField()
    status = serializers.ChoiceField(PointStatus.choices)
    error = serializers.CharField(allow_blank=True, required=False, max_length=2000)
    peak_memory_bytes = serializers.IntegerField(
        min_value=0, max_value=2**62, allow_null=True, required=False
    )
    repeats = serializers.IntegerField(min_value=0, max_value=1000, required=False)

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        for name in MEASURES:
            fields[name] = Measure()
        return fields


def _count(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=0, max_value=2**62, required=False, allow_null=True, **kwargs
    )


def _text(length: int = 200) -> serializers.CharField:
    return serializers.CharField(max_length=length, allow_blank=True, required=False)


class PeakTflopsSerializer(serializers.Serializer):
    fp32 = Measure()
    fp16 = Measure()
    bf16 = Measure()


class PeakSerializer(serializers.Serializer):
    tflops = PeakTflopsSerializer(required=False)
    gb_per_s = Measure()
    source = _text(500)  # type: ignore[assignment]  # a field, not Field.source


class DeviceSerializer(serializers.Serializer):
    """The device a run used, as the runner describes it. Typed field by field: pages
    show these values, so an agent must not be able to store anything else."""

    type = serializers.ChoiceField(["cuda", "cpu"])
    name = _text()
    gpu_model = _text(50)
    memory_bytes = _count()
    torch = _text(50)
    cuda = serializers.CharField(max_length=50, allow_blank=True, allow_null=True, required=False)
    threads = _count()
    peak = PeakSerializer(required=False, allow_null=True)


class ModelInfoSerializer(serializers.Serializer):
    name = _text(300)
    kind = serializers.ChoiceField(["preset", "torchscript", "huggingface"], required=False)
    params = _count()
    layers = _count()
    d_model = _count()
    heads = _count()
    kv_heads = _count()
    d_ff = _count()
    vocab = _count()
    source = _text(1000)  # type: ignore[assignment]


class CapabilityDeviceSerializer(serializers.Serializer):
    index = serializers.IntegerField(min_value=0, max_value=1024, required=False, allow_null=True)
    name = _text()
    memory_bytes = _count()
    uuid = _text(100)


class CapabilitySerializer(serializers.Serializer):
    presets = serializers.ListField(child=serializers.CharField(max_length=50), max_length=50)
    model_paths = serializers.ListField(
        child=serializers.CharField(max_length=1000), max_length=100, required=False, default=list
    )
    devices = serializers.ListField(
        child=CapabilityDeviceSerializer(), max_length=64, required=False, default=list
    )
    torch_version = serializers.CharField(max_length=50, allow_blank=True, required=False)
    max_time_limit_s = serializers.IntegerField(
        min_value=60, max_value=MAX_TIME_LIMIT_S, required=False
    )
    # The node's own cap on what a run may allocate; the agent applies it to every job.
    memory_limit_bytes = serializers.IntegerField(
        min_value=2**20, max_value=2**50, required=False, allow_null=True
    )


class PollSerializer(serializers.Serializer):
    node = serializers.CharField(max_length=200)
    capabilities = CapabilitySerializer()


class ReportSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        [JobStatus.RUNNING, JobStatus.DONE, JobStatus.FAILED], default=JobStatus.RUNNING
    )
    total = serializers.IntegerField(min_value=0, max_value=MAX_POINTS_PER_REPORT, required=False)
    points = serializers.ListField(
        child=PointSerializer(), required=False, max_length=MAX_POINTS_PER_REPORT
    )
    device = DeviceSerializer(required=False)
    model = ModelInfoSerializer(required=False)
    error = serializers.CharField(allow_blank=True, required=False, max_length=10000)


class RunSerializer(serializers.Serializer):
    """A whole run as `inferscope-profile --format json` prints it."""

    spec = serializers.DictField()
    device = DeviceSerializer()
    model = ModelInfoSerializer(required=False, default=dict)
    points = serializers.ListField(child=PointSerializer(), max_length=MAX_POINTS_PER_REPORT)


class RunImportSerializer(serializers.Serializer):
    node = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")
    run = RunSerializer()


class JobCreateSerializer(serializers.Serializer):
    node = serializers.PrimaryKeyRelatedField(queryset=Node.objects.all())
    # The served deployment the sweep stands for; recommendations compare the two.
    deployment = serializers.PrimaryKeyRelatedField(
        queryset=Deployment.objects.all(), required=False, allow_null=True, default=None
    )
    name = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")
    spec = serializers.DictField()
    time_limit_s = serializers.IntegerField(
        min_value=60, max_value=MAX_TIME_LIMIT_S, required=False
    )


# Answers of the agent views (documentation only: the views build them as dicts).
class ClaimedJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    spec = serializers.DictField()
    time_limit_s = serializers.IntegerField()


class PollAnswerSerializer(serializers.Serializer):
    job = ClaimedJobSerializer(allow_null=True, help_text="null: nothing queued for the node")


class ReportAnswerSerializer(serializers.Serializer):
    status = serializers.ChoiceField(JobStatus.choices, help_text="cancelled: stop the run")
    points_done = serializers.IntegerField()


class RunImportAnswerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField(help_text="the job's page")


class ResultSerializer(serializers.ModelSerializer):
    setting = serializers.CharField(source="label", read_only=True)

    class Meta:
        model = ProfilingResult
        exclude = ["id", "job"]


class JobSerializer(serializers.ModelSerializer):
    node_name = serializers.CharField(
        source="node.name", read_only=True, default=None, allow_null=True
    )
    deployment_name = serializers.CharField(
        source="deployment.name", read_only=True, default=None, allow_null=True
    )
    progress_pct = serializers.FloatField(read_only=True)

    class Meta:
        model = ProfilingJob
        fields = [
            "id", "name", "node", "node_name", "deployment", "deployment_name", "status",
            "source", "spec", "time_limit_s", "points_total", "points_done", "progress_pct",
            "error", "device", "model_info", "gpu_model", "usd_per_gpu_hour",
            "price_description", "created_at", "started_at", "finished_at",
        ]  # fmt: skip


class JobDetailSerializer(JobSerializer):
    results = ResultSerializer(many=True, read_only=True)

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "results"]
