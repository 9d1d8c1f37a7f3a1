"""The REST toolkit every app's api.py uses: strict JSON, fields, filters, cursor pages,
error answers, push answers and API scopes. It imports no app; the API keys that carry the
scopes live in `integrations`."""
