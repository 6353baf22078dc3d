"""The hourly cost records as a list: the one reader of CostRecord rows for the API's
list and its CSV/JSON export (totals come from costs.selectors and costs.spend)."""

from django.db.models import Q, QuerySet
from rest_framework import serializers

from collectors.scope import by_name, label_deployments, label_gpus
from costs.models import CostRecord
from inferscope.lib.drf.fields import UtcDateTimeField
from inferscope.lib.filters import Filters, in_window

# What the list returns: hourly cost records, their GPU, node and deployment joined.
CostRecords = QuerySet[CostRecord]

# The export's columns, in order: output name -> ORM path; the serializer's fields too.
COST_RECORD_COLUMNS: dict[str, str] = {
    "id": "id",
    "hour": "hour",
    "gpu": "gpu_id",
    "gpu_uuid": "gpu__uuid",
    "node_name": "gpu__node__name",
    "deployment": "deployment_id",
    "deployment_name": "deployment__name",
    "usd": "usd",
    "gpu_hours": "gpu_hours",
    "energy_wh": "energy_wh",
    "idle_held_usd": "idle_held_usd",
    "idle_held_hours": "idle_held_hours",
    "rate_usd_per_hour": "rate_usd_per_hour",
    "priced": "priced",
    "pricing": "pricing",
}


def cost_records_list(filters: Filters, idle: bool | None = None) -> CostRecords:
    """Hourly cost shares; `idle` True keeps the idle rows only, False the deployments'.

    A label keeps its deployments' shares and the idle time of the GPUs it covers, so
    the rows add up to what the label's GPUs cost, as the costs page counts it.
    """
    records = in_window(
        CostRecord.objects.select_related("gpu__node", "deployment"), "hour", filters
    )
    if idle is not None:
        records = records.filter(deployment__isnull=idle)
    if filters.gpus:
        records = records.filter(by_name(filters.gpus, "uuid", "gpu__"))
    if filters.nodes:
        records = records.filter(by_name(filters.nodes, "name", "gpu__node__"))
    if filters.deployments:
        records = records.filter(by_name(filters.deployments, "name", "deployment__"))
    for key, value in filters.labels:
        records = records.filter(
            Q(deployment_id__in=label_deployments(key, value))
            | Q(deployment__isnull=True, gpu_id__in=label_gpus(key, value))
        )
    return records


class CostRecordSerializer(serializers.ModelSerializer):
    hour = UtcDateTimeField(read_only=True)
    gpu_uuid = serializers.CharField(source="gpu.uuid", read_only=True)
    node_name = serializers.CharField(source="gpu.node.name", read_only=True)
    deployment_name = serializers.CharField(
        source="deployment.name", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = CostRecord
        # The export's columns, in order: a page and a CSV row read the same fields.
        fields = list(COST_RECORD_COLUMNS)
        read_only_fields = fields
