"""How the OpenAPI schema describes API-key authentication."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class APIKeyScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.auth.APIKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>` (or `Token <key>`). Issue keys with `manage.py issue_api_key`.",
        }


ERROR_RESPONSES = {
    "400": "Invalid input: an object naming each field with a list of reasons, e.g. "
    '{"valence": ["Ensure this value is less than or equal to 2."]}, or {"detail": "JSON parse error ..."}.',
    "401": "No key or session, or the key is unknown, revoked or expired.",
    "403": "The key's scope or the person's role does not allow this.",
    "404": "No such object.",
    "406": "The Accept header asks for something other than JSON.",
    "413": "The request body is too large.",
    "415": "The body is not JSON (send Content-Type: application/json).",
    "429": "Too many requests for this key; retry after the number of seconds in Retry-After.",
}
# Every branch typed (an array says what it holds, an object what its values are):
# generators such as openapi-python-client drop a component with an untyped array in a
# union, and with it every error response of the generated client.
ERROR_SCHEMA = {
    "type": "object",
    "description": "Field name (or 'detail' / 'non_field_errors') to the reasons: a sentence, a list of "
    "sentences, or, for a list or object field, the reasons per item or key.",
    "properties": {"detail": {"type": "string", "description": "What went wrong, when no one field is at fault."}},
    "additionalProperties": {
        "oneOf": [
            {"type": "string"},
            {"type": "array", "items": {}},
            {"type": "object", "additionalProperties": {}},
        ]
    },
}


def document_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular post-processing hook: every operation documents the JSON errors."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            # An empty filter (?band=) means "no filter", as HTML forms send it.
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    parameter["allowEmptyValue"] = True
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_RESPONSES.items():
                # 404 on lists too: an invalid pagination cursor is "not found".
                if code in {"413", "415"} and method == "get":
                    continue
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                )
    return result
