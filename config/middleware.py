"""Request hygiene shared by every page and the API."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django_htmx.middleware import HtmxDetails

NUL_MESSAGE = "The request contains a NUL (\\u0000) character, which no field accepts."


class RefuseNulCharacters:
    """A NUL in the query string or a form field is never meaningful and PostgreSQL cannot
    store or compare it: answer 400 here rather than fail deep inside a query."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        fields = list(request.GET.lists())
        if request.method == "POST" and request.content_type in ("application/x-www-form-urlencoded",):
            fields += list(request.POST.lists())
        if any("\x00" in key or any("\x00" in value for value in values) for key, values in fields):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": NUL_MESSAGE}, status=400)
            return HttpResponseBadRequest(NUL_MESSAGE)
        return self.get_response(request)


class HtmxHttpRequest(HttpRequest):
    """A request as django-htmx's HtmxMiddleware leaves it: `request.htmx` says whether
    htmx sent it (and its target, trigger ...)."""

    htmx: HtmxDetails
