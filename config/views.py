from django.contrib.staticfiles.storage import staticfiles_storage
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import bad_request as default_bad_request
from django.views.defaults import page_not_found


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """API clients get JSON, people get the page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that name no icon (the admin, the API docs)."""
    return HttpResponsePermanentRedirect(staticfiles_storage.url("favicon.svg"))


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A request Django refuses before any view (a Host not in ALLOWED_HOSTS, a malformed
    cookie or upload): JSON for API clients too."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": "Bad request: the Host header or the request itself is not accepted."}, status=400
        )
    return default_bad_request(request, exception)


def bare_json(request: HttpRequest) -> HttpResponse:
    """A reference for bench/api.py: the cheapest JSON answer this server can give (no
    database, no authentication). Routed only when BENCHMARK_VIEWS is set."""
    return JsonResponse({"ok": True})


@csrf_exempt
def bare_insert(request: HttpRequest) -> HttpResponse:
    """A reference for bench/api.py: the cheapest durable write, the request body stored
    as one row in one committed transaction (the table is made by the benchmark).
    Routed only when BENCHMARK_VIEWS is set."""
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_write (body) VALUES (%s) RETURNING id", [request.body.decode()])
        (row_id,) = cursor.fetchone()
    return JsonResponse({"id": row_id}, status=201)
