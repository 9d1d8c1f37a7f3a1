"""A client nobody here wrote: openapi-python-client generates one from the live schema,
and that client, unmodified, pushes touchpoints, lists customers and reads a memory.
Whatever the generator cannot handle is a defect of the schema."""

import importlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from integrations.models import APIKey

pytestmark = pytest.mark.django_db(transaction=True)

PACKAGE = "rememberly_generated_client"


@pytest.fixture
def generated(live_server: Any, tmp_path: Path) -> Iterator[tuple[ModuleType, str]]:
    _, key = APIKey.objects.create_key(name="generated client", scope="full")
    schema_url = f"{live_server.url}/api/v1/schema/?format=json"
    request = urllib.request.Request(schema_url, headers={"Authorization": f"Api-Key {key}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - the test's own live server
        (tmp_path / "schema.json").write_bytes(answer.read())
    bin_dir = Path(sys.executable).parent
    run = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--path",
            "schema.json",
            "--meta",
            "none",
            "--output-path",
            PACKAGE,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        timeout=300,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    # The generator warns about every piece it had to leave out: none may be.
    for complaint in ("Warning", "Unable to", "Cannot parse"):
        assert complaint not in output, output
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE), key
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_a_generated_client_pushes_lists_and_reads_memories(
    generated: tuple[ModuleType, str], live_server: Any
) -> None:
    package, key = generated
    # Closed at the end (with): a kept-alive connection would hold the live server's
    # database session past the test.
    with (
        package.AuthenticatedClient(base_url=live_server.url, token=key, prefix="Api-Key") as client,
        package.AuthenticatedClient(base_url=live_server.url, token="not-a-key", prefix="Api-Key") as stranger,
    ):
        _use(package, client, stranger, live_server)


def _use(package: ModuleType, client: Any, stranger: Any, live_server: Any) -> None:
    models = _module("models")
    create = _module("api.interactions.interactions_create")
    bulk = _module("api.interactions.interactions_bulk_create")
    listing = _module("api.customers.customers_list")
    memory = _module("api.customers.customers_memory_retrieve")
    now = datetime.now(UTC)

    complaint = models.TouchpointRequest(
        channel=models.ChannelEnum.COMPLAINT,
        external_id="gen-1",
        occurred_at=now - timedelta(hours=3),
        source="generated",
        valence=-2,
        customer_ref="GEN-1",
        customer_name="Generated Ltd",
        summary="Parcel lost",
    )
    first = create.sync_detailed(client=client, body=complaint)
    assert first.status_code == 201, first.content
    assert isinstance(first.parsed, models.Interaction)
    assert first.parsed.channel == models.ChannelEnum.COMPLAINT
    again = create.sync_detailed(client=client, body=complaint)
    assert again.status_code == 200
    assert again.parsed.id == first.parsed.id

    refused = create.sync_detailed(
        client=client,
        body=models.TouchpointRequest(
            channel=models.ChannelEnum.CALL, external_id="gen-bad", occurred_at=now, source="generated", valence=9
        ),
    )
    assert refused.status_code == 400
    assert isinstance(refused.parsed, models.Error), "4xx answers have a model in the generated client"
    assert "valence" in refused.parsed.additional_properties

    recovery = models.TouchpointRequest(
        channel=models.ChannelEnum.CALL,
        external_id="gen-2",
        occurred_at=now - timedelta(hours=1),
        source="generated",
        valence=2,
        customer_ref="GEN-1",
        resolves="gen-1",
        summary="Replacement sent next day",
    )
    broken = {**recovery.to_dict(), "external_id": "gen-3", "occurred_at": "yesterday"}
    batch = bulk.sync_detailed(client=client, body=models.BulkRequestRequest(items=[recovery.to_dict(), broken]))
    assert batch.status_code == 200, batch.content
    result = batch.parsed
    assert isinstance(result, models.BulkResponse)
    assert (result.created, result.errors) == (1, 1)
    assert [r.status for r in result.results] == [
        models.BulkItemResultStatusEnum.CREATED,
        models.BulkItemResultStatusEnum.ERROR,
    ]
    assert result.results[1].index == 1
    assert "occurred_at" in result.results[1].errors.additional_properties

    found = listing.sync(client=client, q="generated")
    assert isinstance(found, models.PaginatedCustomerList)
    assert [c.ref for c in found.results] == ["GEN-1"]
    customer_id = found.results[0].id

    deadline = time.monotonic() + 20
    read = memory.sync(client=client, id=customer_id)
    while isinstance(read, models.MemoryDetail) and read.score_as_of is None and time.monotonic() < deadline:
        time.sleep(0.2)
        read = memory.sync(client=client, id=customer_id)
    assert isinstance(read, models.MemoryDetail), read
    assert 0 <= read.score <= 100
    assert read.band in set(models.BandEnum)
    assert read.explanation
    assert {d.interaction for d in read.drivers} <= {first.parsed.id, result.results[0].id}

    denied = listing.sync_detailed(client=stranger)
    assert denied.status_code == 401
    assert isinstance(denied.parsed, models.Error)
    assert denied.parsed.detail
    json.dumps(read.to_dict())  # the generated models round-trip to plain JSON
