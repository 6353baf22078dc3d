"""The ingest body, version 1, as msgspec types (documented in docs/ingest.md).

msgspec decodes and checks a valid batch in one C pass; only a rejected batch
goes through `explain_errors`, which walks the same types field by field to
list every error, not just the first.
"""

import typing
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from collectors.constants import (
    MAX_HISTOGRAM_BUCKETS,
    MAX_INVENTORY_DEPLOYMENTS,
    MAX_INVENTORY_GPUS,
    MAX_INVENTORY_NODES,
    MAX_LABELS,
    MAX_NAME_LENGTH,
    MAX_NUMBER,
    MAX_REPORTED_ERRORS,
)
from collectors.json_errors import read_json

# One line of text: no control characters (PostgreSQL text cannot hold NUL; a newline
# in a name would reach an email header or split a log line), nor Unicode's line and
# paragraph separators. \A…\Z rather than ^…$: "$" would let a trailing newline through.
_ONE_LINE = r"\A[^\x00-\x1f\x7f\x85\u2028\u2029]*\Z"
_BATCH_ID = r"\A[A-Za-z0-9._:-]+\Z"
# Our words for a string that does not match its pattern, rather than the regex.
_PATTERN_MESSAGES = {
    _ONE_LINE: "Must be one line of text, without control characters",
    _BATCH_ID: "Only letters, digits and . _ : - are allowed",
}
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_LENGTH, pattern=_ONE_LINE)]
Text = Annotated[str, msgspec.Meta(max_length=500, pattern=_ONE_LINE)]

# Strings stored in a column of a fixed length (see the models) are refused past it.
GpuUuid = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=_ONE_LINE)]
Hostname = Annotated[str, msgspec.Meta(max_length=255, pattern=_ONE_LINE)]
GpuModel = Annotated[str, msgspec.Meta(max_length=200, pattern=_ONE_LINE)]
ModelName = Annotated[str, msgspec.Meta(max_length=300, pattern=_ONE_LINE)]
Version = Annotated[str, msgspec.Meta(max_length=100, pattern=_ONE_LINE)]
Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]
Number = Annotated[float, msgspec.Meta(ge=-MAX_NUMBER, le=MAX_NUMBER)]
NonNegative = Annotated[float, msgspec.Meta(ge=0, le=MAX_NUMBER)]
Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]
Fraction = Annotated[float, msgspec.Meta(ge=0, le=1)]
Count = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
# A counter's change over one interval: no server finishes 10^12 requests or
# tokens in one scrape, and the bound keeps a year of sums inside a bigint.
Delta = Annotated[int, msgspec.Meta(ge=0, le=2**40)]
Labels = Annotated[dict[Name, Text], msgspec.Meta(max_length=MAX_LABELS)]
BatchId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=_BATCH_ID)]
ServerKindName = Literal["vllm", "tgi", "triton", "sglang", "trtllm", "other"]


class _Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Unknown fields are refused: a misspelt field would otherwise become null."""


class NodeIn(_Strict):
    name: Name
    hostname: Hostname = ""
    simulated: bool = False
    labels: Labels = {}


class GpuIn(_Strict):
    uuid: GpuUuid
    node: Name
    index: Annotated[int, msgspec.Meta(ge=0, le=1024)] | None = None
    model: GpuModel = ""
    memory_total_bytes: Count | None = None
    # A MIG instance: its profile (e.g. "3g.40gb") and the share of the physical
    # GPU's compute slices it holds, which is the share of the GPU's price it costs.
    mig_profile: Annotated[str, msgspec.Meta(max_length=50, pattern=_ONE_LINE)] = ""
    gpu_fraction: Annotated[float, msgspec.Meta(gt=0, le=1)] = 1.0
    # Where util_gpu comes from: the device's utilization, or (on MIG instances,
    # which have none) the graphics engine's activity.
    util_from: Literal["device", "graphics_engine"] = "device"


class DeploymentIn(_Strict):
    name: Name
    node: Name
    model: ModelName = ""
    server: ServerKindName = "other"
    endpoint: Text = ""
    # None (or left out): the GPUs stay as stored; a list replaces them.
    gpus: Annotated[list[GpuUuid], msgspec.Meta(max_length=64)] | None = None
    labels: Labels = {}


class Inventory(_Strict):
    nodes: Annotated[list[NodeIn], msgspec.Meta(max_length=MAX_INVENTORY_NODES)] = []
    gpus: Annotated[list[GpuIn], msgspec.Meta(max_length=MAX_INVENTORY_GPUS)] = []
    deployments: Annotated[
        list[DeploymentIn], msgspec.Meta(max_length=MAX_INVENTORY_DEPLOYMENTS)
    ] = []


class Histogram(_Strict):
    """Per-bucket deltas: counts[i] for values <= bounds[i], counts[-1] above the last bound.

    No bounds (one count) is a server that keeps only a total time and a count
    (Triton): the mean is known, percentiles are not.
    """

    bounds: Annotated[list[NonNegative], msgspec.Meta(max_length=MAX_HISTOGRAM_BUCKETS)]
    counts: Annotated[list[Count], msgspec.Meta(min_length=1, max_length=MAX_HISTOGRAM_BUCKETS + 1)]
    sum: NonNegative | None = None

    def __post_init__(self) -> None:
        if len(self.counts) != len(self.bounds) + 1:
            raise ValueError("counts must have one entry per bound plus one for +Inf")
        if any(b <= a for a, b in zip(self.bounds, self.bounds[1:], strict=False)):
            raise ValueError("bounds must be strictly increasing")


# Field order is the column order of the sample tables after the foreign key:
# the ingest service turns a struct into a COPY row with msgspec.structs.astuple.
class GpuSampleIn(_Strict):
    gpu: GpuUuid
    ts: Timestamp
    util_gpu: Percent | None = None
    util_mem: Percent | None = None
    mem_used_bytes: Count | None = None
    mem_total_bytes: Count | None = None
    power_w: NonNegative | None = None
    power_limit_w: NonNegative | None = None
    energy_j: NonNegative | None = None
    temp_c: Number | None = None
    sm_clock_mhz: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] | None = None
    mem_clock_mhz: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] | None = None
    throttle_reasons: Count | None = None
    pcie_rx_bytes_s: NonNegative | None = None
    pcie_tx_bytes_s: NonNegative | None = None
    ecc_corrected: Count | None = None
    ecc_uncorrected: Count | None = None
    # dcgm-exporter's profiling fields: the fraction of time the graphics engine,
    # the tensor cores and the memory interface were busy.
    gr_engine_active: Fraction | None = None
    tensor_active: Fraction | None = None
    dram_active: Fraction | None = None


class InferenceSampleIn(_Strict):
    deployment: Name
    ts: Timestamp
    interval_s: Annotated[float, msgspec.Meta(gt=0, le=86400)]
    requests_ok: Delta = 0
    requests_error: Delta = 0
    requests_aborted: Delta = 0
    prompt_tokens: Delta = 0
    generation_tokens: Delta = 0
    running: NonNegative | None = None
    waiting: NonNegative | None = None
    kv_cache_usage: Fraction | None = None
    prefix_cache_hits: Delta | None = None
    prefix_cache_queries: Delta | None = None
    preemptions: Delta | None = None
    # Seconds spent in prefill and in decode over the interval, as the server counts them.
    prefill_s: NonNegative | None = None
    decode_s: NonNegative | None = None
    # Inferences and executions (Triton): a batch of n requests is n and 1, so
    # their ratio is the mean batch size.
    batch_inferences: Delta | None = None
    batch_executions: Delta | None = None
    ttft_hist: Histogram | None = None
    itl_hist: Histogram | None = None
    e2e_hist: Histogram | None = None
    queue_hist: Histogram | None = None
    # Bytes of GPU memory this server's processes hold on each GPU (by uuid):
    # the measured share that splits a shared GPU's cost between deployments.
    gpu_memory: Annotated[dict[GpuUuid, Count], msgspec.Meta(max_length=64)] | None = None
    # Needed only when the deployment's name is not unique among the batch's nodes.
    node: Name | None = None


GPU_SAMPLE_COLUMNS = tuple(f for f in GpuSampleIn.__struct_fields__ if f != "gpu")
INFERENCE_SAMPLE_COLUMNS = tuple(
    f for f in InferenceSampleIn.__struct_fields__ if f not in ("deployment", "node")
)
HISTOGRAM_COLUMNS = ("ttft_hist", "itl_hist", "e2e_hist", "queue_hist")
JSON_COLUMNS = (*HISTOGRAM_COLUMNS, "gpu_memory")


class AgentStats(_Strict):
    """The agent's own health, as cumulative counters since it was installed."""

    dropped_samples: Count = 0


class Batch(_Strict):
    schema_version: Literal[1]
    batch_id: BatchId
    agent_version: Version = ""
    agent_stats: AgentStats | None = None
    inventory: Inventory = msgspec.field(default_factory=Inventory)
    gpu_samples: list[GpuSampleIn] = []
    inference_samples: list[InferenceSampleIn] = []


_decoder = msgspec.json.Decoder(Batch)


def decode_batch(body: bytes) -> Batch:
    """Decode and type-check a body; raises msgspec.DecodeError / ValidationError."""
    return _decoder.decode(body)


def _message(exc: msgspec.MsgspecError) -> str:
    text = str(exc)
    if "matching regex" in text:
        for pattern, message in _PATTERN_MESSAGES.items():
            if repr(pattern) in text:
                return message
    # msgspec appends " - at `$...`"; we report the path in our own field name.
    return text.split(" - at `", 1)[0]


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _explain(value: Any, tp: Any, path: str, out: list[dict[str, str]]) -> None:
    """Append every error in `value` against `tp`, descending into structs and lists."""
    if len(out) >= MAX_REPORTED_ERRORS:
        return
    try:
        msgspec.convert(value, tp)
        return
    except msgspec.ValidationError as exc:
        first = exc
    tp = _without_none(tp, value)
    struct = tp if isinstance(tp, type) and issubclass(tp, msgspec.Struct) else None
    if struct is not None and isinstance(value, dict):
        fields = {f.name: f for f in msgspec.structs.fields(struct)}
        before = len(out)
        for key in value:
            if key not in fields:
                out.append({"field": _join(path, key), "message": "Unknown field"})
        for name, info in fields.items():
            if name in value:
                _explain(value[name], info.type, _join(path, name), out)
            elif info.required:
                out.append({"field": _join(path, name), "message": "This field is required"})
        if len(out) > before:
            return
    item_type = _list_item_type(tp)
    if item_type is not None and isinstance(value, list):
        before = len(out)
        for index, item in enumerate(value):
            _explain(item, item_type, _join(path, index), out)
        if len(out) > before:
            return
    where = str(first).split(" - at `$", 1)
    suffix = where[1].rstrip("`") if len(where) == 2 else ""
    field = path + suffix if suffix.startswith("[") or not path else _join(path, suffix.lstrip("."))
    out.append({"field": field if suffix else path, "message": _message(first)})


def _without_none(tp: Any, value: Any) -> Any:
    """`X | None` with a non-null value is checked as X, so errors inside X get their path."""
    args = typing.get_args(tp)
    if value is not None and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return tp


def _list_item_type(tp: Any) -> Any:
    info = msgspec.inspect.type_info(tp)
    if isinstance(info, msgspec.inspect.ListType):
        return _as_type(info.item_type)
    return None


def _as_type(info: msgspec.inspect.Type) -> Any:
    if isinstance(info, msgspec.inspect.StructType):
        return info.cls
    return Any


def explain_errors(body: bytes) -> list[dict[str, str]]:
    """Every field-level error of a body that `decode_batch` rejected."""
    # Not JSON, or not text (a lone surrogate): said in our own words, before any
    # field is looked at.
    reading = read_json(body)
    if reading.problems:
        return reading.problems[:MAX_REPORTED_ERRORS]
    try:
        raw = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return [{"field": "", "message": "Malformed JSON"}]
    except RecursionError:
        return [{"field": "", "message": "JSON is nested too deeply"}]
    if not isinstance(raw, dict):
        return [{"field": "", "message": "The body must be a JSON object"}]
    version = raw.get("schema_version")
    if version is None:
        return [{"field": "schema_version", "message": "This field is required"}]
    if version != 1:
        message = f"Unknown schema version {version!r}; this server accepts 1"
        return [{"field": "schema_version", "message": message}]
    out: list[dict[str, str]] = []
    try:
        _explain(raw, Batch, "", out)
    except RecursionError:
        out.append({"field": "", "message": "JSON is nested too deeply"})
    out = out or reading.duplicates
    return out[:MAX_REPORTED_ERRORS] or [{"field": "", "message": "Invalid body"}]
