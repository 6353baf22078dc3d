"""Each rule kind finds what it should on stored data, and nothing else."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from alerts.choices import RuleKind
from alerts.conditions import CONDITIONS
from alerts.evaluate import evaluate_rules
from alerts.models import Alert, Rule
from anomaly.choices import AnomalyKind, Severity
from anomaly.models import Anomaly
from collectors.models import Agent, Deployment, Gpu, GpuSample, InferenceSample, Node
from costs.models import Budget, CostRecord
from tests.builders.hours import save_cost_records

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HIST = {"bounds": [0.1, 0.5, 1.0, 5.0], "counts": [0, 2, 3, 95, 0], "sum": None}


def breaches(**rule: object) -> dict[str, object]:
    return dict(CONDITIONS[str(rule["kind"])](Rule(name="r", **rule), NOW, {}))


@pytest.fixture
def gpus() -> list[Gpu]:
    node = Node.objects.create(name="node-a")
    return [Gpu.objects.create(node=node, uuid=f"g{i}", index=i) for i in range(3)]


def test_a_deployment_latency_threshold_reads_the_last_minute_of_histograms() -> None:
    node = Node.objects.create(name="node-a")
    slow = Deployment.objects.create(node=node, name="slow")
    fast = Deployment.objects.create(node=node, name="fast")
    quick = {"bounds": [0.1, 0.5, 1.0, 5.0], "counts": [90, 10, 0, 0, 0], "sum": None}
    for s in range(0, 60, 10):
        ts = NOW - timedelta(seconds=s)
        InferenceSample.objects.create(deployment=slow, ts=ts, interval_s=10, ttft_hist=HIST)
        InferenceSample.objects.create(deployment=fast, ts=ts, interval_s=10, ttft_hist=quick)
    found = breaches(kind=RuleKind.THRESHOLD, metric="deployment.ttft_p95", comparison=">", value=2)
    assert list(found) == [f"deployment:{slow.pk}"]
    assert found[f"deployment:{slow.pk}"].summary.startswith(
        "p95 TTFT 4.79 s, above the threshold 2 s"
    )  # type: ignore[attr-defined]


def test_an_anomaly_rule_takes_fresh_open_anomalies_at_or_above_the_severity(
    gpus: list[Gpu],
) -> None:
    def anomaly(gpu: Gpu, severity: str, end: datetime, metric: str = "gpu.util") -> None:
        Anomaly.objects.create(
            gpu=gpu,
            metric=metric,
            detector="seasonal",
            kind=AnomalyKind.SPIKE,
            start=end,
            end=end,
            score=3.5,
            severity=severity,
            explanation=f"{severity} on {gpu.uuid}",
        )

    anomaly(gpus[0], Severity.CRITICAL, NOW - timedelta(minutes=2))
    anomaly(gpus[1], Severity.INFO, NOW - timedelta(minutes=2))
    anomaly(gpus[2], Severity.CRITICAL, NOW - timedelta(hours=2))  # over
    found = breaches(kind=RuleKind.ANOMALY, min_severity=Severity.WARNING)
    assert list(found) == [f"gpu:{gpus[0].pk}"]
    assert breaches(kind=RuleKind.ANOMALY, min_severity=Severity.WARNING, metric="gpu.power") == {}


def test_a_silence_rule_finds_quiet_agents_and_deployments(agent_token) -> None:  # type: ignore[no-untyped-def]
    agent, _ = agent_token
    Agent.objects.filter(pk=agent.pk).update(last_seen_at=NOW - timedelta(minutes=20))
    Agent.objects.create(name="fresh", token_hash="x" * 64, token_prefix="x", last_seen_at=NOW)
    node = Node.objects.create(name="node-a")
    quiet = Deployment.objects.create(node=node, name="quiet")
    busy = Deployment.objects.create(node=node, name="busy")
    InferenceSample.objects.create(deployment=quiet, ts=NOW - timedelta(minutes=12), interval_s=10)
    InferenceSample.objects.create(deployment=busy, ts=NOW - timedelta(minutes=1), interval_s=10)
    found = breaches(kind=RuleKind.SILENCE, value=10)
    assert set(found) == {f"agent:{agent.pk}", f"deployment:{quiet.pk}"}
    assert found[f"agent:{agent.pk}"].summary == "no data from agent node-1-agent for 20 minutes"  # type: ignore[attr-defined]


def test_gpu_health_throttling_ecc_and_a_gpu_gone(gpus: list[Gpu]) -> None:
    throttled, erring, gone = gpus
    for s in range(0, 600, 10):
        ts = NOW - timedelta(seconds=s)
        # 0x4 (power cap) counts; 0x1 (idle) does not.
        GpuSample.objects.create(gpu=throttled, ts=ts, throttle_reasons=0x4, ecc_uncorrected=0)
        GpuSample.objects.create(
            gpu=erring, ts=ts, throttle_reasons=0x1, ecc_uncorrected=3 if s < 100 else 1
        )
        if s > 400:
            GpuSample.objects.create(gpu=gone, ts=ts, throttle_reasons=0)
    assert list(breaches(kind=RuleKind.GPU_HEALTH, condition="throttling", value=5)) == [
        f"gpu:{throttled.pk}"
    ]
    ecc = breaches(kind=RuleKind.GPU_HEALTH, condition="ecc")
    assert list(ecc) == [f"gpu:{erring.pk}"]
    assert ecc[f"gpu:{erring.pk}"].summary.startswith("2 new uncorrected ECC errors")  # type: ignore[attr-defined]
    assert list(breaches(kind=RuleKind.GPU_HEALTH, condition="gone")) == [f"gpu:{gone.pk}"]


def test_a_budget_rule_on_spend_so_far(gpus: list[Gpu]) -> None:
    node = gpus[0].node
    dep = Deployment.objects.create(node=node, name="chat")
    budget = Budget.objects.create(name="chat", deployment=dep, monthly_usd=Decimal(1000))
    save_cost_records(
        [
            CostRecord(
                hour=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=hour),
                gpu=gpus[0],
                deployment=dep,
                usd=Decimal("2.5"),
                gpu_hours=1,
                rate_usd_per_hour=Decimal("2.5"),
                pricing="test",
            )
            for hour in range(24 * 19)  # Nov 1 to Nov 19, $2.5 an hour = $1,140
        ]
    )
    spent = breaches(kind=RuleKind.BUDGET, condition="spent", value=100)
    assert (
        spent[f"budget:{budget.pk}"].summary
        == "budget chat: $1,140 spent this month, 114% of $1,000"
    )  # type: ignore[attr-defined]
    assert spent[f"budget:{budget.pk}"].severity == "critical"  # type: ignore[attr-defined]
    assert list(breaches(kind=RuleKind.BUDGET, condition="forecast", value=100)) == [
        f"budget:{budget.pk}"
    ]
    assert breaches(kind=RuleKind.BUDGET, condition="spent", value=200) == {}


def test_rules_are_validated_field_by_field() -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        Rule(name="x", kind=RuleKind.THRESHOLD, metric="gpu.nope").full_clean()
    assert set(error.value.message_dict) >= {"metric", "comparison", "value"}
    with pytest.raises(ValidationError) as error:
        Rule(name="x", kind=RuleKind.SILENCE, value=0, labels=["a"]).full_clean()
    assert set(error.value.message_dict) >= {"value", "labels"}


def test_evaluating_an_empty_install_does_nothing() -> None:
    Rule.objects.create(name="any", kind=RuleKind.ANOMALY, min_severity=Severity.INFO)
    assert evaluate_rules(NOW) == 0
    assert not Alert.objects.exists()


def test_an_ecc_counter_reset_is_not_new_errors(gpus: list[Gpu]) -> None:
    reloaded, erring = gpus[:2]
    for s, (before, after) in enumerate([(7, 1), (7, 1), (0, 2), (0, 2)]):
        ts = NOW - timedelta(seconds=300 - 60 * s)
        GpuSample.objects.create(gpu=reloaded, ts=ts, ecc_uncorrected=before)  # driver reload
        GpuSample.objects.create(gpu=erring, ts=ts, ecc_uncorrected=after)
    found = breaches(kind=RuleKind.GPU_HEALTH, condition="ecc")
    assert list(found) == [f"gpu:{erring.pk}"]
    assert found[f"gpu:{erring.pk}"].value == 1.0  # type: ignore[attr-defined]
