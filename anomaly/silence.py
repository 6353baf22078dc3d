"""One anomaly for a silent node, not one per GPU, metric and deployment on it.

When every GPU of a node misses the same minutes, its agent (or the node
itself) is down: those minutes become one "node.presence" anomaly of the node
and leave its GPUs' and deployments' own missing-data results. Gaps in a GPU's
power or temperature while its utilization is missing too are the same news,
so only the utilization reports them.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from anomaly.choices import AnomalyKind
from anomaly.detectors import Found, Result
from collectors.models import Deployment, Gpu

NODE_METRIC = "node.presence"
# The series whose gaps say an entity is gone (the others follow them).
PRESENCE = {"gpu.util", "deployment.tokens_per_s"}
FOLLOWERS = {"gpu.power", "gpu.temperature"}


def _pk(entity: str) -> int:
    return int(entity.partition(":")[2])


def collapse_silence(found: list[Found], series: Iterable[tuple[str, str]]) -> list[Found]:
    """`found` with silent nodes' missing points moved onto one node result each."""
    scored = set(series)
    missing: dict[str, set[datetime]] = {}
    gone: dict[str, set[datetime]] = {}  # minutes a GPU had no reading of any kind
    found_of: dict[str, Found] = {}
    for item in found:
        metric, entity, results = item[:3]
        stamps = {r.ts for r in results if r.kind == AnomalyKind.MISSING}
        if metric in PRESENCE:
            missing[entity] = stamps
            found_of[entity] = item
        if metric in PRESENCE | FOLLOWERS and entity.startswith("gpu:"):
            gone[entity] = gone[entity] & stamps if entity in gone else stamps
    flagged = {(item[0], item[1]) for item in found}
    for metric, entity in scored - flagged:
        # A scored series with no anomalous point at all keeps its GPU present.
        if metric in PRESENCE | FOLLOWERS and entity.startswith("gpu:"):
            gone[entity] = set()
    gpu_ids = [_pk(entity) for metric, entity in scored if metric == "gpu.util"]
    gpus_of: dict[int, list[str]] = defaultdict(list)
    for gpu_id, node_id in Gpu.objects.filter(pk__in=gpu_ids).values_list("pk", "node_id"):
        gpus_of[node_id].append(f"gpu:{gpu_id}")
    silent: dict[int, set[datetime]] = {}
    for node_id, gpus in gpus_of.items():
        # Silent only where every GPU lost every reading: utilization alone can
        # fail (a driver fault, MIG) while power and temperature still report.
        common = set.intersection(*(gone.get(gpu, set()) for gpu in gpus))
        if common:
            silent[node_id] = common
    absorbed: dict[str, set[datetime]] = {}
    for node_id, stamps in silent.items():
        for gpu in gpus_of[node_id]:
            absorbed[gpu] = stamps
    if silent:
        deployments = Deployment.objects.filter(node_id__in=silent).values_list("pk", "node_id")
        for deployment_id, node_id in deployments:
            absorbed[f"deployment:{deployment_id}"] = silent[node_id]

    out: list[Found] = []
    for metric, entity, results, step, detector in found:
        drop = absorbed.get(entity, set())
        if metric in FOLLOWERS:
            drop = drop | missing.get(entity, set())
        kept = [r for r in results if not (r.kind == AnomalyKind.MISSING and r.ts in drop)]
        if kept:
            out.append((metric, entity, kept, step, detector))
    for node_id, stamps in sorted(silent.items()):
        gpus = gpus_of[node_id]
        _, _, results, step, detector = found_of[gpus[0]]
        node_results = [_node_result(r, len(gpus)) for r in results if r.ts in stamps]
        out.append((NODE_METRIC, f"node:{node_id}", node_results, step, detector))
    return out


def _node_result(result: Result, gpus: int) -> Result:
    # "no data for 30 points in a row, expected 40–60 at this hour": the GPU's band
    # says nothing about a node, the run length does.
    detail = result.explanation.split(", expected")[0]
    many = "its GPU" if gpus == 1 else f"any of its {gpus} GPUs"
    detail = detail.replace("no data", f"no data from {many}", 1)
    return result._replace(
        value=None,
        expected_low=None,
        expected_high=None,
        explanation=f"{detail}: is its agent running?",
    )
