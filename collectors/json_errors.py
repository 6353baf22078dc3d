"""Our own words for an ingest body that is not plain, unambiguous JSON.

A decoder's wording and byte offsets change between releases (msgspec 0.23
reworded invalid UTF-8), and agents and people match on ours. Python's json module
locates the problem; it runs only on a body that was refused already.
"""

import json
import math
from dataclasses import dataclass, field
from typing import Any

Error = dict[str, str]
_MAX_INT = 2**64


class _Object(dict[str, Any]):
    """A JSON object that remembers the keys it saw twice."""

    duplicates: list[str]


def _pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    obj.duplicates = []
    for key, value in pairs:
        if key in obj:
            obj.duplicates.append(key)
        obj[key] = value
    return obj


class _NotJsonNumbers:
    """What Python's json takes and JSON (RFC 8259) or a double cannot hold."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def constant(self, text: str) -> float:
        self.found.append(text)
        return 0.0

    def number(self, text: str) -> float:
        if math.isinf(float(text)):
            self.found.append(text)
            return 0.0
        return float(text)

    def integer(self, text: str) -> int:
        # Python refuses to convert more than 4,300 digits: count them first.
        if len(text.lstrip("-")) > 20:
            self.found.append(text)
            return 0
        value = int(text)
        if abs(value) >= _MAX_INT:
            self.found.append(text)
            return 0
        return value


@dataclass
class JsonReading:
    """What Python's json found in a refused body, read once."""

    # The body is not JSON, or not text: refused for these alone.
    problems: list[Error] = field(default_factory=list)
    # Keys given twice. The last value counts (as in most decoders), but the decoder
    # checks each, so an invalid earlier value refuses the body: these name it where
    # the last value alone looks valid.
    duplicates: list[Error] = field(default_factory=list)


def read_json(body: bytes) -> JsonReading:
    """Why `body` is not JSON that means one thing, and its keys given twice."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as bad:
        return _refused(f"The body is not valid UTF-8 (byte {bad.start})")
    if not text.strip():
        return _refused("Malformed JSON: the body is empty")
    numbers = _NotJsonNumbers()
    try:
        value = json.loads(
            text,
            object_pairs_hook=_pairs,
            parse_constant=numbers.constant,
            parse_float=numbers.number,
            parse_int=numbers.integer,
        )
    except json.JSONDecodeError as bad:
        if bad.pos >= len(text.rstrip()):
            return _refused("Malformed JSON: the body ends before the JSON does")
        return _refused(f"Malformed JSON at byte {len(text[: bad.pos].encode())}")
    except RecursionError:
        return _refused("JSON is nested too deeply")
    except ValueError:  # a number Python itself will not convert
        return _refused("Malformed JSON: a number is out of range")
    if numbers.found:
        return _refused(f"Malformed JSON: {numbers.found[0][:40]} is not a finite number in range")
    reading = JsonReading()
    try:
        _walk(value, "", reading)
    except RecursionError:
        return _refused("JSON is nested too deeply")
    return reading


def _refused(message: str) -> JsonReading:
    return JsonReading(problems=[_error("", message)])


def _walk(value: Any, path: str, reading: JsonReading) -> None:
    if isinstance(value, _Object):
        for key in value.duplicates:
            reading.duplicates.append(_error(_join(path, key), _DUPLICATE))
        for key, item in value.items():
            if _has_surrogate(key):
                reading.problems.append(_error(_join(path, key), _SURROGATE))
            _walk(item, _join(path, key), reading)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]", reading)
    elif isinstance(value, str) and _has_surrogate(value):
        reading.problems.append(_error(path, _SURROGATE))


_DUPLICATE = "Duplicate key, one of whose values is invalid: give each key once"
# Python joins a valid \\ud83d\\ude00 pair into one character: what is left is alone.
_SURROGATE = "A lone UTF-16 surrogate escape (\\ud800-\\udfff) is not a character"


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= char <= "\udfff" for char in text)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _error(field: str, message: str) -> Error:
    return {"field": field, "message": message}
