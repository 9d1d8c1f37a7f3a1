"""The references bench/api.py compares the API with, served by the same gunicorn. Only
bench/settings.py routes them: the product's URLconf (config/urls.py) never does."""

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt


def bare_json(request: HttpRequest) -> HttpResponse:
    """A reference for bench/api.py: the cheapest JSON answer this server can give (no
    database, no authentication)."""
    return JsonResponse({"ok": True})


@csrf_exempt
def bare_insert(request: HttpRequest) -> HttpResponse:
    """A reference for bench/api.py: the cheapest durable write, the request body stored
    as one row in one committed transaction (the table is made by the benchmark).
    """
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_write (body) VALUES (%s) RETURNING id", [request.body.decode()])
        (row_id,) = cursor.fetchone()
    return JsonResponse({"id": row_id}, status=201)
