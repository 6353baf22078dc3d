"""/api/v1/samples/…, rollups/… and cost-records: time series over a bounded range.

Every series reads `start` to `end` (ISO 8601, UTC unless an offset is given; end
exclusive). A missing range is the latest default window of the granularity: raw
samples 1 hour, minutes 1 day, hours 7 days, days 90 days. Raw samples and minutes
take at most 31 days a request, hours and days 400. Pages follow a cursor over
(time, id), oldest first; `?format=csv|json` streams the whole range instead.
"""

from typing import Any

from django.db.models import QuerySet
from rest_framework import viewsets

from api import selectors
from api.serializers import (
    GpuRollupSerializer,
    GpuSampleSerializer,
    InferenceRollupSerializer,
    InferenceSampleSerializer,
)
from collectors.models import GpuSample, InferenceSample
from costs import records
from inferscope.lib.drf.pagination import TimeCursorPagination
from inferscope.lib.drf.query import (
    GRANULARITIES,
    CostQuerySerializer,
    RollupQuerySerializer,
    SeriesQuerySerializer,
)
from inferscope.lib.drf.views import ListExportView
from telemetry.models import GpuRollup, InferenceRollup


class SeriesView(ListExportView, viewsets.GenericViewSet):
    # The selectors read the range from self.filters(); the cursor pages by (time, id).
    pagination_class = TimeCursorPagination
    query_serializer_class = SeriesQuerySerializer
    ordering = ("ts", "pk")

    def query_context(self) -> dict[str, Any]:
        return {"granularity": "raw"}

    @property
    def resolution(self) -> int:
        return int(GRANULARITIES[self.query["granularity"]])


class GpuSampleViewSet(SeriesView):
    """Raw GPU samples as NVML reported them (kept for a couple of weeks).
    Filters: gpu, node, deployment (the GPUs it runs on), label."""

    serializer_class = GpuSampleSerializer
    export_name = "gpu-samples"
    export_columns = selectors.GPU_SAMPLE_COLUMNS

    def get_queryset(self) -> QuerySet[GpuSample]:
        return selectors.gpu_samples_list(self.filters())


class InferenceSampleViewSet(SeriesView):
    """Raw inference-server samples; counters are deltas over `interval_s`.
    Filters: deployment, node, gpu (the deployments on it), label."""

    serializer_class = InferenceSampleSerializer
    export_name = "inference-samples"
    export_columns = selectors.INFERENCE_SAMPLE_COLUMNS

    def get_queryset(self) -> QuerySet[InferenceSample]:
        return selectors.inference_samples_list(self.filters())


class RollupView(SeriesView):
    query_serializer_class = RollupQuerySerializer
    ordering = ("bucket", "pk")

    def query_context(self) -> dict[str, Any]:
        return {}

    def export_filename(self) -> str:
        return f"{super().export_filename()}-{self.query['granularity']}"


class GpuRollupViewSet(RollupView):
    """GPU buckets of one `granularity` (minute, hour or day; hour by default), each
    with averages and the sums and counts they come from. Filters as raw GPU samples."""

    serializer_class = GpuRollupSerializer
    export_name = "gpu-rollups"
    export_columns = selectors.GPU_ROLLUP_COLUMNS

    def get_queryset(self) -> QuerySet[GpuRollup]:
        return selectors.gpu_rollups_list(self.filters(), self.resolution)


class InferenceRollupViewSet(RollupView):
    """Deployment buckets of one `granularity`: counters summed, histograms merged.
    Filters as raw inference samples."""

    serializer_class = InferenceRollupSerializer
    export_name = "inference-rollups"
    export_columns = selectors.INFERENCE_ROLLUP_COLUMNS

    def get_queryset(self) -> QuerySet[InferenceRollup]:
        return selectors.inference_rollups_list(self.filters(), self.resolution)


class CostRecordViewSet(SeriesView):
    """Hourly cost records: each GPU-hour's dollars split over its deployments, plus an
    idle row (no deployment). Filters: gpu, node, deployment, label (its deployments'
    shares and its GPUs' idle time), idle=true|false."""

    serializer_class = records.CostRecordSerializer
    query_serializer_class = CostQuerySerializer
    export_name = "cost-records"
    export_columns = records.COST_RECORD_COLUMNS
    ordering = ("hour", "pk")

    def get_queryset(self) -> records.CostRecords:
        idle = self.query.get("idle")
        return records.cost_records_list(self.filters(), None if idle is None else idle == "true")
