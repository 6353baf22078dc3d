"""The profiling API: people queue and read jobs; agents poll, report and post runs.

People: session auth (tokens come with the REST export), anyone logged in reads,
queueing and cancelling need the model's add/change permission. Agents: their
ingest token, and only for the nodes they own.
"""

import re
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, permissions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from collectors.api import AgentTokenAuthentication, HasAgentToken
from collectors.models import Agent
from inferscope.lib.drf.errors import FieldErrors
from inferscope.lib.drf.pagination import PagePagination
from inferscope.lib.drf.views import ListExportView
from profiling.choices import JobSource, JobStatus
from profiling.models import ProfilingJob
from profiling.selectors import jobs_list
from profiling.serializers import (
    JobCreateSerializer,
    JobDetailSerializer,
    JobSerializer,
    PollAnswerSerializer,
    PollSerializer,
    ReportAnswerSerializer,
    ReportSerializer,
    RunImportAnswerSerializer,
    RunImportSerializer,
)
from profiling.services import (
    ProfilingError,
    capability_report,
    job_cancel,
    job_claim,
    job_create,
    job_report,
    run_import,
)


class CanQueue(permissions.DjangoModelPermissions):
    """Reading needs a login; POST needs add (queue) or change (cancel)."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": [],
        "POST": ["%(app_label)s.add_%(model_name)s"],
    }


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter("status", enum=JobStatus.values),
            OpenApiParameter("node", int, description="a node's id"),
        ],
        description="Latest first, in numbered pages.",
    ),
    post=extend_schema(request=JobCreateSerializer, responses={201: JobSerializer}),
)
class JobListView(ListExportView, generics.ListCreateAPIView):
    permission_classes = [CanQueue]
    pagination_class = PagePagination
    serializer_class = JobSerializer
    queryset = ProfilingJob.objects.all()
    time_field = "created_at"
    export_name = "profiling-jobs"

    def get_queryset(self) -> QuerySet[ProfilingJob]:
        params = self.request.query_params
        node = params.get("node", "")
        if params.get("status", "") not in ("", *JobStatus.values):
            raise FieldErrors([{"field": "status", "message": "Not a job status."}])
        if node and not re.fullmatch(r"[0-9]{1,12}", node):
            raise FieldErrors([{"field": "node", "message": "Expected a node id."}])
        jobs = jobs_list(params.get("status", ""), int(node) if node else None)
        return jobs.select_related("deployment")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = JobCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            job = job_create(
                node=data["node"],
                spec=data["spec"],
                name=data["name"],
                user=request.user,
                source=JobSource.API,
                time_limit_s=data.get("time_limit_s"),
                deployment=data["deployment"],
            )
        except ProfilingError as exc:
            raise FieldErrors(exc.errors) from None
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)


@method_decorator(login_not_required, name="dispatch")
class JobDetailView(generics.RetrieveAPIView):
    serializer_class = JobDetailSerializer
    queryset = ProfilingJob.objects.select_related("node", "deployment").prefetch_related("results")


@method_decorator(login_not_required, name="dispatch")
class JobCancelView(APIView):
    @extend_schema(request=None, responses=JobSerializer)
    def post(self, request: Request, pk: int) -> Response:
        if not request.user.has_perm("profiling.change_profilingjob"):
            return Response(
                {"detail": "You may not cancel profiling jobs.", "errors": []},
                status=status.HTTP_403_FORBIDDEN,
            )
        job = get_object_or_404(ProfilingJob, pk=pk)
        if not job_cancel(job):
            raise FieldErrors([{"field": "status", "message": f"The job is already {job.status}."}])
        return Response(JobSerializer(job).data)


class AgentView(APIView):
    authentication_classes = [AgentTokenAuthentication]
    permission_classes = [HasAgentToken]

    @property
    def agent(self) -> Agent:
        agent = self.request.auth
        assert isinstance(agent, Agent)  # HasAgentToken let the request in
        return agent


@method_decorator(login_not_required, name="dispatch")
class PollView(AgentView):
    """The agent says what its node allows and gets the next queued job, if any."""

    @extend_schema(request=PollSerializer, responses=PollAnswerSerializer)
    def post(self, request: Request) -> Response:
        serializer = PollSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        node = serializer.validated_data["node"]
        try:
            capability_report(self.agent, node, serializer.validated_data["capabilities"])
            job = job_claim(self.agent, node)
        except ProfilingError as exc:
            raise FieldErrors(exc.errors) from None
        if job is None:
            return Response({"job": None})
        return Response({"job": {"id": job.pk, "spec": job.spec, "time_limit_s": job.time_limit_s}})


@method_decorator(login_not_required, name="dispatch")
class ReportView(AgentView):
    """Progress, points and the end of a job; the answer's status tells the agent to
    stop when someone cancelled the job."""

    @extend_schema(request=ReportSerializer, responses=ReportAnswerSerializer)
    def post(self, request: Request, pk: int) -> Response:
        serializer = ReportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            job = job_report(self.agent, pk, serializer.validated_data)
        except ProfilingError as exc:
            raise FieldErrors(exc.errors) from None
        return Response({"status": job.status, "points_done": job.points_done})


@method_decorator(login_not_required, name="dispatch")
class RunImportView(AgentView):
    """`inferscope-profile --post`: a whole run measured outside the queue."""

    @extend_schema(request=RunImportSerializer, responses={201: RunImportAnswerSerializer})
    def post(self, request: Request) -> Response:
        serializer = RunImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            job = run_import(self.agent, data["node"], data["run"])
        except ProfilingError as exc:
            raise FieldErrors(exc.errors) from None
        url = request.build_absolute_uri(reverse("dashboard:profiling-job", args=[job.pk]))
        return Response({"id": job.pk, "url": url}, status=status.HTTP_201_CREATED)
