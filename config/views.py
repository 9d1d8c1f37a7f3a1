from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """API clients get JSON, people get the page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


def bare_json(request: HttpRequest) -> HttpResponse:
    """The reference for bench/api.py: the cheapest JSON answer this server can give (no
    database, no authentication). Routed only when BENCHMARK_VIEWS is set."""
    return JsonResponse({"ok": True})
