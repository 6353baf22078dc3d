import msgspec
import pytest

from collectors.models import Agent, Deployment, Gpu, GpuSample, InferenceSample, Node
from collectors.schema import (
    Batch,
    DeploymentIn,
    GpuIn,
    GpuSampleIn,
    InferenceSampleIn,
    NodeIn,
)

# (schema type, field) -> (model, column): every string the ingest stores.
STORED_STRINGS = [
    (NodeIn, "name", Node, "name"),
    (NodeIn, "hostname", Node, "hostname"),
    (GpuIn, "uuid", Gpu, "uuid"),
    (GpuIn, "model", Gpu, "model_name"),
    (GpuSampleIn, "gpu", Gpu, "uuid"),
    (DeploymentIn, "name", Deployment, "name"),
    (DeploymentIn, "model", Deployment, "model"),
    (DeploymentIn, "endpoint", Deployment, "endpoint"),
    (Batch, "agent_version", Agent, "version"),
]


def _max_length(struct: type, name: str) -> int:
    info = next(f for f in msgspec.inspect.type_info(struct).fields if f.name == name)
    return info.type.max_length


@pytest.mark.parametrize(("struct", "field", "model", "column"), STORED_STRINGS)
def test_string_limits_match_their_columns(struct, field, model, column):
    # A string the schema lets through but the column cannot hold was a 500 on PostgreSQL.
    assert _max_length(struct, field) == model._meta.get_field(column).max_length


@pytest.mark.parametrize(
    ("struct", "model"), [(GpuSampleIn, GpuSample), (InferenceSampleIn, InferenceSample)]
)
def test_every_sample_field_has_a_column(struct, model):
    columns = {f.column for f in model._meta.concrete_fields}
    fields = set(struct.__struct_fields__) - {"gpu", "deployment", "node"}
    assert fields <= columns
