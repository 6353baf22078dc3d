"""The Profiling pages' SQL queries do not grow with jobs or points (query-count baselines)."""

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from profiling.models import ProfilingJob, ProfilingResult
from tests.dashboard.profiling_data import finished_job, profiling_node, result

pytestmark = pytest.mark.django_db
# The most queries each page may make, session and user included; the teammate's
# permission checks add two (user and group permissions, then cached).
# The list's form reads the deployments for its "Deployment" menu: one query more.
MOST = {"list": 8, "job": 5, "compare": 5}


def count(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200, path
    return len(queries)


def counts(client: Client, jobs: list[ProfilingJob]) -> dict[str, int]:
    ids = ",".join(str(job.pk) for job in jobs)
    return {
        "list": count(client, "/profiling/"),
        "job": count(client, f"/profiling/{jobs[0].pk}/?itl_ms=12"),
        "compare": count(client, f"/profiling/compare?jobs={ids}&itl_ms=12"),
    }


def test_no_profiling_page_makes_more_queries_for_more_jobs_nodes_or_points(
    client: Client, teammate: User
) -> None:
    teammate.user_permissions.add(Permission.objects.get(codename="add_profilingjob"))
    client.force_login(teammate)
    node = profiling_node()
    jobs = [finished_job(node), finished_job(node)]
    small = counts(client, jobs)
    other = profiling_node("gpu-2")
    jobs += [finished_job(other, name=f"run {i}") for i in range(4)]
    more = [
        result(jobs[0], 8 + i, "none", 2**i, 10.0 + i, 20.0, 100.0 * i, 1.0, 2.0) for i in range(12)
    ]
    ProfilingResult.objects.bulk_create(more)
    for i in range(8):
        ProfilingJob.objects.create(node=other, spec={"preset": "tiny"}, name=f"queued {i}")
    big = counts(client, jobs)
    assert big == small
    for page, most in MOST.items():
        assert small[page] <= most, (page, small[page])
