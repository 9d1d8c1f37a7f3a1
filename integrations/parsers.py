"""The API's JSON parser: strict where the standard one guesses."""

import json
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


class StrictJSONParser(JSONParser):
    """Refuses a key given twice in one object (the standard parser keeps the last, so two
    systems could read one request differently) and nesting too deep to be a touchpoint."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.loads(stream.read().decode(encoding), object_pairs_hook=_no_duplicates)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
