"""The API's JSON parser: strict where the standard one guesses."""

import json
import re
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ParseError(f"JSON parse error - the key {key!r} appears twice in one object; send it once.")
        result[key] = value
    return result


# The deepest body the API reads is a bulk request: {"items": [{...}]}, three levels. The
# limit is explicit so that whether a body parses never depends on how deep the call stack
# happens to be (json.loads recurses: under a profiler or another middleware, the
# interpreter's recursion limit came a few hundred levels sooner).
MAX_DEPTH = 32
TOO_DEEP = f"JSON parse error - nested too deeply (more than {MAX_DEPTH} levels)."
_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"')
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST_PAIR = re.compile(r"\[\]|\{\}")


def _nested_deeper_than(text: str, limit: int) -> bool:
    """Whether the brackets of valid JSON `text` nest more than `limit` deep, without
    recursing: strings are cut out, then innermost pairs removed one level per pass (each
    pass runs in C). Only for text json.loads accepted: in an unterminated string the
    string pattern could take quadratic time."""
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(limit):
        if not brackets:
            return False
        brackets = _INNERMOST_PAIR.sub("", brackets)
    return bool(brackets)


class StrictJSONParser(JSONParser):
    """Refuses a key given twice in one object (the standard parser keeps the last, so two
    systems could read one request differently) and nesting too deep to be a touchpoint."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
            data = json.loads(text, object_pairs_hook=_no_duplicates)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if _nested_deeper_than(text, MAX_DEPTH):
            raise ParseError(TOO_DEEP)
        return data
