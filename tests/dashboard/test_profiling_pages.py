"""The Profiling pages: queue a sweep from a form, read a job's charts and cheapest
setting, compare jobs, cancel one."""

import html

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from profiling.choices import JobSource, JobStatus
from profiling.models import ProfilingCapability, ProfilingJob
from profiling.selectors import cheapest_meeting
from tests.dashboard.profiling_data import FORM, finished_job, profiling_node, two_shape_job

pytestmark = pytest.mark.django_db


def grant(user: User, *codenames: str) -> User:
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return User.objects.get(pk=user.pk)  # a fresh object: permissions are cached


def text(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.content.decode())


@pytest.mark.parametrize("path", ["/profiling/", "/profiling/1/", "/profiling/compare?jobs=1,2"])
def test_the_profiling_pages_send_a_visitor_to_the_login(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_without_a_capable_node_the_list_explains_how_to_enable_profiling(
    client: Client, owner: User
) -> None:
    client.force_login(owner)
    response = client.get("/profiling/")
    assert response.status_code == 200
    page = text(response)
    assert "No node runs profiling jobs yet" in page
    assert "--profiling-preset tiny,1b" in page
    assert "pip install 'inferscope[profiling]'" in page
    assert "profile-form" not in page  # nothing to queue on
    assert "No profiling jobs yet." in page
    assert 'aria-current="page">Profiling<' in page


def test_the_form_offers_only_capable_nodes_and_the_presets_they_allow(
    client: Client, owner: User
) -> None:
    profiling_node("gpu-1", presets=("tiny", "1b"))
    profiling_node("cpu-1", presets=("tiny",), gpu=False)
    client.force_login(owner)
    response = client.get("/profiling/")
    page = text(response)
    assert "profile-form" in page
    form = response.context["form"]
    nodes = dict(form.fields["node"].choices)
    assert sorted(label.split(" ")[0] for label in nodes.values()) == ["cpu-1", "gpu-1"]
    assert sorted(nodes.values()) == ["cpu-1 (CPU only)", "gpu-1 (1 × NVIDIA H100 80GB HBM3)"]
    assert "<td>tiny, 1b</td>" in page and "<td>/models</td>" in page
    assert [value for value, _ in form.fields["preset"].choices] == ["", "tiny", "1b"]
    assert '"node-presets"' in page  # what the menu's script narrows presets by


def test_queuing_a_job_through_the_form_stores_its_spec_and_opens_it(
    client: Client, owner: User
) -> None:
    node = profiling_node()
    client.force_login(owner)
    response = client.post("/profiling/new", {**FORM, "node": node.pk, "name": "first sweep"})
    job = ProfilingJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/profiling/{job.pk}/"
    assert job.name == "first sweep"
    assert job.node == node
    assert job.status == JobStatus.QUEUED
    assert job.source == JobSource.DASHBOARD
    assert job.created_by == owner
    assert job.points_total == 6  # 3 batch sizes x 2 dtypes
    assert job.spec["preset"] == "tiny"
    assert job.spec["batch_sizes"] == [1, 4, 16]
    assert job.spec["prompt_lens"] == [128]
    assert job.spec["dtypes"] == ["bf16", "fp16"]
    assert job.spec["compile"] == [False]
    assert job.spec["device"] == "cuda"
    assert job.spec["repeats"] == 3
    followed = client.get(response["Location"])
    assert "Queued 6 points on gpu-1." in text(followed)
    assert 'data-refresh="10"' in followed.content.decode()


def test_the_sweeps_own_errors_land_on_the_form_fields_and_nothing_is_queued(
    client: Client, owner: User
) -> None:
    node = profiling_node()
    client.force_login(owner)
    response = client.post(
        "/profiling/new",
        {**FORM, "node": node.pk, "batch_sizes": "0, x", "gen_lens": "1", "dtypes": []},
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["batch_sizes"] == ["0 is outside 1 to 4096.", "'x' is not a whole number."]
    assert form.errors["gen_lens"] == ["1 is outside 2 to 8192."]
    assert form.errors["dtypes"] == ["Give at least one value."]
    assert "0 is outside 1 to 4096." in text(response)
    assert ProfilingJob.objects.count() == 0


def test_what_the_node_does_not_allow_is_refused_on_the_fields(client: Client, owner: User) -> None:
    profiling_node("gpu-1", presets=("tiny", "1b"))
    cpu = profiling_node("cpu-1", presets=("tiny",), gpu=False)
    client.force_login(owner)
    response = client.post("/profiling/new", {**FORM, "node": cpu.pk, "preset": "1b"})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors["preset"] == ["cpu-1 allows presets: tiny."]
    assert errors["device"] == ["cpu-1 reported no GPU."]
    both = client.post("/profiling/new", {**FORM, "node": cpu.pk, "model_path": "/etc/x"})
    assert both.context["form"].errors["preset"] == ["Give exactly one of preset or model_path."]
    path = client.post(
        "/profiling/new",
        {**FORM, "node": cpu.pk, "preset": "", "model_path": "/etc/passwd", "device": "cpu"},
    )
    assert path.context["form"].errors["model_path"] == ["cpu-1 does not allow this path."]
    unknown = client.post("/profiling/new", {**FORM, "node": "99999"})
    assert "node" in unknown.context["form"].errors
    assert ProfilingJob.objects.count() == 0


def test_only_people_who_may_add_jobs_see_the_form_or_can_post_it(
    client: Client, teammate: User
) -> None:
    node = profiling_node()
    client.force_login(teammate)
    page = client.get("/profiling/")
    assert page.status_code == 200
    assert page.context["form"] is None
    assert "profile-form" not in page.content.decode()
    assert client.post("/profiling/new", {**FORM, "node": node.pk}).status_code == 403
    assert ProfilingJob.objects.count() == 0
    client.force_login(grant(teammate, "add_profilingjob"))
    assert client.get("/profiling/").context["form"] is not None
    assert client.post("/profiling/new", {**FORM, "node": node.pk}).status_code == 302


def test_the_jobs_table_shows_progress_and_offers_finished_jobs_for_comparison(
    client: Client, teammate: User
) -> None:
    node = profiling_node()
    done = finished_job(node)
    running = ProfilingJob.objects.create(
        name="half way", node=node, spec={"preset": "tiny"}, status=JobStatus.RUNNING,
        points_total=8, points_done=4,
    )  # fmt: skip
    client.force_login(teammate)
    page = client.get("/profiling/").content.decode()
    assert f'name="jobs" value="{done.pk}"' in page
    assert f'name="jobs" value="{running.pk}"' not in page
    assert '<progress value="4" max="8">' in page
    assert "4 / 8" in page and "H100 SXM" in page


def test_the_job_page_marks_the_cheapest_setting_meeting_the_target(
    client: Client, teammate: User
) -> None:
    job = finished_job(profiling_node())
    client.force_login(teammate)
    url = f"/profiling/{job.pk}/"
    # ITL <= 12 ms: points 0, 1, 4, 5 qualify; 5 (int8, batch 8) is cheapest at $0.30.
    response = client.get(f"{url}?itl_ms=12")
    assert response.status_code == 200
    assert response.context["cheapest"].index == 5
    page = text(response)
    assert "Cheapest setting that meets the target" in page
    assert "bf16 int8 flash · batch 8 · prompt 128 · gen 32" in page
    assert "$0.3000" in page
    # TTFT <= 50 ms as well: only 0 and 4; 4 is cheaper ($1.80 against $2.00).
    both = client.get(f"{url}?itl_ms=12&ttft_ms=50")
    assert both.context["cheapest"].index == 4
    assert "$1.8000" in text(both)
    # No target: the cheapest point of all, int8 at batch 32.
    assert client.get(url).context["cheapest"].index == 6
    blank = client.get(f"{url}?itl_ms=&ttft_ms=")
    assert blank.status_code == 200 and blank.context["cheapest"].index == 6
    # Nothing is that fast: the card says so and names the lowest ITL measured (8 ms).
    none = text(client.get(f"{url}?itl_ms=5"))
    assert "No setting meets this target." in none
    assert "The lowest inter-token latency measured is 8.00 ms" in none


def test_an_unpriced_run_picks_the_highest_throughput_and_says_why_there_is_no_cost(
    client: Client, teammate: User
) -> None:
    job = finished_job(profiling_node(), priced=False)
    client.force_login(teammate)
    response = client.get(f"/profiling/{job.pk}/?itl_ms=12")
    # Unpriced: the highest total throughput among 0, 1, 4, 5 is 5 (840 x 1.2 tok/s).
    assert response.context["cheapest"].index == 5
    assert response.context["cost_chart"] is None
    page = text(response)
    assert "No price for this GPU (no on-demand price for 'NVIDIA H100 80GB HBM3')" in page
    assert "Unpriced, so the highest throughput" in page


def test_a_cpu_run_says_no_gpu_price_applies(client: Client, teammate: User) -> None:
    job = finished_job(None, priced=False)
    job.device = {"type": "cpu", "torch": "2.5.1", "name": "AMD EPYC"}
    job.price_description = ""
    job.save()
    client.force_login(teammate)
    page = text(client.get(f"/profiling/{job.pk}/"))
    assert "Measured on the CPU: no GPU-hour price applies." in page
    assert "Measured on the CPU: $ per 1M tokens needs a GPU-hour price." in page


def test_the_job_page_draws_three_charts_and_every_point(client: Client, teammate: User) -> None:
    job = finished_job(profiling_node())
    client.force_login(teammate)
    response = client.get(f"/profiling/{job.pk}/?itl_ms=12")
    page = text(response)
    assert "plotly/plotly.min.js" in page
    for chart in ("chart-profile-pareto", "chart-profile-memory", "chart-profile-cost"):
        assert chart in page
    assert "Pareto front" in page and "cheapest meeting the target" in page
    assert "out of memory: bf16 flash · batch 128" in page  # the OOM marker's hover text
    # Failed points show their message in the table.
    assert "CUDA out of memory. Tried to allocate 2.00 GiB" in page
    assert "RuntimeError: int8 matmul needs sm_80" in page
    assert "$4.0000 per GPU-hour" in page and "price book: H100 SXM" in page
    assert "1.24B parameters" in page and "torch 2.5.1, CUDA 12.4" in page
    assert "12.2%" in page  # MFU as a percentage
    assert "(9.00–12.00)" in page  # point 0's ITL spread
    assert "data-refresh" not in page  # a finished job stays put
    assert [r.index for r in response.context["results"]] == list(range(8))


@pytest.mark.parametrize(
    "query",
    [
        "itl_ms=abc",
        "itl_ms=nan",
        "itl_ms=-1",
        "ttft_ms=inf",
        "itl_ms=1e400",
        "shape=abc",
        "shape=64x32",  # well formed, but this sweep never ran it
        "shape=128x32x1",
        "shape=%C2%B2x32",  # "²x32"
        "shape=128%00x32",
    ],
)
def test_a_junk_latency_target_answers_400_with_the_fields_message(
    client: Client, teammate: User, query: str
) -> None:
    job = finished_job(profiling_node())
    client.force_login(teammate)
    response = client.get(f"/profiling/{job.pk}/?{query}")
    assert response.status_code == 400
    field = query.split("=")[0]
    assert response.context["target"].errors[field]
    assert f'<p class="error">{field}: ' in response.content.decode()


def test_a_missing_job_is_a_404(client: Client, teammate: User) -> None:
    client.force_login(teammate)
    assert client.get("/profiling/999999/").status_code == 404


def test_names_people_typed_are_escaped_in_pages_and_charts(client: Client, owner: User) -> None:
    node = profiling_node()
    evil = "<script>alert(1)</script>"
    first = finished_job(node, name=evil)
    second = finished_job(node, name="plain")
    client.force_login(owner)
    pages = [
        client.get("/profiling/"),
        client.get(f"/profiling/{first.pk}/"),
        client.get(f"/profiling/compare?jobs={first.pk},{second.pk}"),
    ]
    for response in pages:
        assert response.status_code == 200
        assert evil not in response.content.decode()
    compare = pages[2].content.decode()
    # In the chart's JSON the name is HTML-escaped text (and "/" JSON-escaped), which
    # Plotly shows as typed instead of reading it as markup.
    trace = f'"name":"#{first.pk} &lt;script&gt;alert(1)&lt;\\u002fscript&gt; · bf16 flash"'
    assert trace in compare


def test_compare_overlays_each_jobs_settings_and_lists_each_best_point(
    client: Client, teammate: User
) -> None:
    node = profiling_node()
    a = finished_job(node, name="plain run")
    b = finished_job(node, name="unpriced run", priced=False)
    client.force_login(teammate)
    for query in (f"jobs={a.pk},{b.pk}", f"jobs={a.pk}&jobs={b.pk}"):
        response = client.get(f"/profiling/compare?{query}&itl_ms=12")
        assert response.status_code == 200
        rows = response.context["rows"]
        assert [row.job.pk for row in rows] == [a.pk, b.pk]
        assert [row.cheapest.index for row in rows] == [5, 5]
        assert [row.fastest.index for row in rows] == [6, 6]
        page = text(response)
        for trace in ("plain run · bf16 flash", "unpriced run · bf16 int8 flash"):
            assert trace in page
        assert "chart-profile-compare" in page
        assert "Cheapest meeting the target" in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "choose 2 to 8 jobs to compare"),
        ("jobs=1", "choose 2 to 8 jobs to compare"),
        ("jobs=1,x", "x is not a job number"),
        ("jobs=-1,2", "-1 is not a job number"),
        ("jobs=%C2%B2,1", "² is not a job number"),  # "²".isdigit(), but int("²") fails
        ("jobs=%EF%BC%91,2", "１ is not a job number"),  # a full-width 1
        ("jobs=1234567890123,2", "1234567890123 is not a job number"),
        ("jobs=999998,999999", "no profiling job 999998, 999999"),
        ("jobs=" + ",".join(str(i) for i in range(1, 10)), "choose 2 to 8 jobs to compare"),
    ],
)
def test_compare_with_bad_ids_answers_400_with_a_clear_message(
    client: Client, teammate: User, query: str, message: str
) -> None:
    client.force_login(teammate)
    response = client.get(f"/profiling/compare?{query}")
    assert response.status_code == 400
    assert message in text(response)


def test_settings_are_compared_at_one_request_shape_the_usual_one_by_default(
    client: Client, teammate: User
) -> None:
    job = two_shape_job(profiling_node())
    results = list(job.results.all())
    # Across both shapes the 1024-token prompts win whatever the setting: the bug.
    assert cheapest_meeting(results).index == 7
    assert cheapest_meeting(results, itl_ms=12).index == 7
    assert cheapest_meeting(results, itl_ms=12, shape=(128, 32)).index == 5
    client.force_login(teammate)
    url = f"/profiling/{job.pk}/"
    # Both shapes have four measured points: the first in the sweep's order is used.
    response = client.get(url)
    assert response.status_code == 200
    assert response.context["cheapest"].index == 5  # int8, batch 8, $0.30
    page = text(response)
    assert "Cheapest setting (no latency target) at prompt 128 · gen 32" in page
    assert '<option value="128x32" selected>prompt 128 · gen 32</option>' in page
    assert '<option value="1024x32">prompt 1024 · gen 32</option>' in page
    assert "$ per 1M tokens by setting at prompt 128 · gen 32" in page
    # The $ bars and the star are of that shape only.
    cost = response.context["cost_chart"]
    assert "prompt 128 · gen 32" in cost and "prompt 1024" not in cost
    assert "cheapest: batch 8 · prompt 128 · gen 32" in response.context["pareto_chart"]
    # A blank shape is the usual one; a target keeps to it.
    assert client.get(f"{url}?itl_ms=12&shape=").context["cheapest"].index == 5
    # The other shape: 7 ($0.06); ITL at most 11 ms: 2 ($0.35) and 6 ($0.32) meet it.
    other = client.get(f"{url}?shape=1024x32")
    assert other.context["cheapest"].index == 7
    assert '<option value="1024x32" selected>' in other.content.decode()
    assert "prompt 128" not in other.context["cost_chart"]
    assert client.get(f"{url}?shape=1024x32&itl_ms=11").context["cheapest"].index == 6
    # Nothing at 1024 tokens meets 8.5 ms; the lowest ITL named is that shape's (9 ms),
    # not prompt 128's 8 ms.
    none = text(client.get(f"{url}?shape=1024x32&itl_ms=8.5"))
    assert "No setting meets this target at prompt 1024 · gen 32." in none
    assert "The lowest inter-token latency measured is 9.00 ms" in none


def test_the_usual_shape_is_the_one_with_the_most_measured_points(
    client: Client, teammate: User
) -> None:
    job = two_shape_job(profiling_node())
    job.results.filter(index=0).update(status="oom", itl_ms=None, decode_tokens_per_s=None)
    client.force_login(teammate)
    # Prompt 128 now has three measured points, prompt 1024 four.
    response = client.get(f"/profiling/{job.pk}/")
    assert response.context["target"].chosen_shape() == (1024, 32)
    assert response.context["cheapest"].index == 7


def test_a_single_shape_sweep_offers_no_shape_choice(client: Client, teammate: User) -> None:
    job = finished_job(profiling_node())
    client.force_login(teammate)
    response = client.get(f"/profiling/{job.pk}/?shape=128x32")
    assert response.status_code == 200
    assert response.context["cheapest"].index == 6
    page = text(response)
    assert 'name="shape"' not in page
    assert "Cheapest setting (no latency target)</h2>" in page


def test_compare_judges_every_job_at_one_shape(client: Client, teammate: User) -> None:
    node = profiling_node()
    two = two_shape_job(node)
    one = finished_job(node)  # prompt 128 only
    client.force_login(teammate)
    url = f"/profiling/compare?jobs={two.pk},{one.pk}"
    # Prompt 128 has 4 + 6 measured points, prompt 1024 four: 128 is the usual shape.
    response = client.get(url)
    assert response.status_code == 200
    assert [row.cheapest.index for row in response.context["rows"]] == [5, 6]
    assert [row.fastest.index for row in response.context["rows"]] == [5, 6]
    page = text(response)
    assert "Each job's best point at prompt 128 · gen 32" in page
    assert '<option value="128x32" selected>' in page
    other = client.get(f"{url}&shape=1024x32&itl_ms=11")
    assert other.status_code == 200
    rows = other.context["rows"]
    assert rows[0].cheapest.index == 6 and rows[1].cheapest is None
    assert "no point at this shape" in text(other)
    junk = client.get(f"{url}&shape=512x32")
    assert junk.status_code == 400
    assert junk.context["target"].errors["shape"]
    assert '<p class="error">shape: ' in junk.content.decode()


JUNK_DEVICES = [
    {"name": "A100", "memory_bytes": "40GB"},
    {"name": "no memory"},
    {"memory_bytes": 10**30},
    {"name": "bool", "memory_bytes": True},
    "a string",
    7,
    None,
]


@pytest.mark.parametrize(
    ("device", "model_info", "spec", "devices", "presets"),
    [
        (
            {"type": "cuda", "name": "H100", "memory_bytes": "80GB", "torch": ["2.5"]},
            {"params": "1.2B", "layers": "sixteen", "d_model": [2048]},
            {"preset": "1b"},  # no lists, no repeats
            JUNK_DEVICES,
            ["tiny", {"x": 1}, 3],
        ),
        (
            {"type": "cuda", "memory_bytes": float("1e300")},
            {"params": -5, "layers": 1.5},
            {"batch_sizes": "1, 8", "prompt_lens": 128, "dtypes": None},
            "lots",
            "tiny",
        ),
        (["not", "an", "object"], "a model", [1, 2], {"0": {"name": "x"}}, {"tiny": True}),
        ({}, {}, {}, [], []),
    ],
)
def test_odd_json_stored_on_a_job_or_a_capability_never_breaks_a_page(
    client: Client,
    owner: User,
    device: object,
    model_info: object,
    spec: object,
    devices: object,
    presets: object,
) -> None:
    """Rows stored before the server checked agents' reports, or edited in the admin."""
    node = profiling_node()
    ProfilingCapability.objects.filter(node=node).update(
        devices=devices, presets=presets, model_paths={"odd": 1}
    )
    done = finished_job(node)
    queued = ProfilingJob.objects.create(node=node, spec={"preset": "tiny"}, points_total=2)
    ProfilingJob.objects.filter(pk__in=[done.pk, queued.pk]).update(
        device=device, model_info=model_info, spec=spec
    )
    client.force_login(owner)  # the owner sees the form too, built from the capability
    for path in (
        "/profiling/",
        f"/profiling/{done.pk}/",
        f"/profiling/{done.pk}/?itl_ms=12",
        f"/profiling/{queued.pk}/",
        f"/profiling/compare?jobs={done.pk},{queued.pk}",
    ):
        assert client.get(path).status_code == 200, path


def test_odd_json_is_shown_as_unreadable_not_as_figures(
    client: Client, owner: User, caplog: pytest.LogCaptureFixture
) -> None:
    node = profiling_node()
    ProfilingCapability.objects.filter(node=node).update(devices=JUNK_DEVICES)
    job = finished_job(node)
    job.device = {"type": "cuda", "name": "H100", "memory_bytes": "85899345920"}
    job.model_info = {"params": "1.2B", "layers": "16"}
    job.spec = {"preset": "1b", "batch_sizes": [1, 8]}
    job.save()
    client.force_login(owner)
    listing = text(client.get("/profiling/"))
    assert "unreadable: the agent's next poll rewrites it" in listing
    assert f"unreadable profiling capability of node {node.pk}" in caplog.text
    response = client.get(f"/profiling/{job.pk}/")
    page = text(response)
    assert "H100 (80.0 GiB)" in page  # an old row's string of digits is still a count
    # "1.2B" parameters: the model record is unreadable as a whole, and says so.
    assert "The job's stored model could not be read" in page
    assert "layers" not in page and "parameters" not in page
    assert "batch 1, 8 · prompt — · gen —" in page  # an old spec without its lists
    assert response.context["device_memory"] == 80 * 2**30


def test_cancelling_needs_the_change_permission_and_stops_a_queued_job(
    client: Client, teammate: User, owner: User
) -> None:
    node = profiling_node()
    queued = ProfilingJob.objects.create(node=node, spec={"preset": "tiny"}, points_total=2)
    client.force_login(teammate)
    page = client.get(f"/profiling/{queued.pk}/").content.decode()
    assert "Cancel job" not in page
    assert client.post(f"/profiling/{queued.pk}/cancel").status_code == 403
    client.force_login(owner)
    assert "Cancel job" in client.get(f"/profiling/{queued.pk}/").content.decode()
    response = client.post(f"/profiling/{queued.pk}/cancel", follow=True)
    queued.refresh_from_db()
    assert queued.status == JobStatus.CANCELLED
    assert "Cancelled: the node&#x27;s agent stops the run" in response.content.decode()
    again = client.post(f"/profiling/{queued.pk}/cancel", follow=True)
    assert "The job is cancelled already." in text(again)
    assert client.get(f"/profiling/{queued.pk}/cancel").status_code == 405
