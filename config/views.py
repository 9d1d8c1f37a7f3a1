from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
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
