"""Our own words for an ingest body that is not plain, unambiguous JSON.

A decoder's wording and byte offsets change between releases (msgspec 0.23
reworded invalid UTF-8), and agents and people match on ours. Python's json module
locates the problem; it runs only on a body that was refused already.
"""

import json
import math
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


def json_problems(body: bytes) -> list[Error]:
    """Why `body` is not JSON that means one thing, or [] if it is."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as bad:
        return [_error("", f"The body is not valid UTF-8 (byte {bad.start})")]
    if not text.strip():
        return [_error("", "Malformed JSON: the body is empty")]
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
            return [_error("", "Malformed JSON: the body ends before the JSON does")]
        return [_error("", f"Malformed JSON at byte {len(text[: bad.pos].encode())}")]
    except RecursionError:
        return [_error("", "JSON is nested too deeply")]
    except ValueError:  # a number Python itself will not convert
        return [_error("", "Malformed JSON: a number is out of range")]
    if numbers.found:
        message = f"Malformed JSON: {numbers.found[0][:40]} is not a finite number in range"
        return [_error("", message)]
    out: list[Error] = []
    try:
        _walk(value, "", out)
    except RecursionError:
        return [_error("", "JSON is nested too deeply")]
    return out


def duplicate_keys(body: bytes) -> list[Error]:
    """Keys given twice in one object, for a body that is JSON. The last value counts
    (as in most decoders), but the decoder checks each, so an invalid earlier value
    refuses the body: this names it where the last value alone looks valid."""
    try:
        value = json.loads(body, object_pairs_hook=_pairs)
    except (ValueError, RecursionError):
        return []
    out: list[Error] = []
    _walk(value, "", out, duplicates=True)
    return out


def _walk(value: Any, path: str, out: list[Error], duplicates: bool = False) -> None:
    if isinstance(value, _Object):
        for key in value.duplicates if duplicates else ():
            message = "Duplicate key, one of whose values is invalid: give each key once"
            out.append(_error(_join(path, key), message))
        for key, item in value.items():
            if not duplicates and _has_surrogate(key):
                out.append(_error(_join(path, key), _SURROGATE))
            _walk(item, _join(path, key), out, duplicates)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]", out, duplicates)
    elif not duplicates and isinstance(value, str) and _has_surrogate(value):
        out.append(_error(path, _SURROGATE))


# Python joins a valid \\ud83d\\ude00 pair into one character: what is left is alone.
_SURROGATE = "A lone UTF-16 surrogate escape (\\ud800-\\udfff) is not a character"


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= char <= "\udfff" for char in text)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _error(field: str, message: str) -> Error:
    return {"field": field, "message": message}
