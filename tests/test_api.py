"""REST API v1 against the real PostgreSQL: access, idempotency, bulk, bad input, reads."""

import base64
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any, cast

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from config.rest.scopes import Scope
from customers.models import Customer
from integrations.auth import PerClientThrottle
from integrations.models import APIKey
from interactions.models import Interaction
from memory.services import memory_refresh
from tests.factories import CustomerFactory, record

pytestmark = pytest.mark.django_db


def touchpoint(**overrides: Any) -> dict[str, Any]:
    data = {
        "customer_ref": "ACME-1",
        "customer_name": "Acme Ltd",
        "channel": "complaint",
        "valence": -2,
        "occurred_at": (timezone.now() - timedelta(hours=3)).isoformat(),
        "summary": "Invoice charged twice",
        "source": "helpdesk",
        "external_id": "T-1",
    }
    data.update(overrides)
    return data


@pytest.fixture
def key_for() -> Callable[[str], str]:
    def issue(scope: str) -> str:
        _, key = APIKey.objects.create_key(name=f"{scope}-system", scope=scope)
        return key

    return issue


def client_with(key: str | None = None, user: User | None = None) -> APIClient:
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    if user:
        client.force_authenticate(user)
    return client


# --- access: every endpoint x every kind of caller --------------------------------------------
@pytest.fixture
def world() -> dict[str, int]:
    customer = CustomerFactory.create()
    interaction = record(customer, at=timezone.now() - timedelta(days=1))
    memory_refresh(customer_id=customer.pk)
    return {"customer": customer.pk, "interaction": interaction.pk, "journey": interaction.journey_id}


ENDPOINTS = [
    ("get", "/api/v1/customers/", "read"),
    ("get", "/api/v1/customers/{customer}/", "read"),
    ("get", "/api/v1/customers/{customer}/memory/", "read"),
    ("get", "/api/v1/interactions/", "read"),
    ("get", "/api/v1/interactions/{interaction}/", "read"),
    ("get", "/api/v1/journeys/", "read"),
    ("get", "/api/v1/journeys/{journey}/", "read"),
    ("get", "/api/v1/schema/", "read"),
    ("post", "/api/v1/interactions/", "push"),
    ("post", "/api/v1/interactions/bulk/", "push"),
]
CALLERS = ["anonymous", "push", "read", "full", "staff_member", "manager", "administrator", "outsider"]


def _expected(caller: str, needs: str) -> set[int]:
    if caller == "anonymous":
        return {401}
    if caller == "outsider" or (caller in {"push", "read"} and caller != needs):
        return {403}
    return {200, 201}


@pytest.mark.parametrize(("method", "path", "needs"), ENDPOINTS)
@pytest.mark.parametrize("caller", CALLERS)
def test_every_endpoint_admits_exactly_the_right_callers(
    method: str,
    path: str,
    needs: str,
    caller: str,
    world: dict[str, int],
    key_for: Callable[[str], str],
    request: pytest.FixtureRequest,
) -> None:
    if caller in Scope.values:
        client = client_with(key=key_for(caller))
    elif caller == "anonymous":
        client = client_with()
    else:
        client = client_with(user=request.getfixturevalue(caller))
    url = path.format(**world)
    body: dict[str, Any] = (
        {"items": [touchpoint(external_id=f"{caller}-bulk")]}
        if url.endswith("bulk/")
        else touchpoint(external_id=f"{caller}-one")
    )
    response = client.get(url) if method == "get" else client.post(url, body, format="json")
    assert response.status_code in _expected(caller, needs), response.content
    assert response["Content-Type"].startswith(("application/json", "application/vnd.oai.openapi"))


def test_revoked_key_is_refused(key_for: Callable[[str], str]) -> None:
    key = key_for("full")
    APIKey.objects.update(revoked=True)
    response = client_with(key=key).get("/api/v1/customers/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_token_keyword_works_like_api_key(key_for: Callable[[str], str]) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key_for('read')}")
    assert client.get("/api/v1/customers/").status_code == 200


def test_session_post_without_csrf_token_is_refused(staff_member: User) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff_member)
    response = client.post("/api/v1/interactions/", touchpoint(), format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_issue_api_key_prints_a_working_key_once() -> None:
    out, err = StringIO(), StringIO()
    call_command("issue_api_key", "helpdesk", "--scope", "push", stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert APIKey.objects.get().scope == "push"
    assert key not in APIKey.objects.get().hashed_key
    assert "shown only now" in err.getvalue()
    assert client_with(key=key).post("/api/v1/interactions/", touchpoint(), format="json").status_code == 201


def test_wrong_keys_are_throttled_per_client_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """Security audit #14: 120 wrong keys in 0.2 s were all 401, never 429."""
    from django.core.cache import cache

    from integrations.auth import FailedKeyThrottle

    cache.clear()
    monkeypatch.setattr(FailedKeyThrottle, "THROTTLE_RATES", {"failed_auth": "5/min"})
    client = APIClient()
    codes = [client.get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Api-Key wrong.{n}").status_code for n in range(7)]
    assert codes == [401] * 5 + [429] * 2
    throttled = client.get("/api/v1/customers/", HTTP_AUTHORIZATION="Api-Key wrong.again")
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    other = APIClient(REMOTE_ADDR="10.9.8.7")
    assert other.get("/api/v1/customers/", HTTP_AUTHORIZATION="Api-Key wrong.x").status_code == 401
    cache.clear()


class _Clock:
    """A throttle timer the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_wrong_keys_count_only_for_the_throttle_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/api.md section 1: the budget of wrong keys is per address and per window; a
    failure older than the window no longer counts, and its record expires with it."""
    from django.core.cache import cache

    from integrations.auth import FailedKeyThrottle

    clock = _Clock()
    monkeypatch.setattr(FailedKeyThrottle, "THROTTLE_RATES", {"failed_auth": "2/min"})
    monkeypatch.setattr(FailedKeyThrottle, "timer", clock)
    client = APIClient()

    def status_at(second: float) -> int:
        clock.now = 1_000_000.0 + second
        return client.get("/api/v1/customers/", HTTP_AUTHORIZATION="Api-Key wrong.key").status_code

    assert [status_at(0), status_at(30), status_at(31)] == [401, 401, 429]
    assert [status_at(61), status_at(62)] == [401, 429]  # the failure at 0 s fell out; 30 s and 61 s count

    address_key = FailedKeyThrottle.cache_format % {"scope": "failed_auth", "ident": "127.0.0.1"}
    raw_key = cache.make_and_validate_key(address_key)
    assert 0 < cache._cache.get_client(raw_key).ttl(raw_key) <= 60  # type: ignore[attr-defined]


class _BrokenCache:
    def __init__(self, broken: str) -> None:
        self.broken = broken

    def get(self, key: str, default: Any = None) -> Any:
        if self.broken == "get":
            raise ConnectionError("Redis is down")
        return default

    def set(self, key: str, value: Any, timeout: Any = None) -> None:
        if self.broken == "set":
            raise ConnectionError("Redis is down")


@pytest.mark.parametrize(
    ("broken", "logged"),
    [
        ("get", "failed-key throttle not applied: the cache is unavailable"),
        ("set", "failed-key throttle not recorded: the cache is unavailable"),
    ],
)
def test_a_cache_outage_lets_wrong_keys_through_to_a_401_and_says_so_in_the_log(
    broken: str, logged: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """docs/operations.md: without Redis the API fails open on rate limits (keys are long
    random secrets), and the log says which limit was not applied."""
    from integrations.auth import FailedKeyThrottle

    monkeypatch.setattr(FailedKeyThrottle, "cache", _BrokenCache(broken))
    with caplog.at_level(logging.WARNING, logger="integrations.auth"):
        response = APIClient().get("/api/v1/customers/", HTTP_AUTHORIZATION="Api-Key wrong.key")
    assert response.status_code == 401
    [record] = [r for r in caplog.records if r.name == "integrations.auth"]
    assert record.getMessage() == logged
    assert record.exc_info is not None
    assert "Redis is down" in str(record.exc_info[1])


def test_an_api_key_holds_none_of_a_persons_permissions(key_for: Callable[[str], str]) -> None:
    """Scopes decide what a key may do; Django's permissions (the admin's) are for people."""
    from integrations.auth import SystemUser

    key = APIKey.objects.get_from_key(key_for("full"))
    caller = SystemUser(cast(APIKey, key))
    assert not caller.has_perm("interactions.change_interaction")
    assert not caller.has_perm("auth.add_user")


def test_a_refused_key_is_told_how_to_authenticate() -> None:
    """RFC 9110: a 401 names the scheme to use (WWW-Authenticate), as docs/api.md does."""
    response = APIClient().get("/api/v1/customers/", HTTP_AUTHORIZATION="Api-Key wrong.key")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"


def test_an_expired_key_is_refused() -> None:
    _, key = APIKey.objects.create_key(name="old", scope="read", expiry_date=timezone.now() - timedelta(days=1))
    response = client_with(key=key).get("/api/v1/customers/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_each_key_has_its_own_rate_limit(key_for: Callable[[str], str], monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.cache import cache

    cache.clear()
    monkeypatch.setattr(PerClientThrottle, "THROTTLE_RATES", {"client": "3/min"})
    busy, calm = client_with(key=key_for("read")), client_with(key=key_for("read"))
    codes = [busy.get("/api/v1/customers/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert calm.get("/api/v1/customers/").status_code == 200
    cache.clear()


def _throttle(rate: str, now: float, monkeypatch: pytest.MonkeyPatch) -> PerClientThrottle:
    monkeypatch.setattr(PerClientThrottle, "THROTTLE_RATES", {"client": rate})
    throttle = PerClientThrottle()
    throttle.timer = lambda: now
    return throttle


def test_the_rate_limit_counts_every_request_of_parallel_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Against the real Redis: 12 clients at once, 40 requests each, a budget of 100: exactly
    100 pass. (DRF's throttle reads and rewrites one list per request: parallel requests
    overwrote each other's entries and more got through.)"""
    from django.core.cache import cache

    cache.clear()
    monkeypatch.setattr(PerClientThrottle, "THROTTLE_RATES", {"client": "100/hour"})
    key = APIKey(pk=987654, name="parallel")
    request = cast(Any, type("R", (), {"auth": key, "user": None})())
    allowed: list[bool] = []
    barrier = threading.Barrier(12)

    def client() -> None:
        barrier.wait()
        allowed.extend(PerClientThrottle().allow_request(request, None) for _ in range(40))

    threads = [threading.Thread(target=client) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 100
    cache.clear()


def test_the_rate_limit_slides_and_says_when_to_come_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted per minute, judged over the last 60 s: the last minute's requests weigh by
    how much of it the sliding window still covers."""
    from django.core.cache import cache

    cache.clear()
    start = 6000 * 60.0  # the start of a minute
    for _ in range(10):
        assert _throttle("10/min", start + 1, monkeypatch)._allow("k", start + 1)
    refused = _throttle("10/min", start + 2, monkeypatch)
    assert not refused._allow("k", start + 2)
    # Nothing fits before the next minute, and then only once the full one weighs 9/10.
    assert refused.wait() == pytest.approx(58 + 6)
    assert not _throttle("10/min", start + 63, monkeypatch)._allow("k", start + 63)  # weighs 9.5 + 1
    assert _throttle("10/min", start + 66.5, monkeypatch)._allow("k", start + 66.5)  # 8.9 + 1
    assert not _throttle("10/min", start + 66.6, monkeypatch)._allow("k", start + 66.6)  # 8.9 + 1 + 1
    cache.clear()


# --- push one ------------------------------------------------------------------------------
def test_push_creates_customer_and_interaction(
    key_for: Callable[[str], str], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client_with(key=key_for("push")).post("/api/v1/interactions/", touchpoint(), format="json")
    assert response.status_code == 201
    body = response.json()
    customer = Customer.objects.get(ref="ACME-1")
    assert body["customer"] == customer.pk
    assert body["customer_ref"] == "ACME-1"
    assert body["stage"] == "fulfilment"
    assert body["intensity"] == 5
    assert customer.memory.band == "at_risk"  # scored after commit (in-process in tests)


def test_repeat_push_returns_existing_interaction(key_for: Callable[[str], str]) -> None:
    client = client_with(key=key_for("full"))
    first = client.post("/api/v1/interactions/", touchpoint(), format="json")
    again = client.post("/api/v1/interactions/", touchpoint(valence=2, summary="changed"), format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Interaction.objects.count() == 1


def test_push_key_learns_only_id_and_status_of_a_repeat(key_for: Callable[[str], str]) -> None:
    """Security audit #2: a push-only key repeating another system's source + external_id
    must not read that stored touchpoint (it gets 403 on GET)."""
    stored = client_with(key=key_for("full")).post(
        "/api/v1/interactions/", touchpoint(summary="Private: refund of 5,000"), format="json"
    )
    pusher = client_with(key=key_for("push"))
    again = pusher.post("/api/v1/interactions/", touchpoint(summary="guess"), format="json")
    assert again.status_code == 200
    assert again.json() == {"id": stored.json()["id"], "status": "duplicate"}
    bulk = pusher.post("/api/v1/interactions/bulk/", {"items": [touchpoint()]}, format="json").json()
    assert bulk["results"] == [{"index": 0, "status": "duplicate", "id": stored.json()["id"], "customer": None}]
    assert pusher.get(f"/api/v1/interactions/{stored.json()['id']}/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_requests_create_one_interaction(live_server: Any) -> None:
    _, key = APIKey.objects.create_key(name="racer", scope="push")
    body = json.dumps(touchpoint(external_id="RACE-1")).encode()
    codes: list[int] = []
    barrier = threading.Barrier(8)

    def push() -> None:
        request = urllib.request.Request(  # noqa: S310 - the test's own live server
            f"{live_server.url}/api/v1/interactions/",
            data=body,
            method="POST",
            headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"},
        )
        barrier.wait()
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the test's own live server
            codes.append(response.status)

    threads = [threading.Thread(target=push) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200] * 7 + [201]
    assert Interaction.objects.filter(source="helpdesk", external_id="RACE-1").count() == 1
    assert Customer.objects.filter(ref="ACME-1").count() == 1
    connection.close()


# --- bad input -----------------------------------------------------------------------------
BAD_INPUTS = [
    ({"valence": "very bad"}, "valence"),
    ({"valence": 3}, "valence"),
    ({"valence": True}, "valence"),
    ({"intensity": 9}, "intensity"),
    ({"channel": "fax"}, "channel"),
    ({"stage": "nirvana"}, "stage"),
    ({"occurred_at": "2026-11-20T09:30:00"}, "occurred_at"),
    ({"occurred_at": "yesterday"}, "occurred_at"),
    ({"occurred_at": (timezone.now() + timedelta(days=30)).isoformat()}, "occurred_at"),
    ({"customer_ref": "UNKNOWN", "customer_name": None}, "customer_name"),
    ({"customer_ref": "NEW-2", "customer_name": ""}, "customer_name"),
    ({"customer_ref": "x" * 101}, "customer_ref"),
    ({"summary": "x" * 5001}, "summary"),
    ({"source": ""}, "source"),
    ({"external_id": None}, "external_id"),
    ({"rating": 11, "rating_scale": "nps"}, "rating"),
    ({"rating": 3}, "rating_scale"),
    ({"resolves": 999999}, "resolves"),
    ({"resolves": {"id": 1}}, "resolves"),
    ({"staff": "nobody"}, "staff"),
    ({"customer": 999999, "customer_ref": None}, "customer"),
    # Security audit #7 and #16: each of these was a 500, or was read as something else.
    ({"occurred_at": "0001-01-01T00:00:00Z"}, "occurred_at"),
    ({"occurred_at": "1899-12-31T23:59:59Z"}, "occurred_at"),
    ({"occurred_at": "\uff12\uff10\uff12\uff16-11-20T09:30:00Z"}, "occurred_at"),  # fullwidth digits
    ({"resolves": "abc\x00def"}, "resolves"),
    ({"resolves": "\ud800"}, "resolves"),
    ({"summary": "half a pair \udfff"}, "summary"),
    ({"customer_ref": "\ud83d"}, "customer_ref"),
    # 32 levels with the body's own object: the deepest the parser reads (docs/api.md section 2).
    ({"summary": json.loads("[" * 31 + "]" * 31)}, "summary"),
]


@pytest.mark.parametrize(("overrides", "field"), BAD_INPUTS)
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(
    overrides: dict[str, Any], field: str, key_for: Callable[[str], str]
) -> None:
    data = {k: v for k, v in touchpoint(**overrides).items() if v is not None}
    # As a client sends it: json.dumps escapes what UTF-8 cannot carry (a lone surrogate).
    body = json.dumps(data)
    response = client_with(key=key_for("push")).generic(
        "POST", "/api/v1/interactions/", body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert Interaction.objects.count() == 0
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"[]",
        b"42",
        b'"text"',
        b"null",
        b'{"items": 5}',
        '{"valence": "\ud800"}'.encode("utf-8", "surrogatepass"),
    ],
)
def test_malformed_bodies_are_4xx_never_500(raw: bytes, key_for: Callable[[str], str]) -> None:
    client = client_with(key=key_for("push"))
    for url in ("/api/v1/interactions/", "/api/v1/interactions/bulk/"):
        response = client.generic("POST", url, raw, content_type="application/json")  # type: ignore[arg-type]
        assert 400 <= response.status_code < 500, (url, raw, response.content)


def test_one_bad_item_never_costs_the_batch(key_for: Callable[[str], str]) -> None:
    """Security audit #7: a year-0001 date or a NUL in `resolves` lost the whole bulk batch."""
    items = [
        touchpoint(external_id="ok-1"),
        touchpoint(external_id="bad-1", occurred_at="0001-01-01T00:00:00Z"),
        touchpoint(external_id="bad-2", resolves="x\x00y"),
        touchpoint(external_id="bad-3", summary="\ud800"),
        touchpoint(external_id="ok-2"),
    ]
    response = client_with(key=key_for("push")).generic(
        "POST", "/api/v1/interactions/bulk/", json.dumps({"items": items}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "error", "error", "error", "created"]
    assert [sorted(r["errors"]) for r in results[1:4]] == [["occurred_at"], ["resolves"], ["summary"]]
    assert set(Interaction.objects.values_list("external_id", flat=True)) == {"ok-1", "ok-2"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"valence": 1, "valence": -2}', "appears twice"),
        (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
        # One level past the limit, whatever the call stack's depth (docs/api.md section 2).
        (json.dumps({"summary": json.loads("[" * 32 + "]" * 32)}).encode(), "more than 32 levels"),
    ],
)
def test_ambiguous_or_absurd_json_is_refused(raw: bytes, reason: str, key_for: Callable[[str], str]) -> None:
    """Security audit #16: the standard parser kept the last of two equal keys (another
    system may read the first) and recursed without bound."""
    response = client_with(key=key_for("push")).generic(
        "POST",
        "/api/v1/interactions/",
        raw,  # type: ignore[arg-type]  # bytes are sent as they are
        content_type="application/json",
    )
    assert response.status_code == 400
    assert reason in response.json()["detail"]


def test_a_touchpoint_cannot_resolve_itself(key_for: Callable[[str], str]) -> None:
    response = client_with(key=key_for("push")).post(
        "/api/v1/interactions/", touchpoint(external_id="T-9", resolves="T-9"), format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"resolves": ["A touchpoint cannot resolve itself."]}
    assert not Interaction.objects.exists()


def test_brackets_inside_text_are_not_nesting(key_for: Callable[[str], str]) -> None:
    """The depth limit counts the JSON's structure, not brackets someone typed."""
    response = client_with(key=key_for("push")).post(
        "/api/v1/interactions/", touchpoint(summary='quoted \\"[' + "[{" * 100), format="json"
    )
    assert response.status_code == 201, response.content
    assert Interaction.objects.get().summary.endswith("[{" * 100)


def _cursor(position: str) -> str:
    return base64.b64encode(f"o=0&p={position}".encode()).decode()


@pytest.mark.parametrize(
    "query",
    [
        f"ordering=-memory_score&cursor={_cursor('abc')}",
        f"cursor={_cursor('abc')}",
        f"band=at_risk&cursor={_cursor('x%00')}",
        "cursor=!!!not-base64",
    ],
)
def test_altered_cursor_is_a_400_naming_it(query: str, key_for: Callable[[str], str]) -> None:
    """Security audit #12: a tampered cursor on the customer list was an HTML 500."""
    CustomerFactory.create()
    for path in ("/api/v1/customers/", "/api/v1/interactions/", "/api/v1/journeys/"):
        response = client_with(key=key_for("read")).get(f"{path}?{query}")
        assert response.status_code == 400, (path, response.content)
        assert "cursor" in response.json()


def test_a_bad_host_is_a_json_400_on_the_api(settings: Any) -> None:
    """Security audit #16: the API answered a Host outside ALLOWED_HOSTS with an HTML page."""
    settings.ALLOWED_HOSTS = ["rememberly.example.com"]
    response = APIClient().get("/api/v1/customers/", HTTP_HOST="evil.example.net")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "Host" in response.json()["detail"]


def test_nul_in_the_authorization_header_is_a_401(key_for: Callable[[str], str]) -> None:
    """Security audit #15."""
    response = APIClient().get("/api/v1/customers/", HTTP_AUTHORIZATION="Api-Key abc\x00def")
    assert response.status_code == 401
    assert "unknown" in response.json()["detail"]


def test_oversized_body_is_a_413(key_for: Callable[[str], str], settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    big = json.dumps({"items": [touchpoint(external_id=str(i), summary="x" * 1000) for i in range(20)]})
    response = client_with(key=key_for("push")).generic(
        "POST", "/api/v1/interactions/bulk/", big, content_type="application/json"
    )
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]


def test_text_is_stored_as_given_and_returned_as_data(key_for: Callable[[str], str]) -> None:
    tricky = "'; DROP TABLE interactions_interaction; -- <script>alert(1)</script> \u202e\u0000x ✓ 😀"
    response = client_with(key=key_for("full")).post(
        "/api/v1/interactions/", touchpoint(summary=tricky.replace("\u0000", "")), format="json"
    )
    assert response.status_code == 201
    assert Interaction.objects.get().summary == tricky.replace("\u0000", "")


def test_nul_character_is_refused_not_a_500(key_for: Callable[[str], str]) -> None:
    response = client_with(key=key_for("push")).post(
        "/api/v1/interactions/", touchpoint(summary="a\u0000b"), format="json"
    )
    assert response.status_code == 400
    assert "summary" in response.json()


# --- bulk ----------------------------------------------------------------------------------
def test_bulk_stores_every_valid_item_and_reports_the_rest_by_index(key_for: Callable[[str], str]) -> None:
    record(CustomerFactory.create(ref="OLD-1"), source="helpdesk", external_id="seen-before")
    items = [
        touchpoint(external_id="B-1"),
        touchpoint(external_id="B-2", valence=9),
        touchpoint(customer_ref="OLD-1", customer_name="", external_id="seen-before"),
        touchpoint(external_id="B-1"),  # repeated within the request
        touchpoint(customer_ref="NEW-X", customer_name="", external_id="B-3"),
        touchpoint(channel="call", valence=2, external_id="B-4", resolves="B-1", summary="Refund issued"),
        "not an object",
    ]
    response = client_with(key=key_for("push")).post("/api/v1/interactions/bulk/", {"items": items}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["duplicates"], body["errors"]) == (2, 2, 3)
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["created", "error", "duplicate", "duplicate", "error", "created", "error"]
    results = body["results"]
    assert "valence" in results[1]["errors"]
    assert "customer_name" in results[4]["errors"]
    assert results[3]["id"] == results[0]["id"]
    recovery = Interaction.objects.get(external_id="B-4")
    assert recovery.resolves_id == results[0]["id"]  # resolves an item of the same request
    assert not Customer.objects.filter(ref="NEW-X").exists()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"items": []}, "between 1 and 1000"),
        ({"items": [touchpoint(external_id=str(i)) for i in range(1001)]}, "between 1 and 1000"),
        ({"things": []}, "list under 'items'"),
    ],
)
def test_bulk_envelope_errors(payload: dict[str, Any], message: str, key_for: Callable[[str], str]) -> None:
    response = client_with(key=key_for("push")).post("/api/v1/interactions/bulk/", payload, format="json")
    assert response.status_code == 400
    assert message in response.json()["items"][0]


def test_bulk_of_a_thousand_uses_a_bounded_number_of_queries(
    key_for: Callable[[str], str], django_assert_max_num_queries: Any
) -> None:
    items = [
        touchpoint(customer_ref=f"C-{i % 50}", customer_name=f"Customer {i % 50}", external_id=f"K-{i}", valence=1)
        for i in range(1000)
    ]
    client = client_with(key=key_for("push"))
    with django_assert_max_num_queries(140):
        response = client.post("/api/v1/interactions/bulk/", {"items": items}, format="json")
    assert response.json()["created"] == 1000
    assert Customer.objects.count() == 50


# --- reads ---------------------------------------------------------------------------------
def test_cursor_pagination_walks_every_interaction_once(key_for: Callable[[str], str]) -> None:
    customer = CustomerFactory.create()
    for day in range(7):
        record(customer, at=timezone.now() - timedelta(days=day))
    client, seen, url = client_with(key=key_for("read")), [], "/api/v1/interactions/?page_size=3"
    while url:
        page = client.get(url).json()
        seen += [item["id"] for item in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 7
    times = [Interaction.objects.get(pk=pk).occurred_at for pk in seen]
    assert times == sorted(times, reverse=True)


def test_interaction_filters(key_for: Callable[[str], str]) -> None:
    a, b = CustomerFactory.create(ref="A"), CustomerFactory.create(ref="B")
    record(a, channel="complaint", valence=-1, at=timezone.now() - timedelta(days=10))
    record(a, channel="email", at=timezone.now() - timedelta(days=2))
    record(b, channel="complaint", valence=-2, at=timezone.now() - timedelta(days=1))
    client = client_with(key=key_for("read"))

    def count(query: str) -> int:
        return len(client.get(f"/api/v1/interactions/?{query}").json()["results"])

    assert count("channel=complaint") == 2
    assert count("customer_ref=A") == 2
    assert count(f"customer={b.pk}") == 1
    assert count("stage=fulfilment") == 2
    after = (timezone.now() - timedelta(days=5)).isoformat().replace("+", "%2B")
    assert count(f"occurred_after={after}") == 2
    assert client.get("/api/v1/interactions/?channel=fax").status_code == 400


def test_customers_filter_by_band_and_order_by_score(key_for: Callable[[str], str]) -> None:
    happy, unhappy, meh = (CustomerFactory.create(ref=r) for r in ("HAPPY", "UNHAPPY", "MEH"))
    record(happy, valence=2, intensity=5, at=timezone.now() - timedelta(days=1))
    record(unhappy, channel="complaint", valence=-2, at=timezone.now() - timedelta(days=1))
    record(meh, valence=0, at=timezone.now() - timedelta(days=1))
    for c in (happy, unhappy, meh):
        memory_refresh(customer_id=c.pk)
    client = client_with(key=key_for("read"))
    at_risk = client.get("/api/v1/customers/?band=at_risk").json()["results"]
    assert [c["ref"] for c in at_risk] == ["UNHAPPY"]
    ordered = client.get("/api/v1/customers/?ordering=-memory_score").json()["results"]
    assert [c["ref"] for c in ordered] == ["HAPPY", "MEH", "UNHAPPY"]
    assert ordered[0]["memory"]["band"] == "good"
    assert client.get("/api/v1/customers/?score_max=40").json()["results"][0]["ref"] == "UNHAPPY"


def test_customer_list_query_count_is_flat(key_for: Callable[[str], str], django_assert_max_num_queries: Any) -> None:
    for i in range(30):
        customer = CustomerFactory.create(owner=User.objects.create(username=f"owner{i}"))
        record(customer, at=timezone.now() - timedelta(days=1))
        memory_refresh(customer_id=customer.pk)
    client = client_with(key=key_for("read"))
    with django_assert_max_num_queries(4):
        assert len(client.get("/api/v1/customers/?page_size=30").json()["results"]) == 30


def test_memory_endpoint_returns_breakdown_explanation_and_history(key_for: Callable[[str], str]) -> None:
    customer = CustomerFactory.create()
    complaint = record(customer, channel="complaint", valence=-2, at=timezone.now() - timedelta(days=3))
    end = record(customer, valence=1, at=timezone.now() - timedelta(days=1))
    memory_refresh(customer_id=customer.pk)
    body = client_with(key=key_for("read")).get(f"/api/v1/customers/{customer.pk}/memory/").json()
    assert body["band"] == "at_risk"
    assert 0 <= body["score"] < 35
    assert body["breakdown"]["peak"]["touch_id"] == complaint.pk
    assert body["breakdown"]["end"]["touch_id"] == end.pk
    assert set(body["breakdown"]["stages"]) == {"fulfilment", "trepidation"}
    assert body["explanation"][0].startswith("Remembered mostly for: complaint")
    assert body["history"][-1]["day"] == str(timezone.now().date())
    # docs/api.md section 4: drivers with leave-one-out points, lived beside remembered.
    assert [d["interaction"] for d in body["drivers"]] == [complaint.pk, end.pk]
    assert body["drivers"][0]["points"] < 0 < body["drivers"][1]["points"]
    assert body["drivers"][0]["channel"] == "complaint"
    assert body["drivers"][0]["valence"] == -2
    assert body["lived_gap"] == pytest.approx(body["score"] - body["lived_score"])
    assert body["change"] is None  # no snapshot before today yet


def test_customers_filter_remembered_worse_than_lived(key_for: Callable[[str], str]) -> None:
    """docs/api.md section 5: a good journey that ends in a severe complaint is remembered
    far worse than it was lived; a plain good one is not."""
    ended_badly, plain = CustomerFactory.create(), CustomerFactory.create()
    for day in range(8, 0, -1):
        record(ended_badly, valence=1, at=timezone.now() - timedelta(days=day, hours=1))
        record(plain, valence=1, at=timezone.now() - timedelta(days=day, hours=1))
    record(ended_badly, channel="complaint", valence=-2, at=timezone.now() - timedelta(hours=1))
    for customer in (ended_badly, plain):
        memory_refresh(customer_id=customer.pk)
    client = client_with(key=key_for("read"))
    worse = client.get("/api/v1/customers/?remembered_worse_than_lived=true").json()["results"]
    others = client.get("/api/v1/customers/?remembered_worse_than_lived=false").json()["results"]
    assert [c["id"] for c in worse] == [ended_badly.pk]
    assert [c["id"] for c in others] == [plain.pk]
    assert worse[0]["memory"]["lived_score"] - worse[0]["memory"]["score"] >= 10


def test_journeys_filter_open_ones(key_for: Callable[[str], str]) -> None:
    customer = CustomerFactory.create()
    record(customer, channel="account_review", at=timezone.now() - timedelta(days=20))
    record(customer, at=timezone.now() - timedelta(days=1))
    client = client_with(key=key_for("read"))
    assert len(client.get("/api/v1/journeys/").json()["results"]) == 2
    assert len(client.get("/api/v1/journeys/?open=true").json()["results"]) == 1


def test_docs_page_is_served_from_local_assets(client: Any, staff_member: User) -> None:
    client.force_login(staff_member)
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()
    assert "/static/drf_spectacular_sidecar/" in html


def test_docs_page_requires_login(client: Any) -> None:
    assert client.get("/api/v1/docs/").status_code == 302


@pytest.mark.parametrize("offset", ["+23:45", "-23:59"])
def test_far_offsets_are_converted_to_utc_not_a_500(offset: str, key_for: Callable[[str], str]) -> None:
    client = client_with(key=key_for("full"))
    when = f"2025-06-01T10:00:00{offset}"
    assert client.get(f"/api/v1/interactions/?occurred_after={when.replace('+', '%2B')}").status_code == 200
    response = client.post("/api/v1/interactions/", touchpoint(occurred_at=when), format="json")
    assert response.status_code == 201
    assert Interaction.objects.get().occurred_at.utcoffset() == timedelta(0)


def test_date_times_that_overflow_are_a_400(key_for: Callable[[str], str]) -> None:
    client = client_with(key=key_for("full"))
    response = client.post("/api/v1/interactions/", touchpoint(occurred_at="0001-01-01T00:30:00+01:00"), format="json")
    assert response.status_code == 400
    assert "occurred_at" in response.json()
    assert client.get("/api/v1/interactions/?occurred_after=0001-01-01T00:30:00%2B01:00").status_code == 400
