"""Time ranges as pages and the API take them from a URL, and the data each one reads.

`?range=24h` (or 1h, 7d, 30d) is a live window ending now; `?range=custom&start=…&end=…`
is a fixed one (UTC, `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM`). `?label=team=search`
narrows a page to the deployments with that label. A range picks its source so
a page reads about the same number of rows whatever the data kept: raw samples
for an hour, 1-minute rollups up to two days, hourly beyond, daily for years.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from inferscope.lib.filters import LABEL_HINT, split_label

RAW = 0  # read the raw samples, not a rollup
MINUTE, HOUR, DAY = 60, 3600, 86400

PRESETS = {
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
DEFAULT = "24h"
RANGE_PARAMS = ("range", "start", "end", "label")
# How often a live page reloads itself: about one new point per reload.
REFRESH_SECONDS = {"1h": 30, "24h": 60, "7d": 300, "30d": 600}
MAX_SPAN = timedelta(days=400)
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
# Points per series a chart gets at most; the step is the smallest "round" one that fits.
MAX_POINTS = 360
STEPS = (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
_INPUT_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


class RangeError(ValueError):
    """A range or label filter that cannot be read; `errors` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


@dataclass(frozen=True)
class TimeRange:
    name: str  # a PRESETS key, or "custom"
    start: datetime
    end: datetime
    source: int  # RAW, MINUTE, HOUR or DAY
    label: tuple[str, str] | None = None

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    @property
    def live(self) -> bool:
        return self.name in PRESETS

    @property
    def refresh_seconds(self) -> int | None:
        return REFRESH_SECONDS.get(self.name)

    @property
    def step(self) -> int:
        """Seconds per chart point: at most MAX_POINTS points, never finer than the source."""
        return self.step_for(MAX_POINTS)

    def step_for(self, points: int) -> int:
        """The smallest round step that gives at most `points` points."""
        want = self.span.total_seconds() / points
        finest = max(self.source, STEPS[0])
        for step in STEPS:
            if step >= want and step >= finest:
                return step
        return DAY * max(1, round(want / DAY))

    @property
    def label_text(self) -> str:
        return f"{self.label[0]}={self.label[1]}" if self.label else ""

    def params(self) -> dict[str, str]:
        """The URL parameters that give this range back (for links and forms)."""
        out = {"range": self.name}
        if not self.live:
            out["start"] = self.start.strftime("%Y-%m-%dT%H:%M")
            out["end"] = self.end.strftime("%Y-%m-%dT%H:%M")
        if self.label:
            out["label"] = self.label_text
        return out

    def query(self, /, **changes: str) -> str:
        params = {**self.params(), **changes}
        if params.get("range") in PRESETS:
            params.pop("start", None)
            params.pop("end", None)
        return urlencode({k: v for k, v in params.items() if v})

    @property
    def start_input(self) -> str:
        return self.start.strftime("%Y-%m-%dT%H:%M")

    @property
    def end_input(self) -> str:
        return self.end.strftime("%Y-%m-%dT%H:%M")


def source_for(
    span: timedelta, start: datetime, raw_since: datetime, minute_since: datetime | None = None
) -> int:
    """The finest data that covers the range and is still kept (the rest has expired)."""
    if span <= timedelta(hours=1) and start >= raw_since:
        return RAW
    if span <= timedelta(days=2) and (minute_since is None or start >= minute_since):
        return MINUTE
    if span <= timedelta(days=120):
        return HOUR
    return DAY


def parse_range(
    params: Mapping[str, str],
    now: datetime,
    raw_since: datetime,
    default: str = DEFAULT,
    minute_since: datetime | None = None,
) -> TimeRange:
    """The range and label filter in `params`; RangeError names each field that is wrong."""
    errors: dict[str, str] = {}
    name = (params.get("range") or "").strip() or default
    if "start" in params and "range" not in params:
        name = "custom"  # a shared link with only start/end
    now = now.astimezone(UTC).replace(microsecond=0)
    start = end = now
    if name in PRESETS:
        start = now - PRESETS[name]
    elif name == "custom":
        start_at = _parse_time(params.get("start", ""), "start", errors)
        end_at = _parse_time(params.get("end", ""), "end", errors)
        if start_at and end_at:
            start, end = start_at, end_at
            if start.year < EARLIEST_YEAR or end.year > LATEST_YEAR:
                errors["start"] = f"Give dates between {EARLIEST_YEAR} and {LATEST_YEAR}."
            elif end <= start:
                errors["end"] = "The end must be after the start."
            elif end - start > MAX_SPAN:
                errors["start"] = f"A range can be at most {MAX_SPAN.days} days long."
            elif end - start < timedelta(minutes=5):
                errors["end"] = "A range must be at least 5 minutes long."
    else:
        errors["range"] = f"Choose one of {', '.join(PRESETS)} or custom, not {name[:40]!r}."
    label = _parse_label(params.get("label", ""), errors)
    if errors:
        raise RangeError(errors)
    source = source_for(end - start, start, raw_since, minute_since)
    return TimeRange(name, start, end, source, label)


def _parse_time(value: str, field: str, errors: dict[str, str]) -> datetime | None:
    value = value.strip()
    if not value:
        errors[field] = "Give a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM), UTC."
        return None
    for fmt in _INPUT_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    errors[field] = (
        f"{value[:40]!r} is not a date (YYYY-MM-DD) or date and time (YYYY-MM-DDTHH:MM)."
    )
    return None


def _parse_label(value: str, errors: dict[str, str]) -> tuple[str, str] | None:
    """key:value or key=value (inferscope.lib.filters.split_label); the value may be
    empty, as a label's may."""
    if not value.strip():
        return None
    label = split_label(value)
    # Ingest takes keys up to 200 characters and values up to 500.
    if label is None or len(value) > 701:
        errors["label"] = LABEL_HINT
        return None
    return label


def hour_floor(moment: datetime) -> datetime:
    """The UTC hour a moment falls in: the key of hourly rollups and cost records."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_ceil(moment: datetime) -> datetime:
    """The first UTC hour boundary at or after a moment."""
    floor = hour_floor(moment)
    return floor if floor == moment else floor + timedelta(hours=1)


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """Every UTC hour from the one holding `start` to the one holding `end`, inclusive."""
    hour, last = hour_floor(start), hour_floor(end)
    out = []
    while hour <= last:
        out.append(hour)
        hour += timedelta(hours=1)
    return out
