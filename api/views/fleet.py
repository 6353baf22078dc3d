"""/api/v1/nodes, gpus, deployments and agents: the fleet, read-only, in numbered pages.

Any logged-in person or API token reads; agents' ingest tokens read nothing.
`start`/`end` narrow a list to what was first seen (created) in that range.
"""

from django.db.models import QuerySet
from rest_framework import mixins, viewsets

from api import selectors
from api.serializers import (
    AgentSerializer,
    DeploymentSerializer,
    GpuSerializer,
    NodeSerializer,
)
from collectors.models import Agent, Deployment, Gpu, Node
from inferscope.lib.drf.pagination import PagePagination
from inferscope.lib.drf.query import ListQuerySerializer
from inferscope.lib.drf.views import ListExportView


class FleetViewSet(ListExportView, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    pagination_class = PagePagination
    query_serializer_class = ListQuerySerializer


class NodeViewSet(FleetViewSet):
    """Nodes with their agent, its last contact, and how many GPUs and deployments
    they hold. Filters: node, gpu, deployment, label (the node's own labels)."""

    serializer_class = NodeSerializer
    export_name = "nodes"
    ordering = ("name", "pk")

    def get_queryset(self) -> QuerySet[Node]:
        return selectors.nodes_list(self.filters())


class GpuViewSet(FleetViewSet):
    """GPUs with their node, the deployments on them and their latest sample.
    Filters: gpu, node, deployment, label (the node's, or a deployment's on the GPU)."""

    serializer_class = GpuSerializer
    export_name = "gpus"
    ordering = ("node__name", "index", "uuid", "pk")

    def get_queryset(self) -> QuerySet[Gpu]:
        return selectors.gpus_list(self.filters())


class DeploymentViewSet(FleetViewSet):
    """Deployments with their node, GPUs and latest sample's time.
    Filters: deployment, node, gpu, label (the deployment's or its node's)."""

    serializer_class = DeploymentSerializer
    export_name = "deployments"
    ordering = ("name", "node__name", "pk")

    def get_queryset(self) -> QuerySet[Deployment]:
        return selectors.deployments_list(self.filters())


class AgentViewSet(FleetViewSet):
    """Collectors with their token's prefix (never its hash), version, last contact
    and nodes. Filter: node (the agents that own it)."""

    serializer_class = AgentSerializer
    export_name = "agents"
    ordering = ("name", "pk")

    def get_queryset(self) -> QuerySet[Agent]:
        return selectors.agents_list(self.filters())
