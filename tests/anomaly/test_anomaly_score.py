import csv
import io
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from tests.anomaly.series import START, at, gpu_util

HEADER = "timestamp,value,score,is_anomaly,kind,expected_low,expected_high"


def write_series(path: Path, values: np.ndarray, unix: bool = False) -> None:
    lines = ["timestamp,value"]
    for i, v in enumerate(values.tolist()):
        ts = START.timestamp() + i * 300
        stamp = f"{ts:.0f}" if unix else START.fromtimestamp(ts, START.tzinfo).isoformat()
        lines.append(f"{stamp},{'' if np.isnan(v) else f'{v:.3f}'}")
    path.write_text("\n".join(lines) + "\n")


def score(*args: str) -> list[dict[str, str]]:
    out = io.StringIO()
    call_command("anomaly_score", *args, stdout=out)
    text = out.getvalue()
    assert text.splitlines()[0] == HEADER
    return list(csv.DictReader(io.StringIO(text)))


def test_it_scores_a_csv_in_time_order_and_flags_the_spike(tmp_path: Path) -> None:
    values = gpu_util(9)
    values[at(8.4)] += 40
    values[at(8.5)] = np.nan
    path = tmp_path / "util.csv"
    write_series(path, values)
    lines = path.read_text().splitlines()
    # Shuffled rows come out sorted: the detector sees them as they would arrive.
    path.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")

    rows = score(str(path))
    assert len(rows) == len(values)
    assert rows[0]["timestamp"] == START.isoformat()
    flagged = [(i, row["kind"]) for i, row in enumerate(rows) if row["is_anomaly"] == "1"]
    assert (at(8.4), "spike") in flagged
    assert rows[at(8.5)]["value"] == "" and rows[at(8.5)]["is_anomaly"] == "0"
    assert float(rows[at(8.4)]["score"]) >= 1
    assert float(rows[at(8.4)]["expected_low"]) < float(rows[at(8.4)]["expected_high"])


def test_it_reads_unix_seconds_from_stdin_with_the_chosen_detector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "util.csv"
    values = gpu_util(1)[:100]
    values[80] += 60
    write_series(path, values, unix=True)
    monkeypatch.setattr("sys.stdin", io.StringIO(path.read_text()))
    rows = score("-", "--detector", "zscore", "--sensitivity", "1.0")
    assert len(rows) == 100 and rows[0]["timestamp"] == START.isoformat()
    assert (rows[80]["is_anomaly"], rows[80]["kind"]) == ("1", "spike")
    assert rows[5]["score"] == "0.0000"  # the baseline needs 10 earlier points


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time,value\n2026-01-01T00:00:00Z,1\n", "line 1: the header must be timestamp,value"),
        ("timestamp,value\n2026-01-01T00:00:00Z,1\nyesterday,2\n", "line 3: 'yesterday' is not"),
        ("timestamp,value\n2026-01-01T00:00:00Z,1\n2026-01-01T00:01:00Z,high\n", "line 3: 'high'"),
        ("timestamp,value\n2026-01-01T00:00:00Z,nan\n", "line 2: 'nan' is not a finite"),
        ("timestamp,value\n2026-01-01T00:00:00Z,1,2\n", "line 2: expected 2 columns"),
        ("", "line 1: the header"),
    ],
)
def test_it_names_the_line_of_bad_input(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(CommandError, match=message) as caught:
        call_command("anomaly_score", str(path), stdout=io.StringIO())
    assert "\n" not in str(caught.value)


def test_it_says_when_the_file_is_missing(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no-such.csv: no such file"):
        call_command("anomaly_score", str(tmp_path / "no-such.csv"), stdout=io.StringIO())


def test_it_rejects_an_unknown_detector_and_a_zero_sensitivity(tmp_path: Path) -> None:
    path = tmp_path / "util.csv"
    write_series(path, gpu_util(1)[:10])
    with pytest.raises(CommandError):
        call_command("anomaly_score", str(path), "--detector", "prophet")
    with pytest.raises(CommandError, match="--sensitivity must be above 0"):
        call_command("anomaly_score", str(path), "--sensitivity", "0")


def test_a_series_spanning_centuries_is_refused_in_one_line(tmp_path) -> None:
    import pytest
    from django.core.management import CommandError, call_command

    path = tmp_path / "far.csv"
    path.write_text("timestamp,value\n0001-01-01T00:00:00Z,1\n9999-01-01T00:00:00Z,2\n")
    with pytest.raises(CommandError, match="score at most 5 years at once"):
        call_command("anomaly_score", str(path))


def test_hourly_scores_spend_by_the_hour_and_needs_the_seasonal_detector(tmp_path: Path) -> None:
    from tests.anomaly.series import hourly_spend

    values = hourly_spend(35 * 24, seed=4)
    values[-40:] += 5  # two replicas nobody scaled back
    path = tmp_path / "spend.csv"
    lines = ["timestamp,value"]
    lines += [f"{(START + timedelta(hours=i)).isoformat()},{v:.4f}" for i, v in enumerate(values)]
    path.write_text("\n".join(lines) + "\n")
    out = io.StringIO()
    call_command("anomaly_score", str(path), "--hourly", stdout=out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    flagged = [r for r in rows[8 * 24 :] if r["is_anomaly"] == "1"]
    assert (
        flagged and flagged[0]["timestamp"] >= (START + timedelta(hours=35 * 24 - 40)).isoformat()
    )
    assert "level_shift" in {r["kind"] for r in flagged}
    with pytest.raises(CommandError, match="--hourly is a setting of the seasonal detector"):
        call_command("anomaly_score", str(path), "--hourly", "--detector", "zscore")
